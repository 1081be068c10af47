"""The login in real headless Chromium: the login page passes axe (WCAG 2.2 AA) in English
and Chinese, the Secure session cookie works on http://localhost, and every page then runs
under the content security policy with no violation in the browser's console."""

from __future__ import annotations

import dash
import pytest
from selenium.webdriver.common.by import By

from dashboard.app import create_app
from metrics.config import AuthSettings
from tests.dashboard.auth_support import PASSWORD, SECRET, add_accounts
from tests.dashboard.test_accessibility import AXE, _describe, _violations

pytestmark = pytest.mark.browser


@pytest.fixture
def secured(demo_store):  # type: ignore[no-untyped-def]
    settings, engine = demo_store
    add_accounts(engine)
    return create_app(settings.model_copy(update={"auth": AuthSettings()}), engine, secret_key=SECRET)


@pytest.mark.skipif(not AXE.exists(), reason=f"axe-core is not installed at {AXE} (make test installs it with npm)")
def test_the_login_page_passes_axe_in_both_languages(dash_duo, secured):
    dash_duo.start_server(secured, navigate=False)  # "/" answers with the login page, not Dash
    dash_duo.driver.set_script_timeout(60)
    failures = {}
    for lang, title in (("en", "Sign in"), ("zh", "登录")):
        dash_duo.driver.get(f"{dash_duo.server.url}/login?lang={lang}")
        dash_duo.wait_for_text_to_equal("h1", title, timeout=20)
        assert dash_duo.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
        if found := _violations(dash_duo.driver):
            failures[lang] = _describe(found)
    assert not failures, "\n".join(f"/login in {k}:\n{v}" for k, v in failures.items())


def test_login_then_every_page_under_the_policy(dash_duo, secured):
    dash_duo.start_server(secured, navigate=False)
    driver, url = dash_duo.driver, dash_duo.server.url
    driver.get(f"{url}/kpi")  # asks for the login first, then comes back here
    dash_duo.wait_for_element("#username", timeout=20)
    driver.find_element(By.ID, "username").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    dash_duo.wait_for_element("#main h1", timeout=30)
    assert driver.current_url.endswith("/kpi")
    assert driver.get_cookie("civic_session")["secure"] is True
    for page in dash.page_registry.values():
        dash_duo.wait_for_page(f"{url}{page['relative_path']}")
        dash_duo.wait_for_element("#main h1", timeout=30)
    logs = dash_duo.get_logs() or []
    assert not [entry for entry in logs if "Content Security Policy" in entry.get("message", "")], logs
    assert logs == [], logs
    dash_duo.wait_for_element("#nav-logout").click()
    dash_duo.wait_for_element("#username", timeout=20)
