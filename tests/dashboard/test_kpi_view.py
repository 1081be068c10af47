"""The KPI tracker's pure builders against figures computed independently from the query layer.

The demo store (built by the real CLI) checks every row of the grid, the drill-down and the
alerts against `metrics.query.read_cells` and `metrics.targets.status`; small stores written
cell by cell check that suppressed and missing figures are said as such, never as 0, and
that an indicator crossing its threshold raises an alert.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import dash
import numpy as np
import plotly.utils
import pytest
from sqlalchemy import Engine, insert

from dashboard import data, filters, i18n, ids, kpi_view
from dashboard.formatting import format_change, format_count, format_value, period_label
from dashboard.labels import metric_name, value_label
from dashboard.tiles import STATUS_LABELS, target_for
from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings
from metrics.control import signals, xmr_limits
from metrics.store.models import MetricCell, RefreshRun
from metrics.targets import status
from tests.dashboard.tables import table_rows

AS_OF = dt.datetime(2026, 10, 31, 18, 0)
MONTHS = [dt.date(2026, m, 1) for m in range(1, 11)]


@pytest.fixture(autouse=True)
def dash_app() -> dash.Dash:
    """CSV addresses are relative to the running app's path prefix: any app sets it."""
    return dash.Dash(__name__)


def text_of(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def find(component: Any, wanted: str) -> Any:
    """The component with id `wanted` in a tree (None when absent)."""
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            hit = find(child, wanted)
            if hit is not None:
                return hit
    return None


def view_of(engine: Engine, settings: Settings, **params: str) -> filters.View:
    version = data.data_version(engine)
    return filters.parse_view(params, settings, kpi_view.periods_of(engine, version))


def read(engine: Engine, settings: Settings, metric: str, by: tuple[str, ...] = ()) -> dict[Any, dict]:
    """{(period, dims_key): record} straight from the query layer."""
    across = "region" if CATALOGUE[metric].is_across else ""
    df = query.read_cells(engine, metric, by=by, min_cell_size=settings.privacy.min_cell_size, across=across)
    return {(r["period"], r["dims_key"]): r for r in df.to_dict("records")}


def write(engine: Engine, rows: list[dict[str, Any]], as_of: dt.datetime = AS_OF) -> int:
    """A refresh run holding `rows`: metric, period, value, optional dims {}, n, suppressed, note."""
    with engine.begin() as conn:
        run = conn.execute(
            insert(RefreshRun).values(
                started_at=as_of, finished_at=as_of, status="succeeded", as_of=as_of, cases=1000, cells=len(rows)
            )
        ).inserted_primary_key[0]
        cells = []
        for r in rows:
            dims = r.get("dims", {})
            suppressed = r.get("suppressed", False)
            cells.append({
                "metric": r["metric"], "definition_version": r.get("version", CATALOGUE[r["metric"]].version),
                "grain": r.get("grain", "month"), "period": r["period"], "dim_names": ",".join(sorted(dims)),
                "dims_key": "|".join(f"{k}={v}" for k, v in sorted(dims.items())), "across": r.get("across", ""),
                "value": None if suppressed else r.get("value"), "n": None if suppressed else r.get("n", 100),
                "numerator": None, "denominator": None, "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
                "suppressed": suppressed, "note": r.get("note"), "as_of": as_of, "refresh_run_id": run,
            })  # fmt: skip
        conn.execute(insert(MetricCell), cells)
    return int(run)


# --- the grid on the demo store -------------------------------------------------------------


def test_the_order_puts_targets_first_then_headline_then_families(demo_store):
    settings, _engine = demo_store
    order = kpi_view.ordered_metrics(settings)
    targeted = [m for m in settings.targets if m in CATALOGUE]
    assert list(order[: len(targeted)]) == targeted
    headline = [m for m in settings.dashboard.headline if m not in targeted]
    assert list(order[len(targeted) : len(targeted) + len(headline)]) == headline
    assert set(order) == set(CATALOGUE) - set(kpi_view.DISTRIBUTIONS)
    rest = order[len(targeted) + len(headline) :]
    families = [CATALOGUE[m].family for m in rest]
    # The rest come family by family, in the methodology's order of families.
    assert families == sorted(families, key=[f for f, _t, _q in kpi_view.FAMILIES].index)


def test_every_row_matches_the_query_layer(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    periods = data.periods(engine, "month", version)
    end, before = periods[-1], periods[-2]
    assert view.end == end
    rows = {r["metric"]: r for r in kpi_view.kpi_rows(engine, settings, view, version)}
    assert list(rows) == list(kpi_view.ordered_metrics(settings))
    mcs = settings.privacy.min_cell_size
    for metric, row in rows.items():
        unit = CATALOGUE[metric].unit
        cells = read(engine, settings, metric)
        cell, prev = cells.get((end, "")), cells.get((before, ""))
        if cell is None:
            assert row["value"].startswith("No figure"), (metric, row["value"])
            continue
        if cell["suppressed"]:
            assert row["value"] == f"Suppressed (fewer than {mcs} cases)" or "would reveal" in row["value"]
            assert row["n"] == "Suppressed"
            continue
        if cell["value"] is None or np.isnan(cell["value"]):
            assert row["value"].startswith("No figure"), (metric, row)
            assert row["status_key"] == "none"
            continue
        assert row["value"] == format_value(cell["value"], unit), metric
        assert row["n"] == format_count(cell["n"]), metric
        assert row["value"] != "0" and row["n"] != "0"
        if prev is not None and not prev["suppressed"] and prev["value"] is not None and not np.isnan(prev["value"]):
            expected = format_change(cell["value"] - prev["value"], unit) or "No change"
            assert row["change"] == expected, metric
        target = settings.targets.get(metric)
        if target is not None and CATALOGUE[metric].direction != "neutral":
            s = status(cell["value"], target.target, target.threshold, CATALOGUE[metric].direction)
            assert row["status_key"] == s, metric
            assert row["status"].endswith(STATUS_LABELS[s]) and row["status"][0] in "✔▲✖"
        else:
            assert row["status_key"] == "none" and row["status"].startswith("○ No status"), metric


def test_the_trend_column_follows_the_xmr_signals_of_the_last_12_periods(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    periods = data.periods(engine, "month", version)[-12:]
    rows = {r["metric"]: r for r in kpi_view.kpi_rows(engine, settings, view, version)}
    for metric in ("on_time_rate", "backlog_open", "cases_opened", "satisfied_share"):
        cells = read(engine, settings, metric)
        values = np.array([np.nan if (p, "") not in cells or cells[(p, "")]["value"] is None
                           else float(cells[(p, "")]["value"]) for p in periods])  # fmt: skip
        limits = xmr_limits(values, 12)
        rules = signals(values, limits)[-1] if limits else []
        if not rules:
            assert rows[metric]["trend"] == "→ no clear change", metric
        else:
            assert rows[metric]["trend"].startswith(("↗", "↘")), metric
    # Rolling 12-month take-up: monthly figures overlap, so no signal is read from them...
    for metric in ("uptake_rate", "unclaimed_estimate"):
        assert rows[metric]["trend"].startswith("Not judged: each figure covers the 12 months"), metric
    # ...but yearly ones do not.
    last_year = data.periods(engine, "year", version)[-1]
    year_view = replace(view, grain="year", start=None, end=last_year)
    yearly = {r["metric"]: r for r in kpi_view.kpi_rows(engine, settings, year_view, version)}
    assert not yearly["uptake_rate"]["trend"].startswith("Not judged")


def test_overlapping_windows_are_known_from_the_catalogue():
    uptake = CATALOGUE["uptake_rate"]
    assert [uptake.overlaps(g) for g in ("week", "month", "quarter", "year")] == [True, True, True, False]
    assert not any(CATALOGUE["on_time_rate"].overlaps(g) for g in ("week", "month", "quarter", "year"))


@pytest.mark.parametrize(
    ("values", "direction", "expected"),
    [
        ([5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6], "higher_is_better", ("flat", None)),
        ([5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 30], "higher_is_better", ("up", "better")),
        ([5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 30], "lower_is_better", ("up", "worse")),
        ([5, 6, 5, 6, 5, 6, 1, 2, 3, 4, 5, 6], "neutral", ("up", None)),
        ([9, 8, 9, 8, 9, 8, 9, 8, 7, 6, 5, 4], "lower_is_better", ("down", "better")),
        ([np.nan] * 8 + [1, 2, 3, 4], "higher_is_better", ("few", None)),
        ([np.nan] * 12, "higher_is_better", ("few", None)),
    ],
)
def test_trend_words_say_a_change_only_where_the_chart_signals_one(values, direction, expected):
    assert kpi_view.trend(np.array(values, dtype=float), direction) == expected


def test_the_grid_is_named_selectable_and_shows_words(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    rows = kpi_view.kpi_rows(engine, settings, view, version)
    grid = kpi_view.kpi_grid(rows, view, data.periods(engine, "month", version), "on_time_rate")
    assert grid.id == kpi_view.GRID and grid.getRowId == "params.data.metric"
    assert grid.selectedRows == {"ids": ["on_time_rate"]}
    assert grid.dashGridOptions["rowSelection"]["mode"] == "singleRow"
    heads = [c["headerName"] for c in grid.columnDefs]
    assert heads[:6] == ["Indicator", "Value", "Based on (n)", "Target", "Threshold", "Status"]
    assert heads[6] == f"Change since {period_label(data.periods(engine, 'month', version)[-2], 'month')}"
    assert {r["metric"] for r in grid.rowData} == set(kpi_view.ordered_metrics(settings))
    block = text_of(kpi_view.grid_block(engine, settings, view, version, rows, "on_time_rate"))
    # The grid is labelled by its section's heading (set on the grid element in the browser).
    assert f'"data-labelledby": "{kpi_view.GRID_LABEL}"' in block
    assert "October 2026" in block or period_label(view.end, "month") in block


# --- the drill-down ----------------------------------------------------------------------------


def test_the_drill_down_puts_the_slice_furthest_on_the_wrong_side_first(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    d = kpi_view.drill_data(engine, settings, view, version, "on_time_rate", "region")
    cells = read(engine, settings, "on_time_rate", ("region",))
    target = settings.targets["on_time_rate"]
    shown = [r for r in d.rows if r["value"] is not None]
    # Higher is better: the furthest below the target first, so values ascend.
    assert [r["value"] for r in shown] == sorted(r["value"] for r in shown)
    assert {r["value_id"] for r in d.rows} == {r.id for r in settings.regions}
    for r in d.rows:
        cell = cells.get((view.end, f"region={r['value_id']}"))
        if r["value"] is None:
            assert r["value_text"].startswith(("Suppressed (", "No figure"))
            continue
        assert r["value"] == pytest.approx(cell["value"])
        assert r["value_text"] == format_value(cell["value"], "proportion")
        assert r["n_text"] == format_count(cell["n"])
        assert r["status_key"] == status(cell["value"], target.target, target.threshold, "higher_is_better")
    # Lower is better: the furthest above the target first, so values descend.
    d = kpi_view.drill_data(engine, settings, view, version, "resolution_days_median", "channel")
    values = [r["value"] for r in d.rows if r["value"] is not None]
    assert values == sorted(values, reverse=True)
    block = text_of(kpi_view.drill_block(engine, settings, view, version, "on_time_rate", "region"))
    assert "Settled within the statutory deadline by region" in block
    assert "furthest on the wrong side of the target (90.0%)" in block
    assert ids.download(ids.KPI, "drill") in block and "by=region" in block


def test_population_groups_are_not_ranked(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    d = kpi_view.drill_data(engine, settings, view, version, "on_time_rate", "age_band")
    configured = list(settings.groups["age_band"].values)
    # The configured order (groups with a figure first, then those without), never by value.
    with_value = [r["value_id"] for r in d.rows if r["value"] is not None]
    assert with_value == [v for v in configured if v in with_value] and len(with_value) >= 3
    assert [r["value_id"] for r in d.rows if r["value"] is None] == [v for v in configured if v not in with_value]
    block = text_of(kpi_view.drill_block(engine, settings, view, version, "on_time_rate", "age_band"))
    assert "never ranked against each other" in block and "furthest on the wrong side" not in block


def test_a_count_target_does_not_apply_to_slices(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings)
    version = data.data_version(engine)
    d = kpi_view.drill_data(engine, settings, view, version, "backlog_open", "region")
    assert d.reference_kind == "none"
    assert all(r["status_key"] == "none" for r in d.rows)
    assert all("the target is for everyone together" in r["status_text"] for r in d.rows)
    values = [r["value"] for r in d.rows if r["value"] is not None]
    assert values == sorted(values, reverse=True)


def test_a_breakdown_the_store_lacks_is_said_so(demo_store):
    settings, engine = demo_store
    view = view_of(engine, settings, channel="web")
    version = data.data_version(engine)
    block = text_of(kpi_view.drill_block(engine, settings, view, version, "on_time_rate", "region"))
    assert "is not computed for Channel × Region together" in block
    assert "shown as missing, not as zero" in block
    # uptake_rate is not broken down by channel: its row says so, with no number.
    rows = {r["metric"]: r for r in kpi_view.kpi_rows(engine, settings, view, version)}
    assert rows["uptake_rate"]["value"] == "Not computed for this combination"
    assert rows["coverage_gini"]["value"] == "Not computed for this combination"
    # A count target is for everyone together, so a slice has no status against it.
    assert rows["backlog_open"]["status"] == "○ No status: the target is for everyone together"
    # The slice's own figures are read for the channel.
    cell = read(engine, settings, "on_time_rate", ("channel",))[(view.end, "channel=web")]
    assert rows["on_time_rate"]["value"] == format_value(cell["value"], "proportion")


# --- small stores: suppressed, missing, alerts ----------------------------------------------


def small_store(engine: Engine, east_small: bool) -> tuple[Settings, Engine]:
    """Four regions; on_time_rate falls off track in October for everyone and for North.
    With `east_small`, East rests on 5 cases in October (suppressed) and West has no cell."""
    settings = Settings.model_validate({
        "timezone": "Europe/London",
        "regions": [{"id": r} for r in ("North", "South", "East", "West")],
        "targets": {"on_time_rate": {"target": 0.90, "threshold": 0.80}},
        "dashboard": {"headline": ["cases_opened"]},
    })  # fmt: skip
    rows: list[dict[str, Any]] = []
    for i, p in enumerate(MONTHS):
        rows.append({"metric": "cases_opened", "period": p, "value": 400, "n": 400})
        # Everyone: at risk in September (0.85), off track in October (0.75).
        rows.append({"metric": "on_time_rate", "period": p, "value": 0.85 if i < 9 else 0.75, "n": 400,
                     "ci_low": 0.80, "ci_high": 0.9})  # fmt: skip
        rows.append({"metric": "on_time_rate", "period": p, "dims": {"region": "North"},
                     "value": 0.95 if i < 9 else 0.70, "n": 150})  # fmt: skip
        rows.append({"metric": "on_time_rate", "period": p, "dims": {"region": "South"}, "value": 0.70, "n": 150})
        # East is small in October (suppressed), West has no cell in October at all.
        rows.append({"metric": "on_time_rate", "period": p, "dims": {"region": "East"},
                     "value": 0.9, "n": 5 if i == 9 and east_small else 50})  # fmt: skip
        if i < 9 or not east_small:
            rows.append({"metric": "on_time_rate", "period": p, "dims": {"region": "West"}, "value": 0.92, "n": 45})
    write(engine, rows)
    return settings, engine


@pytest.fixture
def small(cell_store: Engine) -> tuple[Settings, Engine]:
    return small_store(cell_store, east_small=True)


@pytest.fixture
def complete(cell_store: Engine) -> tuple[Settings, Engine]:
    return small_store(cell_store, east_small=False)


def test_suppressed_and_missing_are_said_never_zero(small):
    settings, engine = small
    version = data.data_version(engine)
    view = view_of(engine, settings)
    d = kpi_view.drill_data(engine, settings, view, version, "on_time_rate", "region")
    by = {r["value_id"]: r for r in d.rows}
    cells = read(engine, settings, "on_time_rate", ("region",))
    assert cells[(MONTHS[-1], "region=East")]["suppressed"]
    assert by["East"]["value_text"] == "Suppressed (fewer than 10 cases)"
    assert by["East"]["n_text"] == "Suppressed" and by["East"]["status_text"] == "○ No status: figure suppressed"
    assert by["West"]["value_text"] == "No figure" and by["West"]["n_text"] == "No figure"
    assert by["West"]["status_text"] == "○ No status: no figure"
    # Both come last, after every slice with a figure, and are listed as not drawn.
    assert [r["value_id"] for r in d.rows][-2:] == ["East", "West"]
    summary = kpi_view.drill_summary(d, settings, view)
    assert "Suppressed (fewer than 10 cases), not drawn: East." in summary
    assert "No figure, not drawn: West." in summary
    # Whatever secondary suppression hides besides East is said the same way, from the query layer.
    for r in d.rows:
        cell = cells.get((MONTHS[-1], f"region={r['value_id']}"))
        if cell is not None and cell["suppressed"]:
            assert r["value_text"].startswith("Suppressed ("), r
        elif cell is not None:
            assert r["value_text"] == format_value(cell["value"], "proportion")
    block = kpi_view.drill_block(engine, settings, view, version, "on_time_rate", "region")
    for cells_text in table_rows(block, ids.table(ids.KPI, "drill")):
        assert all(isinstance(t, str) and t.strip() and t not in ("0", "0.0%") for t in cells_text), cells_text
    # In the grid, indicators without any cell say so too.
    rows = {r["metric"]: r for r in kpi_view.kpi_rows(engine, settings, view, version)}
    assert rows["satisfied_share"]["value"] == "Not computed for this combination"
    assert rows["on_time_rate"]["value"] == "75.0%" and rows["on_time_rate"]["status_key"] == "off_track"
    assert rows["on_time_rate"]["change"] == "−10.0 pts"


def test_alerts_name_what_crossed_its_threshold_this_period(complete):
    settings, engine = complete
    version = data.data_version(engine)
    view = view_of(engine, settings)
    found = kpi_view.alerts(engine, settings, view, version)
    assert found[0] == ("Settled within the statutory deadline is off track in October 2026 (Everyone): 75.0%, "
                        "below the threshold of 80.0%. It crossed its threshold this period (it was at risk in "
                        "September 2026).")  # fmt: skip
    assert ("Settled within the statutory deadline, region North: crossed its threshold in October 2026, now 70.0% "
            "(it was on track in September 2026).") in found  # fmt: skip
    # South has been off track all along: counted, not listed as new.
    assert not any("region South" in a for a in found)
    assert "1 more slices were off track in September 2026 already and still are" in found[-1]
    assert len(found) == 3


def test_nothing_off_track_is_said_plainly(cell_store):
    settings = Settings.model_validate({"regions": [{"id": "North"}],
                                        "targets": {"on_time_rate": {"target": 0.9, "threshold": 0.8}}})  # fmt: skip
    write(cell_store, [{"metric": "cases_opened", "period": p, "value": 100} for p in MONTHS]
          + [{"metric": "on_time_rate", "period": p, "value": 0.95} for p in MONTHS])  # fmt: skip
    version = data.data_version(cell_store)
    view = view_of(cell_store, settings)
    assert kpi_view.alerts(cell_store, settings, view, version) == [
        "Nothing is off track in October 2026: no indicator with a target, and none of its slices, is past its "
        "threshold."
    ]


def test_the_layout_follows_the_address_and_falls_back_with_a_notice(demo_store):
    settings, engine = demo_store
    page = text_of(kpi_view.kpi_layout(engine, settings, "/kpi", {"indicator": "satisfied_share", "drill": "service"}))
    assert '"value": "satisfied_share"' in page and '"value": "service"' in page
    assert "Satisfied residents by service" in page
    assert "indicator=satisfied_share" in page and "drill=service" in page
    bad = text_of(kpi_view.kpi_layout(engine, settings, "/kpi", {"indicator": "happiness", "drill": "star_sign"}))
    assert "'happiness' is not an indicator of the tracker" in bad
    assert "'star_sign' is not a dimension to break down by" in bad
    for name in (ids.filter_id(ids.KPI, "region"), kpi_view.INDICATOR, kpi_view.DRILL, kpi_view.GRID):
        assert f'"{name}"' in bad


def test_both_languages_render(demo_store):
    settings, engine = demo_store
    with i18n.use("zh"):
        page = text_of(kpi_view.kpi_layout(engine, settings, "/kpi", {}))
        name = metric_name("on_time_rate")
        region = value_label(settings, "region", settings.regions[0].id)
    assert "关键绩效指标跟踪" in page and "警示" in page and name in page and region in page
    assert "Alerts" not in page and "No status" not in page and "rising" not in page
    english = text_of(kpi_view.kpi_layout(engine, settings, "/kpi", {}))
    assert "KPI tracker" in english and "Alerts" in english


def test_a_target_for_everyone_only_is_not_applied_to_a_slice(demo_store):
    settings, _engine = demo_store
    assert target_for(settings, "backlog_open", by_region=True) is None
    assert kpi_view.target_words(settings, "backlog_open", True) == (
        "For everyone together only: 8,000",
        "For everyone together only",
    )
    assert kpi_view.target_words(settings, "on_time_rate", True) == ("90.0% or more", "Off track below 80.0%")
    assert kpi_view.target_words(settings, "resolution_days_median", False) == (
        "5.0 days or less",
        "Off track above 8.0 days",
    )


def test_an_empty_store_says_what_to_run(cell_store, settings):
    from dashboard.app import create_app
    from dashboard.trends_view import trends_layout

    client = create_app(settings, cell_store).server.test_client()
    for path in ("/kpi", "/trends", "/methodology"):
        assert client.get(path).status_code == 200
    for page in (kpi_view.kpi_layout(cell_store, settings, "/kpi"), trends_layout(cell_store, settings, "/trends")):
        text = text_of(page)
        assert "There are no figures in the store yet" in text and "civic-metrics metrics refresh" in text
