"""Trends and audit in real headless Chromium, over a store the real CLI built: the control
limits and before/after figures shown are the query layer's, and follow the filters.
Run with `--headless`; needs chromium and chromedriver on PATH.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select

from dashboard import ids, trends_view
from dashboard.app import create_app
from dashboard.formatting import format_value
from metrics import query
from metrics.catalogue import CATALOGUE

pytestmark = pytest.mark.browser

PAGE = ids.TRENDS
CONTROL = f"#{ids.block(PAGE, 'control')} .chart-caption"
BEFORE_AFTER = f"#{ids.block(PAGE, 'before-after')} .chart-caption"


def limits_text(engine, settings, metric: str, dim: str | None = None, value: str | None = None) -> str:
    """The limits sentence, from `metrics.query.control_chart` (what `metrics control` prints)."""
    _df, limits = query.control_chart(engine, metric, "month", dim, value, baseline=12,
                                      min_cell_size=settings.privacy.min_cell_size)  # fmt: skip
    unit = CATALOGUE[metric].unit
    return (f"Centre line {format_value(limits.centre, unit)}; control limits {format_value(limits.lower, unit)} to "
            f"{format_value(limits.upper, unit)}")  # fmt: skip


def means_text(engine, settings, metric: str, event, dim: str | None = None, value: str | None = None) -> str:
    r = query.compare_before_after(engine, metric, event, "month", dim, value,
                                   min_cell_size=settings.privacy.min_cell_size)  # fmt: skip
    unit = CATALOGUE[metric].unit
    return f"Mean before {format_value(r.before_mean, unit)}, after {format_value(r.after_mean, unit)}"


def test_trends_follow_the_indicator_the_filters_and_the_event(dash_duo, demo_store):
    settings, engine = demo_store
    dash_duo.start_server(create_app(settings, engine))
    dash_duo.wait_for_page(dash_duo.server_url + "/trends?indicator=on_time_rate")
    dash_duo.wait_for_element(CONTROL, timeout=30)
    events = trends_view.events(settings)
    newest = events[-1].date

    assert limits_text(engine, settings, "on_time_rate") in dash_duo.find_element(CONTROL).text
    assert means_text(engine, settings, "on_time_rate", newest) in dash_duo.find_element(BEFORE_AFTER).text
    for a in settings.annotations:  # every event is labelled on the chart, in the reader's language
        # The chart draws after Plotly's script has loaded: wait for its text, not just its element.
        dash_duo.wait_for_contains_text(f"#{ids.graph(PAGE, 'control')}", a.label.en, timeout=30)

    # A region: that region's series, limits and comparison (one with enough known months).
    mcs = settings.privacy.min_cell_size
    region = next(
        r.id
        for r in settings.regions
        if all(
            query.compare_before_after(engine, m, e.date, "month", "region", r.id, min_cell_size=mcs) is not None
            for m in ("on_time_rate", "backlog_open")
            for e in events
        )
    )
    Select(dash_duo.find_element(f"#{ids.filter_id(PAGE, 'region')}")).select_by_value(region)
    dash_duo.wait_for_contains_text(CONTROL, limits_text(engine, settings, "on_time_rate", "region", region),
                                    timeout=20)  # fmt: skip
    assert (
        means_text(engine, settings, "on_time_rate", newest, "region", region)
        in dash_duo.find_element(BEFORE_AFTER).text
    )

    # Another indicator, then another event.
    Select(dash_duo.find_element(f"#{trends_view.INDICATOR}")).select_by_value("backlog_open")
    dash_duo.wait_for_contains_text(CONTROL, limits_text(engine, settings, "backlog_open", "region", region),
                                    timeout=20)  # fmt: skip
    first = events[0]
    Select(dash_duo.find_element(f"#{trends_view.EVENT}")).select_by_value(first.date.isoformat())
    dash_duo.wait_for_contains_text(BEFORE_AFTER, means_text(engine, settings, "backlog_open", first.date, "region",
                                                             region), timeout=20)  # fmt: skip
    dash_duo.wait_for_contains_text(f"#{ids.block(PAGE, 'before-after')}-title", first.label.en, timeout=5)
    link = dash_duo.find_element(f"#{ids.filter_id(PAGE, 'link')}").get_attribute("href")
    assert "indicator=backlog_open" in link and f"event={first.date.isoformat()}" in link
    # The run log is on the page.
    assert dash_duo.find_element(f"#{ids.table(PAGE, 'etl-runs')}").text.count("succeeded") >= 3

    assert dash_duo.get_logs() == []
