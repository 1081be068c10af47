"""The KPI tracker in real headless Chromium, over a store the real CLI built.

The grid shows the query layer's figures; a row chosen with the mouse or the keyboard breaks
its indicator down; a filter redraws the grid with the figures of the new slice.
Run with `--headless`; needs chromium and chromedriver on PATH.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from dashboard import data, filters, ids, kpi_view
from dashboard.app import create_app
from dashboard.formatting import format_value, period_label
from metrics import query

pytestmark = pytest.mark.browser

PAGE = ids.KPI
DRILL_TITLE = f"#{ids.block(PAGE, 'drill')}-title"


def cell(row: str, col: str) -> str:
    return f'#{kpi_view.GRID} .ag-row[row-id="{row}"] .ag-cell[col-id="{col}"]'


def figure(engine, settings, metric: str, by: tuple[str, ...] = (), where: dict[str, str] | None = None) -> str:
    """The newest month's value of one slice, straight from the query layer, as the page writes it."""
    df = query.read_cells(engine, metric, by=by, min_cell_size=settings.privacy.min_cell_size)
    for k, v in (where or {}).items():
        df = df[df["dims"].map(lambda d, k=k, v=v: d.get(k) == v)]
    row = df[df["period"] == df["period"].max()].iloc[0].to_dict()
    if row["suppressed"]:
        return kpi_view.value_words(row, "proportion", settings.privacy.min_cell_size)  # "Suppressed (...)"
    return format_value(row["value"], "proportion")


def drill_rows(dash_duo) -> list[list[str]]:
    table = dash_duo.find_element(f"#{ids.table(PAGE, 'drill')}")
    return [[c.get_attribute("textContent").strip() for c in tr.find_elements(By.CSS_SELECTOR, "th, td")]
            for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]  # fmt: skip


def test_kpi_grid_drill_down_and_filters(dash_duo, demo_store):
    settings, engine = demo_store
    app = create_app(settings, engine)
    version = data.data_version(engine)
    latest = data.periods(engine, "month", version)[-1]
    dash_duo.start_server(app)
    dash_duo.wait_for_page(dash_duo.server_url + "/kpi")
    dash_duo.wait_for_element(cell("on_time_rate", "value"), timeout=30)

    # The grid shows what the query layer gives, status in words beside a shape.
    assert dash_duo.find_element(cell("on_time_rate", "value")).text == figure(engine, settings, "on_time_rate")
    assert dash_duo.find_element(cell("satisfied_share", "value")).text == figure(engine, settings, "satisfied_share")
    status = dash_duo.find_element(cell("on_time_rate", "status")).text
    assert (status[0] in "✔▲✖○" and status[2:] in ("On track", "At risk", "Off track")) or "No status" in status
    # The grid element is named by its section's heading.
    dash_duo.wait_for_element(f'#{kpi_view.GRID_WRAP} [role="grid"][aria-labelledby="{kpi_view.GRID_LABEL}"]',
                              timeout=10)  # fmt: skip
    driver = dash_duo.driver
    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
    assert levels.count(1) == 1 and all(b - a <= 1 for a, b in pairwise(levels)), levels
    dash_duo.wait_for_contains_text(f"#{ids.block(PAGE, 'alerts')}", "off track", timeout=10)

    # Clicking a row breaks that indicator down, worst slice first.
    dash_duo.find_element(cell("satisfied_share", "indicator")).click()
    month = period_label(latest, "month")
    dash_duo.wait_for_text_to_equal(DRILL_TITLE, f"Satisfied residents by region, {month}", timeout=15)
    view = filters.parse_view({}, settings, kpi_view.periods_of(engine, version))
    expected = kpi_view.drill_data(engine, settings, view, version, "satisfied_share", "region")
    assert [r[:2] for r in drill_rows(dash_duo)] == [[r["label"], r["value_text"]] for r in expected.rows]
    assert (
        Select(dash_duo.find_element(f"#{kpi_view.INDICATOR}")).first_selected_option.get_attribute("value")
        == "satisfied_share"
    )

    # The keyboard does the same: move up a row and press Space.
    focused = dash_duo.find_element(cell("satisfied_share", "value"))
    focused.click()
    driver.switch_to.active_element.send_keys(Keys.ARROW_UP)
    driver.switch_to.active_element.send_keys(Keys.SPACE)
    dash_duo.wait_for_text_to_equal(DRILL_TITLE, f"Median days to resolve by region, {month}", timeout=15)

    # Another dimension to break down by.
    Select(dash_duo.find_element(f"#{kpi_view.DRILL}")).select_by_value("channel")
    dash_duo.wait_for_text_to_equal(DRILL_TITLE, f"Median days to resolve by channel, {month}", timeout=15)

    # A region filter redraws the grid with that region's figures from the query layer.
    region = settings.regions[2].id
    expected_value = figure(engine, settings, "on_time_rate", ("region",), {"region": region})
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(region)
    dash_duo.wait_for_text_to_equal(cell("on_time_rate", "value"), expected_value, timeout=20)
    assert dash_duo.find_element(cell("satisfied_share", "value")).text == figure(
        engine, settings, "satisfied_share", ("region",), {"region": region}
    )
    # The drill-down follows the filter: the store has no region × channel breakdown, so it says so.
    dash_duo.wait_for_contains_text(f"#{ids.block(PAGE, 'drill')}", "is not computed for Channel × Region together",
                                    timeout=15)  # fmt: skip
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert f"region={region.replace(' ', '+')}" in link and "drill=channel" in link
    assert "indicator=resolution_days_median" in link

    assert dash_duo.get_logs() == []
