"""The experience and joined-up working page in real headless Chromium, over a store the real
CLI built: the figures shown are the query layer's and follow the filters.

Run with `--headless`; needs chromium and chromedriver on PATH.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select, WebDriverWait

from dashboard import ids
from dashboard.app import create_app
from dashboard.formatting import period_label
from metrics import query
from tests.dashboard.test_timeliness_view import at_end, expect, expect_interval, expect_n, stored

pytestmark = pytest.mark.browser

ROWS = """
return Array.from(document.querySelectorAll(arguments[0] + " tbody tr"))
    .map(r => Array.from(r.querySelectorAll("th, td")).map(c => c.textContent.trim()));
"""

PAGE = ids.EXPERIENCE


def table_rows(dash_duo, name: str) -> list[list[str]]:
    """The rows of a block's table as the page has them, read in one step (the table is
    redrawn as filters change, and folded away in a <details>, so its text is read whatever
    is on screen)."""
    return dash_duo.driver.execute_script(ROWS, f"#{ids.table(PAGE, name)}")


def trend_expected(engine, metric: str, unit: str, periods, where: dict[str, str]) -> list[list[str]]:
    cells = stored(engine, metric, tuple(sorted(where)), "month", where)
    return [[period_label(p, "month"), expect(cells.get(p), unit), expect_interval(cells.get(p), unit),
             expect_n(cells.get(p))] for p in periods]  # fmt: skip


def wait_for_rows(dash_duo, name: str, expected: list[list[str]], timeout: int = 30) -> None:
    try:
        WebDriverWait(dash_duo.driver, timeout).until(lambda _d: table_rows(dash_duo, name) == expected)
    except Exception:  # show what the page has instead of a bare timeout
        assert table_rows(dash_duo, name) == expected
        raise


def test_experience_figures_follow_the_filters(dash_duo, demo_store):
    settings, engine = demo_store
    periods = query.periods(engine, "month")[-36:]
    end = periods[-1]
    dash_duo.start_server(create_app(settings, engine))
    dash_duo.wait_for_page(dash_duo.server_url + "/experience")
    dash_duo.wait_for_element(f"#{ids.table(PAGE, 'satisfied-share')}", timeout=30)

    wait_for_rows(dash_duo, "satisfied-share", trend_expected(engine, "satisfied_share", "proportion", periods, {}))
    ratings = at_end(engine, "rating_share", "rating", end)
    assert table_rows(dash_duo, "ratings") == [
        [f"{s} out of 5", expect(ratings.get(s), "proportion"), expect_interval(ratings.get(s), "proportion"),
         expect_n(ratings.get(s))] for s in "12345"]  # fmt: skip
    assert len(table_rows(dash_duo, "departments")) == 1 + len({s.department for s in settings.services.values()})

    # A channel: the trends follow; what the store holds for everyone only says so.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'channel')}")).select_by_value("web")
    where = {"channel": "web"}
    wait_for_rows(dash_duo, "satisfied-share", trend_expected(engine, "satisfied_share", "proportion", periods, where))
    assert table_rows(dash_duo, "handoff-rate") == trend_expected(engine, "handoff_rate", "proportion", periods, where)
    assert table_rows(dash_duo, "repeat-contact") == trend_expected(engine, "repeat_contact_rate", "proportion",
                                                                    periods, where)  # fmt: skip
    for name in ("ratings", "departments"):
        text = dash_duo.find_element(f"#{ids.table(PAGE, name)}").text
        assert text.startswith("Not computed for this combination"), (name, text)
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert "channel=web" in link

    # A later grain: quarters, the newest 12.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'grain')}")).select_by_value("quarter")
    quarters = query.periods(engine, "quarter")[-12:]
    cells = stored(engine, "reopen_rate", ("channel",), "quarter", where)
    expected = [[period_label(p, "quarter"), expect(cells.get(p), "proportion"),
                 expect_interval(cells.get(p), "proportion"), expect_n(cells.get(p))] for p in quarters]  # fmt: skip
    wait_for_rows(dash_duo, "reopen", expected)

    assert dash_duo.get_logs() == []
