"""Screenshots of every dashboard page for the docs, from a running dashboard.

    civic-metrics --config C serve &    # C: a refreshed store with `auth: {required: false}`
    python docs/screenshots.py http://127.0.0.1:8050 docs/screenshots

Opens each page of the navigation bar in headless Chromium (1400 px wide), waits until the
page has settled, and saves `<page>.png` (its first 2,000 pixels) into the folder; with
`--lang zh` the Chinese pages (Chinese text needs a CJK font such as Debian's fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard import browser, render_seconds

# The first screens of a page: enough to show what it is, small enough to keep in the repository.
MAX_HEIGHT = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="address of the running dashboard")
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        driver.get(f"{args.base}/?lang={args.lang}")
        time.sleep(2)
        paths = driver.execute_script(
            "return Array.from(document.querySelectorAll('header nav a.nav-link')).map(a => a.getAttribute('href'));"
        )
        paths = [p for p in paths if not p.startswith("/lang/")]
        for path in paths:
            render_seconds(driver, f"{args.base}{path}?lang={args.lang}")
            height = driver.execute_script("return document.body.scrollHeight;")
            driver.set_window_size(1400, min(int(height) + 40, MAX_HEIGHT))
            time.sleep(0.5)
            name = (path.strip("/") or "overview") + ("" if args.lang == "en" else f"-{args.lang}")
            driver.save_screenshot(str(args.out / f"{name}.png"))
            driver.set_window_size(1400, 1000)
            print(args.out / f"{name}.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
