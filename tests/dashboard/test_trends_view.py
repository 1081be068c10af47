"""Trends and audit: the page's control limits, signals and before/after comparisons are those
of the query layer and the CLI; suppressed and missing periods are gaps said in words; an
older definition version is drawn beside the current one; both languages render."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from typing import Any

import dash
import numpy as np
import plotly.utils
import pytest
from dash import html
from sqlalchemy import Engine

from dashboard import data, filters, i18n, ids, trends_view
from dashboard.formatting import format_count, format_value, period_label
from dashboard.kpi_view import frame
from etl.operations import quarantine_counts, run_log
from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings
from tests.dashboard.tables import table_rows
from tests.dashboard.test_kpi_view import MONTHS, find, write
from tests.support import run

PAGE = ids.TRENDS


@pytest.fixture(autouse=True)
def dash_app() -> dash.Dash:
    """CSV addresses are relative to the running app's path prefix: any app sets it."""
    return dash.Dash(__name__)


def text_of(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def view_of(engine: Engine, settings: Settings, **params: str) -> filters.View:
    return filters.parse_view(params, settings, trends_view.periods_of(engine, data.data_version(engine)))


# --- against the query layer and the CLI --------------------------------------------------------


@pytest.mark.parametrize("metric", ["on_time_rate", "backlog_open", "satisfied_share", "resolution_days_median"])
def test_control_limits_and_signals_are_the_query_layers(demo_store, metric):
    settings, engine = demo_store
    version = data.data_version(engine)
    mcs = settings.privacy.min_cell_size
    for where in ({}, {"region": settings.regions[0].id}, {"channel": "web"}):
        view = view_of(engine, settings, **where)
        c = trends_view.control_data(frame(engine, settings, metric, view, version))
        dim, value = next(iter(where.items()), (None, None))
        expected, limits = query.control_chart(engine, metric, "month", dim, value, baseline=12, min_cell_size=mcs)
        assert c.limits == limits, (metric, where)
        assert list(c.cells["period"]) == list(expected["period"])
        assert list(c.cells["signals"]) == list(expected["signals"])


def test_rolling_take_up_gets_no_limits_or_before_after_test_where_its_figures_overlap(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    event = trends_view.events(settings)[1]
    month = view_of(engine, settings)
    block = text_of(trends_view.control_block(engine, settings, month, version, "uptake_rate"))
    assert "No control limits or before-and-after test at this period length" in block
    assert "Control limits" not in block and "signal a real change" not in block
    before_after = text_of(trends_view.comparison_block(engine, settings, month, version, "uptake_rate", event))
    assert "No comparison around" in before_after and "Verdict" not in before_after
    # Yearly figures do not overlap: the limits are computed as for any other series.
    year = view_of(engine, settings, grain="year")
    df = frame(engine, settings, "uptake_rate", year, version)
    assert trends_view.control_data(df, CATALOGUE["uptake_rate"].overlaps("year")).limits == trends_view.control_data(
        df).limits
    assert "No control limits" not in text_of(trends_view.control_block(engine, settings, year, version,
                                                                        "uptake_rate"))  # fmt: skip


def test_the_cli_gives_the_same_limits(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    config = settings.base_dir / "config.yaml"
    for metric, where in (("on_time_rate", {}), ("backlog_open", {"region": settings.regions[1].id})):
        args = ["metrics", "control", "--metric", metric]
        if where:
            args += ["--by", "region", "--value", where["region"]]
        first = run(config, *args).output.splitlines()[0]
        c = trends_view.control_data(frame(engine, settings, metric, view_of(engine, settings, **where), version))
        assert c.limits is not None
        assert first.startswith(f"centre {c.limits.centre:.6g}, limits {c.limits.lower:.6g} to {c.limits.upper:.6g}")
        assert f"baseline of {c.limits.baseline_points} periods" in first
        # The page's caption says the same limits in words.
        block = text_of(trends_view.control_block(engine, settings, view_of(engine, settings, **where), version,
                                                  metric))  # fmt: skip
        unit = CATALOGUE[metric].unit
        assert (
            f"Centre line {format_value(c.limits.centre, unit)}; control limits "
            f"{format_value(c.limits.lower, unit)} to {format_value(c.limits.upper, unit)}"
        ) in block


def test_before_after_is_the_query_layers_around_every_event(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    mcs = settings.privacy.min_cell_size
    assert trends_view.events(settings)
    for metric in ("on_time_rate", "cases_opened"):
        for where in ({}, {"region": settings.regions[0].id}):
            view = view_of(engine, settings, **where)
            df = frame(engine, settings, metric, view, version)
            dim, value = next(iter(where.items()), (None, None))
            for event in trends_view.events(settings):
                cmp = trends_view.comparison(df, event)
                expected = query.compare_before_after(engine, metric, event.date, "month", dim, value,
                                                      min_cell_size=mcs)  # fmt: skip
                assert cmp.result == expected, (metric, where, event.date)
                if expected is not None:
                    assert len(cmp.before) == len(cmp.after) == expected.periods
                    assert cmp.before[-1] < event.date <= cmp.after[0] + dt.timedelta(days=31)
    view = view_of(engine, settings)
    event = trends_view.events(settings)[1]
    block = text_of(trends_view.comparison_block(engine, settings, view, version, "on_time_rate", event))
    r = query.compare_before_after(engine, "on_time_rate", event.date, min_cell_size=mcs)
    before, after = format_value(r.before_mean, "proportion"), format_value(r.after_mean, "proportion")
    assert f"Mean before {before}, after {after}" in block
    verdict = "a real change" if r.real_change else "no real change"
    assert f"Verdict: {verdict}" in block


def test_events_outside_the_series_give_no_comparison(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    df = frame(engine, settings, "on_time_rate", view_of(engine, settings), version)
    periods = sorted(df["period"])
    later = settings.annotations[0].model_copy(update={"date": periods[-1] + dt.timedelta(days=400)})
    earlier = settings.annotations[0].model_copy(update={"date": periods[0] - dt.timedelta(days=400)})
    assert trends_view.comparison(df, later).reason == "The event is after the last period in the store."
    assert trends_view.comparison(df, earlier).reason == "Fewer than 2 known periods on one side of the event."
    assert trends_view.event_index(periods, periods[3]) == 3
    assert trends_view.event_index(periods, periods[3] + dt.timedelta(days=5)) == 3


def test_the_whole_series_is_drawn_with_events_and_a_csv_of_every_period(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    view = view_of(engine, settings, **{"from": "2025-01", "to": "2025-06"})
    block = trends_view.control_block(engine, settings, view, version, "on_time_rate")
    text = text_of(block)
    periods = data.periods(engine, "month", version)
    assert f"every period in the store, from {period_label(periods[0], 'month')} to" in text
    assert "whatever the From and To filters say" in text
    csv = find(block, ids.download(PAGE, "control")).href
    assert "metric=on_time_rate" in csv and "from=" not in csv and "to=" not in csv
    figure = find(block, ids.graph(PAGE, "control")).figure
    names = [t.name for t in figure.data]
    assert "Centre line" in names and "Control limits" in names
    labels = [a.text for a in figure.layout.annotations]
    for a in settings.annotations:
        assert a.label.en in labels
    assert len(table_rows(block, ids.table(PAGE, "control"))) == len(periods)


def test_a_breakdown_the_store_lacks_is_said_so(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    view = view_of(engine, settings, channel="web", region=settings.regions[0].id)
    text = text_of(
        html.Div(trends_view.content(engine, settings, view, version, "on_time_rate", settings.annotations[0]))
    )
    assert "is not computed for" in text and "shown as missing, not as zero" in text


def test_the_definition_and_where_the_data_came_from(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    view = view_of(engine, settings)
    text = text_of(trends_view.definition_block(engine, settings, view, version, "on_time_rate"))
    m = CATALOGUE["on_time_rate"]
    assert m.formula in text and "determined cases" in text
    assert "there is no break in the series" in text
    versions = trends_view.definition_versions(engine, "on_time_rate", "month", version)
    assert [v.version for v in versions] == [m.version]
    runs = run_log(engine, trends_view.RUNS)
    rows = trends_view.etl_rows(engine)
    assert len(rows) == len(runs) > 0
    assert [r[1] for r in rows] == list(runs["job"])
    assert [r[3] for r in rows] == [format_count(x) for x in runs["rows_read"]]
    refused = trends_view.quarantine_rows(engine)
    counts = quarantine_counts(engine)
    assert [(r[1], r[2]) for r in refused] == [(x, format_count(n)) for x, n in zip(counts["rule"], counts["rows"],
                                                                                      strict=True)]  # fmt: skip


# --- small stores -------------------------------------------------------------------------------


@pytest.fixture
def gaps(cell_store: Engine) -> tuple[Settings, Engine]:
    """on_time_rate for ten months: May rests on 5 cases (suppressed), July has no cell."""
    settings = Settings.model_validate({"timezone": "Europe/London", "regions": [{"id": "North"}]})
    rows: list[dict[str, Any]] = [{"metric": "cases_opened", "period": p, "value": 100} for p in MONTHS]
    for i, p in enumerate(MONTHS):
        if p.month == 7:
            continue
        rows.append({"metric": "on_time_rate", "period": p, "value": 0.80 + 0.01 * (i % 3),
                     "n": 5 if p.month == 5 else 200, "ci_low": 0.75, "ci_high": 0.85})  # fmt: skip
    write(cell_store, rows)
    return settings, cell_store


def test_suppressed_and_missing_periods_are_gaps_said_in_words(gaps):
    settings, engine = gaps
    version = data.data_version(engine)
    view = view_of(engine, settings)
    block = trends_view.control_block(engine, settings, view, version, "on_time_rate")
    rows = {r[0]: r for r in table_rows(block, ids.table(PAGE, "control"))}
    may, july = period_label(dt.date(2026, 5, 1), "month"), period_label(dt.date(2026, 7, 1), "month")
    assert rows[may][1:4] == ["Suppressed (fewer than 10 cases)", "Suppressed", "Suppressed"]
    assert rows[july][1:4] == ["No figure", "No figure", "No figure"]
    assert rows[period_label(dt.date(2026, 1, 1), "month")][1:3] == ["80.0%", "200"]
    figure = find(block, ids.graph(PAGE, "control")).figure
    line = next(t for t in figure.data if t.name == "Settled within the statutory deadline")
    by_month = dict(zip([str(x)[:7] for x in line.x], line.y, strict=True))
    assert by_month["2026-05"] is None and by_month["2026-07"] is None and by_month["2026-01"] == pytest.approx(0.8)
    caption = text_of(block)
    assert "Suppressed, so left as gaps: May 2026." in caption and "No figure, so left as gaps: Jul 2026." in caption
    # The query layer agrees: May is suppressed and July has no cell.
    cells = query.read_cells(engine, "on_time_rate", min_cell_size=10)
    assert bool(cells.set_index("period").loc[dt.date(2026, 5, 1), "suppressed"])
    assert dt.date(2026, 7, 1) not in set(cells["period"])


def test_an_older_definition_version_is_drawn_beside_the_current_one(cell_store, monkeypatch):
    settings = Settings.model_validate({"timezone": "Europe/London", "regions": [{"id": "North"}]})
    current = CATALOGUE["on_time_rate"]
    old = current.version
    rows = [{"metric": "cases_opened", "period": p, "value": 100} for p in MONTHS]
    # Version 1 was published up to June, then the definition changed.
    rows += [{"metric": "on_time_rate", "period": p, "value": 0.70, "n": 200, "version": old} for p in MONTHS[:6]]
    rows += [{"metric": "on_time_rate", "period": MONTHS[2], "value": 0.7, "n": 4, "version": old,
              "dims": {"region": "North"}}]  # fmt: skip
    monkeypatch.setitem(CATALOGUE, "on_time_rate", replace(current, version=old + 1))
    rows += [{"metric": "on_time_rate", "period": p, "value": 0.85, "n": 200} for p in MONTHS]
    write(cell_store, rows)
    version = data.data_version(cell_store)
    view = view_of(cell_store, settings)
    versions = trends_view.definition_versions(cell_store, "on_time_rate", "month", version)
    assert [(v.version, v.first, v.last) for v in versions] == [
        (old, MONTHS[0], MONTHS[5]),
        (old + 1, MONTHS[0], MONTHS[-1]),
    ]
    block = trends_view.control_block(cell_store, settings, view, version, "on_time_rate")
    figure = find(block, ids.graph(PAGE, "control")).figure
    earlier = next(t for t in figure.data if t.name == f"Version {old} (earlier definition)")
    assert list(earlier.y) == [pytest.approx(0.70)] * 6
    current_line = next(t for t in figure.data if t.name == "Settled within the statutory deadline")
    assert list(current_line.y) == [pytest.approx(0.85)] * len(MONTHS)
    assert f"Version {old} last published" in [a.text for a in figure.layout.annotations]
    text = text_of(block)
    assert f"Definition version {old} was published up to June 2026" in text
    definition = text_of(trends_view.definition_block(cell_store, settings, view, version, "on_time_rate"))
    assert "Earlier: kept as published, no longer refreshed" in definition
    assert "Current: every figure above" in definition
    assert "A changed definition starts a new series" in definition
    # An older version's small figure is suppressed like any other.
    north = trends_view.older_cells(cell_store, settings, "on_time_rate", view_of(cell_store, settings, region="North"),
                                    old)  # fmt: skip
    assert bool(north["suppressed"].iloc[0]) and np.isnan(north["value"].iloc[0])


def test_no_events_configured_is_said(gaps):
    settings, engine = gaps
    version = data.data_version(engine)
    view = view_of(engine, settings)
    event, notes = trends_view.resolve_event(settings, None)
    assert event is None and notes == []
    text = text_of(trends_view.comparison_block(engine, settings, view, version, "on_time_rate", None))
    assert "No events are configured" in text
    layout = text_of(trends_view.trends_layout(engine, settings, "/trends", {}))
    assert "No events configured" in layout


def test_the_layout_follows_the_address_and_both_languages_render(demo_store):
    settings, engine = demo_store
    event = trends_view.events(settings)[0]
    page = text_of(
        trends_view.trends_layout(
            engine, settings, "/trends", {"indicator": "backlog_open", "event": event.date.isoformat()}
        )
    )
    assert '"value": "backlog_open"' in page and f'"value": "{event.date.isoformat()}"' in page
    assert "Open cases (backlog): the whole series with control limits" in page
    assert f"Before and after: {event.label.en}" in page
    bad = text_of(trends_view.trends_layout(engine, settings, "/trends", {"indicator": "x", "event": "1999-01-01"}))
    assert "'x' is not an indicator with a single series" in bad and "'1999-01-01' is not an event here" in bad
    with i18n.use("zh"):
        zh = text_of(trends_view.trends_layout(engine, settings, "/trends", {"event": event.date.isoformat()}))
    assert "趋势与审计" in zh and event.label.zh in zh and "中心线" in zh and "数据来源" in zh
    assert "Centre line" not in zh and "Where the data came from" not in zh
    assert not re.search(r"Before and after", zh)
