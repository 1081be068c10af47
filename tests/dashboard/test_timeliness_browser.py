"""The timeliness page in real headless Chromium, over a store the real CLI built: the figures
shown are the query layer's, and follow the filters and the compare control.

Run with `--headless`; needs chromium and chromedriver on PATH.
"""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from dashboard import ids
from dashboard.app import create_app
from dashboard.formatting import format_value, period_label
from dashboard.labels import value_label
from dashboard.timeliness_view import SURVIVAL_DAYS
from metrics import query
from tests.dashboard.test_timeliness_view import (
    at_end,
    curve_cells,
    expect,
    expect_interval,
    expect_label,
    expect_n,
    stored,
)

pytestmark = pytest.mark.browser

ROWS = """
return Array.from(document.querySelectorAll(arguments[0] + " tbody tr"))
    .map(r => Array.from(r.querySelectorAll("th, td")).map(c => c.textContent.trim()));
"""

PAGE = ids.TIMELY

# The step lines of a chart as Plotly drew them in the page: [name, y values] per line.
LINES = """
const plot = document.querySelector("#" + arguments[0] + " .js-plotly-plot");
if (!plot || !plot.data) return null;
return plot.data.filter(t => t.mode === "lines+markers").map(t => [t.name, Array.from(t.y)]);
"""


def table_rows(dash_duo, name: str) -> list[list[str]]:
    """The rows of a block's table as the page has them, read in one step (the table is
    redrawn as filters change, and folded away in a <details>, so its text is read whatever
    is on screen)."""
    return dash_duo.driver.execute_script(ROWS, f"#{ids.table(PAGE, name)}")


def wait_for_rows(dash_duo, name: str, expected: list[list[str]], timeout: int = 30) -> None:
    try:
        WebDriverWait(dash_duo.driver, timeout).until(lambda _d: table_rows(dash_duo, name) == expected)
    except Exception:  # show what the page has instead of a bare timeout
        assert table_rows(dash_duo, name) == expected
        raise


def drawn_lines(dash_duo, name: str) -> dict[str, list[float | None]] | None:
    lines = dash_duo.driver.execute_script(LINES, ids.graph(PAGE, name))
    return None if lines is None else {n: y for n, y in lines}


def curve_values(cells: dict[int, dict]) -> list[float | None]:
    """A curve's points as the chart must draw them: the value, or a gap (never 0)."""
    return [None if cells.get(d) is None or cells[d]["suppressed"] or pd.isna(cells[d]["value"])
            else float(cells[d]["value"]) for d in SURVIVAL_DAYS]  # fmt: skip


def on_time_expected(engine, periods, where: dict[str, str]) -> list[list[str]]:
    cells = stored(engine, "on_time_rate", tuple(sorted(where)), "month", where)
    out = []
    for p in periods:
        c = cells.get(p)
        note = "No note"
        if c is not None and not c["suppressed"] and not pd.isna(c["value"]) and isinstance(c["note"], str):
            note = c["note"][:1].upper() + c["note"][1:]
        out.append([period_label(p, "month"), expect(c, "proportion"), expect_interval(c, "proportion"),
                    expect_n(c), note])  # fmt: skip
    return out


def test_timeliness_figures_follow_the_filters(dash_duo, demo_store):
    settings, engine = demo_store
    periods = query.periods(engine, "month")[-36:]
    end = periods[-1]
    dash_duo.start_server(create_app(settings, engine))
    dash_duo.wait_for_page(dash_duo.server_url + "/timeliness")
    dash_duo.wait_for_element(f"#{ids.table(PAGE, 'on-time')}", timeout=30)

    # Everyone: the on-time table and caption are the query layer's figures.
    wait_for_rows(dash_duo, "on-time", on_time_expected(engine, periods, {}))
    whole = stored(engine, "on_time_rate")[end]
    caption = dash_duo.find_element(f"#{ids.block(PAGE, 'on-time')} figcaption").text
    assert (
        f"Settled within the statutory deadline, {period_label(end, 'month')}: "
        f"{format_value(whole['value'], 'proportion')}, based on {int(whole['n']):,} cases"
    ) in caption
    # One h1, headings in order, every control labelled.
    driver = dash_duo.driver
    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "#main h1, #main h2, #main h3")]
    assert levels[0] == 1 and levels.count(1) == 1 and all(b - a <= 1 for a, b in pairwise(levels)), levels
    for select in driver.find_elements(By.CSS_SELECTOR, "#main select"):
        assert driver.find_elements(By.CSS_SELECTOR, f'label[for="{select.get_attribute("id")}"]')

    # A region: every figure follows, and the address with it.
    region = next(r.id for r in settings.regions
                  if (c := stored(engine, "on_time_rate", ("region",), "month", {"region": r.id}).get(end))
                  and not c["suppressed"] and c["value"] != whole["value"])  # fmt: skip
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(region)
    wait_for_rows(dash_duo, "on-time", on_time_expected(engine, periods, {"region": region}))
    median = stored(engine, "resolution_days_median", ("region",), "month", {"region": region})
    assert [r[1] for r in table_rows(dash_duo, "resolution")] == [expect(median.get(p), "days") for p in periods]
    # The curves drawn are the query layer's points: everyone's, and the chosen region's, marked.
    chosen = f"{value_label(settings, 'region', region)} (selected)"
    want = {"Everyone": curve_values(curve_cells(engine, (), end)[None]),
            chosen: curve_values(curve_cells(engine, ("region",), end)[region])}  # fmt: skip
    WebDriverWait(driver, 30).until(lambda _d: chosen in (drawn_lines(dash_duo, "survival") or {}))
    drawn = drawn_lines(dash_duo, "survival")
    assert drawn is not None and {k: drawn[k] for k in want} == want
    assert any(v is not None for v in want[chosen]), "the chosen region's curve should have points to compare"
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert f"region={region.replace(' ', '+')}" in link and "by=region" in link
    WebDriverWait(driver, 10).until(lambda d: d.current_url == link)
    # Compared by region with a region chosen: every region, the chosen one marked.
    labels = [r[0] for r in table_rows(dash_duo, "compare")]
    assert labels[0] == "Everyone" and f"{value_label(settings, 'region', region)} (selected)" in " ".join(labels)

    # Compare by channel: the store has no channels within a region, and says so.
    Select(dash_duo.find_element(f"#{ids.control(PAGE, 'by')}")).select_by_value("channel")
    dash_duo.wait_for_contains_text(f"#{ids.table(PAGE, 'compare')}", "Not computed for this combination",
                                    timeout=30)  # fmt: skip

    # Back to all regions: the channels side by side, as the query layer has them.
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(ids.ALL)
    median, on_time = at_end(engine, "resolution_days_median", "channel", end), at_end(engine, "on_time_rate",
                                                                                     "channel", end)  # fmt: skip
    expected = [[expect_label(value_label(settings, "channel", c), [median.get(c), on_time.get(c)]),
                 expect(median.get(c), "days"), expect_interval(median.get(c), "days"), expect_n(median.get(c)),
                 expect(on_time.get(c), "proportion"), expect_interval(on_time.get(c), "proportion"),
                 expect_n(on_time.get(c))] for c in settings.channels]  # fmt: skip
    WebDriverWait(driver, 30).until(lambda _d: table_rows(dash_duo, "compare")[1:] == expected)
    assert "by=channel" in dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")

    assert dash_duo.get_logs() == []
