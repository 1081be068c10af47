"""The equal-service page in real headless Chromium, over a store the real CLI built: the
figures it shows are the query layer's, and change with the filters.

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
from dashboard.formatting import period_label
from dashboard.labels import value_label
from metrics import query
from tests.dashboard.test_equal_service_view import expected_text

pytestmark = pytest.mark.browser

PAGE = ids.EQUAL
PATH = "/equal-service"


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


def coverage(engine: Any, by: tuple[str, ...]) -> pd.DataFrame:
    return query.read_cells(engine, "coverage_per_1000", by, "month", min_cell_size=10)


def expected_rows(df: pd.DataFrame, dim: str, values: list[str], period: Any) -> list[str]:
    cells = {d[dim]: r for d, r in zip(df["dims"], df.to_dict("records"), strict=True) if r["period"] == period}
    return [expected_text(cells.get(v), "per_1000") for v in values]


def test_equal_service_page_follows_its_filters(dash_duo, demo_store):
    settings, engine = demo_store
    app = create_app(settings, engine)
    settings = state.settings()
    end = query.periods(engine, "month")[-1]
    regions = [r.id for r in settings.regions]
    dash_duo.start_server(app)
    dash_duo.wait_for_page(dash_duo.server_url + PATH)
    dash_duo.wait_for_element(f"#{ids.table(PAGE, 'region-bars')}", timeout=30)

    # The regions' figures for the newest month are the query layer's.
    by_region = coverage(engine, ("region",))
    shown = table_rows(dash_duo, "region-bars")
    assert [r[0] for r in shown] == [value_label(settings, "region", r) for r in regions]
    assert [r[1] for r in shown] == expected_rows(by_region, "region", regions, end)
    assert text(dash_duo, f"#{ids.block(PAGE, 'region-bars')}-title") == (
        f"Cases per 1,000 residents by region, {period_label(end, 'month')}"
    )
    ages = list(settings.groups["age_band"].values)
    assert [r[1] for r in table_rows(dash_duo, "group-bars")] == expected_rows(
        coverage(engine, ("age_band",)), "age_band", ages, end
    )
    assert dash_duo.find_element(f"#{ids.graph(PAGE, 'region-bars')} .main-svg")

    # The page's structure: one h1, headings in order, every select labelled.
    driver = dash_duo.driver
    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels
    for select in driver.find_elements(By.TAG_NAME, "select"):
        assert driver.find_elements(By.CSS_SELECTOR, f'label[for="{select.get_attribute("id")}"]')

    # Another population-group attribute: the group charts follow it.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'group')}")).select_by_value("sex")
    sexes = list(settings.groups["sex"].values)
    expected = expected_rows(coverage(engine, ("sex",)), "sex", sexes, end)
    dash_duo.wait_for_text_to_equal(
        f"#{ids.block(PAGE, 'group-bars')}-title",
        f"Cases per 1,000 residents by sex, {period_label(end, 'month')}",
        timeout=20,
    )
    assert [r[0] for r in table_rows(dash_duo, "group-bars")] == sexes
    assert [r[1] for r in table_rows(dash_duo, "group-bars")] == expected
    gaps = {r[0]: r[-1] for r in table_rows(dash_duo, "group-gaps")}
    assert gaps[settings.groups["sex"].reference] == "Reference group"

    # One region: the trend is that region's series, and region by group is said not to be computed.
    region = regions[0]
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(region)
    dash_duo.wait_for_text_to_equal(
        f"#{ids.block(PAGE, 'coverage-trend')}-title", f"Cases per 1,000 residents over time: {region}", timeout=20
    )
    periods = query.periods(engine, "month")[-36:]
    series = {r["period"]: r for r in by_region.to_dict("records") if r["dims"]["region"] == region}
    assert [r[1] for r in table_rows(dash_duo, "coverage-trend")] == [
        expected_text(series.get(p), "per_1000") for p in reversed(periods)
    ]
    assert "Not computed for this combination" in text(dash_duo, f"#{ids.block(PAGE, 'group-bars')}")
    labels = text(dash_duo, f"#{ids.graph(PAGE, 'region-bars')}")
    assert f"{region} (selected)" in labels or "not drawn" in text(dash_duo, f"#{ids.block(PAGE, 'region-bars')}")
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert f"region={region}" in link and "group=sex" in link
    until(lambda: driver.current_url == link, timeout=10, msg="the address bar follows the filters")

    # The address reproduces the view.
    dash_duo.wait_for_page(link)
    dash_duo.wait_for_text_to_equal(
        f"#{ids.block(PAGE, 'coverage-trend')}-title", f"Cases per 1,000 residents over time: {region}", timeout=20
    )
    assert (
        Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).first_selected_option.get_attribute("value")
        == region
    )

    # In Chinese.
    dash_duo.wait_for_page(dash_duo.server_url + PATH + "?lang=zh")
    dash_duo.wait_for_text_to_equal("h1", "平等服务", timeout=20)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh"
    assert "按地区" in text(dash_duo, f"#{ids.content(PAGE)}")
    assert dash_duo.get_logs() == []
