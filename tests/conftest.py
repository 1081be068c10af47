"""Options for the headless Chromium that dash.testing drives (the `browser` tests).

Chromium refuses to start as root without --no-sandbox; the other switches keep it from
reaching the network or the disk for anything but the app under test.
"""

from selenium.webdriver.chrome.options import Options


def pytest_setup_options():
    options = Options()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    return options
