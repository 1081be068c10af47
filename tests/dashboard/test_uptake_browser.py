"""The rights-uptake page in real headless Chromium, over a store the real CLI built: the
figures it shows are the query layer's, and change with the programme and region filters.

Run with `--headless`; needs chromium and chromedriver on PATH.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pandas as pd
import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard import ids, state
from dashboard.app import create_app
from dashboard.formatting import format_value, period_label
from dashboard.labels import value_label
from metrics import query
from tests.dashboard.test_equal_service_view import expected_text

pytestmark = pytest.mark.browser

PAGE = ids.UPTAKE
PATH = "/rights-uptake"
PROGRAMMES = ("housing_benefit", "child_benefit", "pension_credit", "disability_allowance")


def table_rows(dash_duo: Any, name: str) -> list[list[str]]:
    """A block's table as text, read from the DOM in one round trip (also while its <details>
    is closed, when Selenium's `.text` would be empty)."""
    dash_duo.wait_for_element(f"#{ids.table(PAGE, name)} tbody", timeout=20)
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(tr => Array.from(tr.querySelectorAll('th, td')).map(c => c.textContent));",
        f"#{ids.table(PAGE, name)}",
    )


def text(dash_duo: Any, selector: str) -> str:
    return dash_duo.find_element(selector).get_attribute("textContent")


def read(engine: Any, metric: str, by: tuple[str, ...] = ()) -> pd.DataFrame:
    return query.read_cells(engine, metric, by, "month", min_cell_size=10)


def at(df: pd.DataFrame, period: Any, **dims: str) -> dict[str, Any] | None:
    found = [r for r in df.to_dict("records") if r["period"] == period and r["dims"] == dims]
    return found[0] if found else None


def sentence(cell: dict[str, Any], programme: str | None, period: str, where: str = "") -> str:
    """The headline's words: for one programme, or (None) summed over all programmes, where
    eligible people are counted once per programme: entitlements."""
    n = format_value(cell["value"], "count")
    if programme is None:
        first = (f"About {n} entitlements{where} went unclaimed in the 12 months to {period}, across all programmes "
                 "(a person eligible for two programmes counts twice).")  # fmt: skip
    else:
        first = f"About {n} people eligible for {programme}{where} did not claim it in the 12 months to {period}."
    return (
        f"{first} Between {format_value(cell['ci_low'], 'count')} and "
        f"{format_value(cell['ci_high'], 'count')}, from the low and high estimates of eligible people."
    )


def test_uptake_page_follows_its_filters(dash_duo, demo_store):
    settings, engine = demo_store
    app = create_app(settings, engine)
    settings = state.settings()
    end = query.periods(engine, "month")[-1]
    month = period_label(end, "month")
    dash_duo.start_server(app)
    dash_duo.wait_for_page(dash_duo.server_url + PATH)
    headline = f"#{ids.block(PAGE, 'headline')}-unclaimed"
    dash_duo.wait_for_element(headline, timeout=30)

    # Everyone, all programmes: the query layer's figures, in plain words.
    unclaimed = read(engine, "unclaimed_estimate")
    assert text(dash_duo, headline) == sentence(at(unclaimed, end), None, month)
    by_programme = read(engine, "uptake_rate", ("service",))
    shown = table_rows(dash_duo, "programme-uptake")
    assert [r[0] for r in shown] == [value_label(settings, "service", p) for p in PROGRAMMES]
    assert [r[1] for r in shown] == [expected_text(at(by_programme, end, service=p), "proportion") for p in PROGRAMMES]
    by_region = read(engine, "unclaimed_estimate", ("region",))
    assert [r[1] for r in table_rows(dash_duo, "region-unclaimed")] == [
        expected_text(at(by_region, end, region=r.id), "count") for r in settings.regions
    ]
    # Only programmes to choose from.
    options = [o.get_attribute("value") for o in Select(
        dash_duo.find_element(f"#{ids.filter_id(PAGE, 'service')}")).options]  # fmt: skip
    assert [v for v in options if v] == [ids.ALL, *PROGRAMMES]  # dbc.Select adds an empty placeholder

    driver = dash_duo.driver
    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels

    # One programme: its own figures, everywhere they exist.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'service')}")).select_by_value("child_benefit")
    child = at(read(engine, "unclaimed_estimate", ("service",)), end, service="child_benefit")
    dash_duo.wait_for_text_to_equal(headline, sentence(child, "Child benefit", month), timeout=20)
    uptake = at(by_programme, end, service="child_benefit")
    assert text(dash_duo, f"#{ids.block(PAGE, 'headline')}-uptake").startswith(
        f"{format_value(uptake['value'], 'proportion')} of the "
    )
    periods = query.periods(engine, "month")[-36:]
    assert [r[1] for r in table_rows(dash_duo, "uptake-trend")] == [
        expected_text(at(by_programme, p, service="child_benefit"), "proportion") for p in reversed(periods)
    ]
    assert "Not computed for this combination" in text(dash_duo, f"#{ids.block(PAGE, 'region-uptake')}")
    assert "Child benefit (selected)" in text(dash_duo, f"#{ids.graph(PAGE, 'programme-uptake')}")

    # Back to all programmes, one region.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'service')}")).select_by_value(ids.ALL)
    region = next(r.id for r in settings.regions if (c := at(by_region, end, region=r.id)) and not c["suppressed"])
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(region)
    expected = sentence(at(by_region, end, region=region), None, month, f" ({region})")
    dash_duo.wait_for_text_to_equal(headline, expected, timeout=20)
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert f"region={region}" in link
    until(lambda: driver.current_url == link, timeout=10, msg="the address bar follows the filters")

    # In Chinese.
    dash_duo.wait_for_page(dash_duo.server_url + PATH + "?lang=zh&service=child_benefit")
    dash_duo.wait_for_text_to_equal("h1", "权益领取", timeout=20)
    assert "儿童福利金" in text(dash_duo, headline) and "约有" in text(dash_duo, headline)
    assert dash_duo.get_logs() == []
