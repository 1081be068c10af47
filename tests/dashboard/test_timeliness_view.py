"""The timeliness page's builders, without a browser.

Every figure the page shows is checked against an independent read of the query layer
(`metrics.query.read_cells`, formatted here with the shared formatter), on the demo store the
real CLI built and on small stores written by hand where suppressed and missing cells are
placed on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import dash
import pandas as pd
import plotly.utils
import pytest
from sqlalchemy import Engine, insert

from dashboard import filters, i18n, ids
from dashboard import timeliness_view as tv
from dashboard.formatting import format_value, period_label
from dashboard.labels import value_label
from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings
from metrics.store.models import MetricCell, RefreshRun

AS_OF = dt.datetime(2026, 10, 31, 18, 0)
MONTHS = [dt.date(2026, m, 1) for m in range(5, 11)]


@pytest.fixture(autouse=True)
def dash_app() -> dash.Dash:
    """CSV addresses are relative to the running app's path prefix: any app sets it."""
    return dash.Dash(__name__)


# --- an independent reading of the query layer ---------------------------------------------------


def stored(engine: Engine, metric: str, by: tuple[str, ...] = (), grain: str = "month",
           where: dict[str, str] | None = None, min_cell_size: int = 10) -> dict[Any, dict[str, Any]]:  # fmt: skip
    """The query layer's cells of one slice by period (or by the value of the one dimension
    in `by` not fixed by `where`)."""
    df = query.read_cells(engine, metric, by=by, grain=grain, min_cell_size=min_cell_size)
    where = where or {}
    rows = [r for r in df.to_dict("records") if all(r["dims"].get(k) == v for k, v in where.items())]
    free = [d for d in by if d not in where]
    return {(r["dims"][free[0]] if free else r["period"]): r for r in rows}


def expect(row: dict[str, Any] | None, unit: str, min_cell_size: int = 10) -> str:
    """What the page must say for a cell: its value, why it is hidden, or why there is none."""
    if row is None:
        return "No figure"
    note = row["note"] if isinstance(row["note"], str) else ""
    if row["suppressed"]:
        if "would reveal" in note:
            return "Suppressed (would reveal a smaller suppressed figure)"
        return f"Suppressed (fewer than {min_cell_size} cases)"
    if row["value"] is None or pd.isna(row["value"]):
        return note[:1].upper() + note[1:] if note else "No figure"
    return format_value(row["value"], unit)


def expect_n(row: dict[str, Any] | None) -> str:
    if row is None or row["suppressed"]:
        return "Suppressed" if row is not None else "No figure"
    return f"{int(row['n']):,}" if row["n"] is not None and not pd.isna(row["n"]) else "No figure"


def expect_interval(row: dict[str, Any] | None, unit: str) -> str:
    if row is None or row["suppressed"] or pd.isna(row["value"]):
        return "Not available"
    lo, hi = row["ci_low"], row["ci_high"]
    if not pd.isna(lo) and not pd.isna(hi):
        return f"{format_value(lo, unit)} to {format_value(hi, unit)}"
    if not pd.isna(lo):
        return f"{format_value(lo, unit)} or more (upper limit not reached)"
    return "Not available"


def view_of(settings: Settings, engine: Engine, **params: str) -> tv.Context:
    view = filters.parse_view(params, settings, tv.periods_of(engine))
    assert not view.notices, view.notices
    return tv.context(engine, settings, view)


def text_of(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def trace(fig: Any, name: str) -> Any:
    return next(t for t in fig.data if t.name == name)


# --- the demo store ----------------------------------------------------------------------------

VIEWS = [
    {},
    {"region": "Northgate"},
    {"grain": "quarter"},
    {"grain": "week", "channel": "web"},
    {"group": "age_band", "value": "65 and over"},
]


@pytest.mark.parametrize("params", VIEWS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()) or "everyone")
def test_trends_show_the_query_layers_figures(demo_store, params):
    settings, engine = demo_store
    ctx = view_of(settings, engine, **params)
    grain = ctx.view.grain
    where = ctx.view.slice()
    by = tuple(sorted(where))
    assert ctx.periods and ctx.periods[-1] == query.periods(engine, grain)[-1]
    cells = {m: stored(engine, m, by, grain, where) for m in (
        "resolution_days_median", "resolution_days_p90", "resolution_days_median_closed",
        "first_response_hours_median", "on_time_rate", "backlog_open", "backlog_overdue")}  # fmt: skip

    res = tv.resolution_chart(ctx)
    assert isinstance(res, tv.Chart)
    assert res.head == ["Period", "Median", "95% interval", "Cases opened", "90th percentile", "95% interval",
                        "Median of closed cases only (biased low)", "Closed cases"]  # fmt: skip
    for p, row in zip(ctx.periods, res.rows, strict=True):
        med, p90, closed = (cells[m].get(p) for m in ("resolution_days_median", "resolution_days_p90",
                                                       "resolution_days_median_closed"))  # fmt: skip
        assert row == [
            period_label(p, grain),
            expect(med, "days"),
            expect_interval(med, "days"),
            expect_n(med),
            expect(p90, "days"),
            expect_interval(p90, "days"),
            expect(closed, "days"),
            expect_n(closed),
        ]
    # The chart draws exactly the figures the table gives, gaps where there are none.
    median_y = trace(res.figure, "Median").y
    assert list(median_y) == [
        None
        if cells["resolution_days_median"].get(p) is None or pd.isna(cells["resolution_days_median"][p]["value"])
        else pytest.approx(cells["resolution_days_median"][p]["value"])
        for p in ctx.periods
    ]
    assert "biased low" in res.summary and period_label(ctx.end, grain) in res.summary

    first = tv.first_response_chart(ctx)
    assert [r[1:] for r in first.rows] == [
        [expect(cells["first_response_hours_median"].get(p), "hours"),
         expect_n(cells["first_response_hours_median"].get(p))] for p in ctx.periods]  # fmt: skip

    on_time = tv.on_time_chart(ctx)
    for p, row in zip(ctx.periods, on_time.rows, strict=True):
        cell = cells["on_time_rate"].get(p)
        assert row[1:4] == [expect(cell, "proportion"), expect_interval(cell, "proportion"), expect_n(cell)]

    backlog = tv.backlog_chart(ctx)
    assert backlog.head == ["Period", "Open cases (backlog)", "Open cases past their deadline"]
    for p, row in zip(ctx.periods, backlog.rows, strict=True):
        assert row[1:] == [expect(cells["backlog_open"].get(p), "count"),
                           expect(cells["backlog_overdue"].get(p), "count")]  # fmt: skip

    # The summary names the end period's figure with the cases behind it, or why there is none.
    end = cells["on_time_rate"].get(ctx.end)
    if end is not None and not end["suppressed"] and not pd.isna(end["value"]):
        assert f"{format_value(end['value'], 'proportion')}, based on {int(end['n']):,} cases" in on_time.summary
    else:
        assert f"{expect(end, 'proportion')}." in on_time.summary
    # Each block downloads the records it shows.
    assert on_time.csv is not None and "metric=on_time_rate" in on_time.csv and f"grain={grain}" in on_time.csv
    for dim, value in where.items():
        assert f"{dim}={value.replace(' ', '+')}" in on_time.csv


def test_provisional_on_time_figures_are_ringed_and_noted(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine)
    cells = stored(engine, "on_time_rate")
    provisional = [p for p in ctx.periods if p in cells and "provisional" in str(cells[p]["note"] or "")
                   and not cells[p]["suppressed"]]  # fmt: skip
    assert provisional, "the demo's newest cohorts are provisional"
    chart = tv.on_time_chart(ctx)
    ring = trace(chart.figure, "Provisional")
    assert [y is not None for y in ring.y] == [p in provisional for p in ctx.periods]
    notes = {r[0]: r[-1] for r in chart.rows}
    for p in provisional:
        share = str(cells[p]["note"]).split(": ")[1].split("%")[0]
        assert notes[period_label(p, "month")] == f"Provisional: {share}% of cases not yet past their deadline"
    assert "Ringed points are provisional" in chart.summary
    # Measured against the configured target, drawn as a dashed line named in the legend.
    target = settings.targets["on_time_rate"].target
    assert any(s.y0 == target and s.line.dash == "dash" for s in chart.figure.layout.shapes)
    assert trace(chart.figure, f"Target: {format_value(target, 'proportion')}")


def at_end(engine: Engine, metric: str, dim: str, end: dt.date) -> dict[str, dict[str, Any]]:
    """One period's cells of `metric` by `dim`, from the query layer."""
    df = query.read_cells(engine, metric, (dim,), min_cell_size=10)
    return {r["dims"][dim]: r for r in df.to_dict("records") if r["period"] == end}


def expect_label(name: str, cells: list[dict[str, Any] | None]) -> str:
    """A category's label: marked when none of its figures can be drawn, and why."""
    if all(c is not None and c["suppressed"] for c in cells):
        return f"{name} (suppressed)"
    if all(c is None or c["suppressed"] or pd.isna(c["value"]) for c in cells):
        return f"{name} (no figure)"
    return name


def mature_end(engine: Engine) -> dt.date:
    """The newest month whose 90th percentile is reached for everyone."""
    p90 = stored(engine, "resolution_days_p90")
    return max(p for p, r in p90.items() if not r["suppressed"] and not pd.isna(r["value"]))


def curve_cells(engine: Engine, by: tuple[str, ...], end: dt.date,
                where: dict[str, str] | None = None) -> dict[str | None, dict[int, dict[str, Any]]]:  # fmt: skip
    """The query layer's curve points of one period: {category of the free dimension (None
    for the view's slice): {day: cell}}."""
    df = query.read_cells(engine, tv.CURVE, (tv.SURVIVAL_DIM, *by), min_cell_size=10)
    where = where or {}
    free = [d for d in by if d not in where]
    out: dict[str | None, dict[int, dict[str, Any]]] = {}
    for r in df.to_dict("records"):
        if r["period"] == end and all(r["dims"].get(k) == v for k, v in where.items()):
            out.setdefault(r["dims"][free[0]] if free else None, {})[int(r["dims"][tv.SURVIVAL_DIM])] = r
    return out


def test_survival_curves_are_the_query_layers_points(demo_store):
    settings, engine = demo_store
    end = mature_end(engine)
    ctx = view_of(settings, engine, to=f"{end:%Y-%m}")
    chart = tv.km_chart(ctx, "channel")
    whole = curve_cells(engine, (), end)[None]
    by_channel = curve_cells(engine, ("channel",), end)
    channels = list(settings.channels)
    labels = ["Everyone"] + [expect_label(value_label(settings, "channel", c), list(by_channel[c].values()))
                             for c in channels]  # fmt: skip
    # The table: every slice at every stored day, as the query layer has it (never a 0 for a gap).
    assert chart.head == ["Slice", "Days since opening", "Still open", "95% interval", "Cases opened"]
    assert chart.rows == [
        [label, f"{d:,}", expect(cells.get(d), "proportion"), expect_interval(cells.get(d), "proportion"),
         expect_n(cells.get(d))]
        for label, cells in zip(labels, [whole, *(by_channel[c] for c in channels)], strict=True)
        for d in tv.SURVIVAL_DAYS
    ]  # fmt: skip
    # The chart: one step line per slice, at the stored days, gaps where there is no figure.
    for label, cells in zip(labels, [whole, *(by_channel[c] for c in channels)], strict=True):
        if label.endswith(("(suppressed)", "(no figure)")):  # nothing to draw: named in the caption instead
            assert label not in {t.name for t in chart.figure.data} and label in chart.summary
            continue
        line = trace(chart.figure, label)
        assert list(line.x) == list(tv.SURVIVAL_DAYS) and line.line.shape == "hv"
        assert list(line.y) == [None if cells.get(d) is None or cells[d]["suppressed"] or pd.isna(cells[d]["value"])
                                else pytest.approx(cells[d]["value"]) for d in tv.SURVIVAL_DAYS]  # fmt: skip
    # The stored median is where the whole curve falls to one half.
    median = stored(engine, "resolution_days_median")[end]["value"]
    assert all((whole[d]["value"] <= 0.5 + 1e-9) == (d >= median) for d in tv.SURVIVAL_DAYS
               if not pd.isna(whole[d]["value"]))  # fmt: skip
    assert f"Everyone (based on {int(whole[7]['n']):,} cases opened): still open after 7 days " in chart.summary
    assert chart.csv is not None and "metric=still_open_share&by=channel&by=days" in chart.csv


def test_at_most_six_curves_are_drawn_the_rest_are_in_the_table(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine, service=next(iter(settings.services)))
    chart = tv.km_chart(ctx, "service")
    lines = [t for t in chart.figure.data if t.mode == "lines+markers"]
    slices = list(dict.fromkeys(r[0] for r in chart.rows))
    assert len(lines) == tv.MAX_CURVES < len(slices)
    # The view's slice and the chosen service are drawn; the others drawn are the largest.
    assert lines[0].name == "Everyone" and any("(selected)" in t.name for t in lines)
    assert f"{tv.MAX_CURVES} lines are drawn, Everyone and the largest; all {len(slices)} are in the table." in (
        chart.summary)
    # Several lines: no band (they would hide each other); the intervals are in the table.
    assert not any(t.fill for t in chart.figure.data) and "Each point's 95% interval is in the table." in chart.summary
    colours = [t.line.color for t in lines]
    assert len(set(colours)) == len(colours) and len({t.line.dash for t in lines}) == len(lines)


@pytest.mark.parametrize("dim", tv.BY_DIMS)
def test_slices_side_by_side_for_each_dimension(demo_store, dim):
    settings, engine = demo_store
    ctx = view_of(settings, engine)
    chart = tv.compare_chart(ctx, dim)
    assert isinstance(chart, tv.Chart)
    end_m = at_end(engine, "resolution_days_median", dim, ctx.end)
    end_o = at_end(engine, "on_time_rate", dim, ctx.end)
    values = {
        "region": [r.id for r in settings.regions],
        "channel": list(settings.channels),
        "service": list(settings.services),
        "department": list(dict.fromkeys(s.department for s in settings.services.values())),
    }[dim]
    assert len(chart.rows) == 1 + len(values)
    for row, v in zip(chart.rows[1:], values, strict=True):
        m, o = end_m.get(v), end_o.get(v)
        assert row[0] == expect_label(value_label(settings, dim, v), [m, o])
        assert row[1:] == [expect(m, "days"), expect_interval(m, "days"), expect_n(m),
                           expect(o, "proportion"), expect_interval(o, "proportion"), expect_n(o)]  # fmt: skip
    assert chart.csv is not None and f"by={dim}" in chart.csv
    assert chart.more_csv[0][1].startswith("/download/figures.csv?metric=on_time_rate")


def test_comparing_by_the_filtered_dimension_shows_all_of_it(demo_store):
    settings, engine = demo_store
    region = settings.regions[3].id
    ctx = view_of(settings, engine, region=region)
    chart = tv.compare_chart(ctx, "region")
    assert chart.rows[0][0] == "Everyone"
    labels = [r[0] for r in chart.rows[1:]]
    assert len(labels) == len(settings.regions)
    assert sum("(selected)" in label for label in labels) == 1
    assert next(label for label in labels if "(selected)" in label).startswith(value_label(settings, "region", region))
    km = tv.km_chart(ctx, "region")
    assert km.rows[0][0] == "Everyone" and len(km.rows) == (1 + len(settings.regions)) * len(tv.SURVIVAL_DAYS)
    assert sum("(selected)" in t.name for t in km.figure.data) == 1


def test_a_combination_the_store_does_not_hold_is_said_not_drawn(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine, region="Northgate")
    compare = tv.compare_chart(ctx, "channel")
    assert isinstance(compare, tv.Unavailable)
    assert compare.message.startswith("Not computed for this combination: Median days to resolve is not stored by "
                                      "Channel, Region together.")  # fmt: skip
    age = tv.backlog_age_chart(ctx)
    assert isinstance(age, tv.Unavailable) and "Time waiting, Region" in age.message
    # The survival chart falls back to the view's own slice and says why.
    km = tv.km_chart(ctx, "channel")
    assert isinstance(km, tv.Chart) and {r[0] for r in km.rows} == {"Northgate"}
    # One line alone carries its 95% interval as a band.
    assert any(t.fill == "tonexty" for t in km.figure.data) and "The shaded band is the 95% interval." in km.summary
    assert any("Not computed by channel within this filter" in n for n in km.notes)
    page = text_of(html_content(settings, engine, ctx.view, "channel"))
    assert "Not computed for this combination" in page and '"0"' not in page


def html_content(settings: Settings, engine: Engine, view: filters.View, by: str) -> Any:
    from dash import html

    return html.Div(tv.content(engine, settings, view, by))


def test_backlog_age_on_the_demo_store(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine)
    chart = tv.backlog_age_chart(ctx)
    cells = query.read_cells(engine, "backlog_age", ("backlog_age",), min_cell_size=10)
    assert chart.head == ["Period", "0-7 days", "8-30 days", "31-90 days", "Over 90 days"]
    for p, row in zip(ctx.periods, chart.rows, strict=True):
        here = {r["dims"]["backlog_age"]: r for r in cells.to_dict("records") if r["period"] == p}
        assert row[1:] == [expect(here.get(b), "count") for b in ("0-7 days", "8-30 days", "31-90 days",
                                                                   "over 90 days")]  # fmt: skip
    bars = [t for t in chart.figure.data if t.type == "bar"]
    # Stacked, and told apart by pattern as well as colour.
    assert chart.figure.layout.barmode == "stack"
    assert len({t.marker.pattern.shape for t in bars}) == 4


# --- small stores, written by hand -----------------------------------------------------------------


def put(engine: Engine, rows: list[dict[str, Any]], grain: str = "month") -> int:
    """A refresh run holding `rows`: dicts of metric, period, value and optionally dims
    (a dict), n, ci_low, ci_high, suppressed, note. cases_opened is added for every period
    written (the store's periods are those of cases_opened)."""
    periods = sorted({r["period"] for r in rows})
    rows = rows + [{"metric": "cases_opened", "period": p, "value": 500, "n": 500} for p in periods]
    with engine.begin() as conn:
        run = conn.execute(insert(RefreshRun).values(
            started_at=AS_OF, finished_at=AS_OF, status="succeeded", as_of=AS_OF, cases=1000, cells=len(rows),
        )).inserted_primary_key[0]  # fmt: skip
        conn.execute(insert(MetricCell), [{
            "metric": r["metric"], "definition_version": CATALOGUE[r["metric"]].version, "grain": grain,
            "period": r["period"], "dim_names": ",".join(sorted(r.get("dims", {}))),
            "dims_key": "|".join(f"{k}={v}" for k, v in sorted(r.get("dims", {}).items())), "across": "",
            "value": None if r.get("suppressed") else r.get("value"),
            "n": None if r.get("suppressed") else r.get("n", 100), "numerator": None, "denominator": None,
            "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"), "suppressed": r.get("suppressed", False),
            "note": r.get("note", "suppressed: fewer than 10 cases" if r.get("suppressed") else None),
            "as_of": AS_OF, "refresh_run_id": run,
        } for r in rows])  # fmt: skip
    return int(run)


def test_suppressed_and_missing_months_are_said_and_left_as_gaps(cell_store, settings):
    rows = [
        {"metric": "on_time_rate", "period": MONTHS[0], "value": 0.82, "n": 120, "ci_low": 0.74, "ci_high": 0.88},
        {"metric": "on_time_rate", "period": MONTHS[1], "suppressed": True},
        # MONTHS[2]: no cell at all.
        {"metric": "on_time_rate", "period": MONTHS[3], "value": 0.91, "n": 130, "ci_low": 0.85, "ci_high": 0.95},
        {"metric": "on_time_rate", "period": MONTHS[4], "value": 0.88, "n": 90, "ci_low": 0.8, "ci_high": 0.93},
        {"metric": "on_time_rate", "period": MONTHS[5], "value": 0.95, "n": 40, "ci_low": 0.83, "ci_high": 0.99,
         "note": "provisional: 40% of cases not yet past their deadline"},
        {"metric": "resolution_days_median", "period": MONTHS[5], "value": None, "n": 40,
         "note": "not reached: fewer than half of the cases are resolved"},
    ]  # fmt: skip
    # MONTHS[2] has cases (another indicator), so it is one of the store's periods.
    put(cell_store, [*rows, {"metric": "backlog_open", "period": MONTHS[2], "value": 50, "n": 50}])
    ctx = view_of(settings, cell_store)
    assert ctx.periods == tuple(MONTHS)
    chart = tv.on_time_chart(ctx)
    assert [r[1] for r in chart.rows] == ["82.0%", "Suppressed (fewer than 10 cases)", "No figure", "91.0%",
                                          "88.0%", "95.0%"]  # fmt: skip
    assert [r[3] for r in chart.rows] == ["120", "Suppressed", "No figure", "130", "90", "40"]
    assert chart.rows[5][4] == "Provisional: 40% of cases not yet past their deadline"
    assert chart.rows[0][4] == "No note"
    line_ = trace(chart.figure, CATALOGUE["on_time_rate"].name.en)
    assert list(line_.y) == [0.82, None, None, 0.91, 0.88, 0.95]
    assert "Suppressed (fewer than 10 cases), left as gaps: Jun 2026." in chart.summary
    assert "No figure, left as gaps: Jul 2026." in chart.summary
    assert "October 2026: 95.0%, based on 40 cases with a known outcome against the deadline." in chart.summary
    assert "Provisional: 40% of cases not yet past their deadline." in chart.summary

    # A median not reached is said as such, with the cases it rests on; never 0.
    res = tv.resolution_chart(ctx)
    assert res.rows[5][1:4] == ["Not reached: fewer than half of the cases are resolved", "Not available", "40"]
    assert res.rows[0][1] == "No figure" and res.rows[0][3] == "No figure"


def test_nothing_to_draw_says_so(cell_store, settings):
    put(cell_store, [{"metric": "on_time_rate", "period": p, "suppressed": True} for p in MONTHS[:3]])
    ctx = view_of(settings, cell_store)
    chart = tv.on_time_chart(ctx)
    assert "Nothing is drawn: every period is suppressed or has no figure." in chart.summary
    assert any("Nothing to draw" in a.text for a in chart.figure.layout.annotations)


def test_backlog_bands_with_a_suppressed_band(cell_store, settings):
    bands = ["0-7 days", "8-30 days", "31-90 days", "over 90 days"]
    rows = [{"metric": "backlog_age", "period": p, "dims": {"backlog_age": b}, "value": v, "n": v}
            for p in MONTHS[:2] for b, v in zip(bands, (40, 30, 20, 12), strict=True)]  # fmt: skip
    rows[3] = {"metric": "backlog_age", "period": MONTHS[0], "dims": {"backlog_age": "over 90 days"},
               "suppressed": True}  # fmt: skip
    # The total is the stored backlog, not the sum of the bands (here deliberately not 102).
    rows += [{"metric": "backlog_open", "period": MONTHS[1], "value": 103, "n": 103}]
    put(cell_store, rows)
    ctx = view_of(settings, cell_store)
    chart = tv.backlog_age_chart(ctx)
    assert chart.rows[0] == ["May 2026", "40", "30", "20", "Suppressed (fewer than 10 cases)"]
    assert chart.rows[1] == ["June 2026", "40", "30", "20", "12"]
    # May's bar would read 90 where the backlog is more: no band of May is drawn.
    for band, june in zip(("0-7 days", "8-30 days", "31-90 days", "Over 90 days"), (40, 30, 20, 12), strict=True):
        assert list(trace(chart.figure, band).y) == [None, june], band
    assert "Some bands suppressed, so no bar is drawn (the table has the bands that are known): May 2026." in (
        chart.summary)
    assert "June 2026: 0-7 days: 40, 8-30 days: 30, 31-90 days: 20, Over 90 days: 12." in chart.summary
    assert "12 of the 103 open cases had waited over 90 days." in chart.summary


def test_the_compare_control_falls_back_with_a_notice():
    assert tv.parse_by(None) == ("region", [])
    assert tv.parse_by("service") == ("service", [])
    assert tv.parse_by(["channel", "department"]) == ("department", [])
    by, notices = tv.parse_by("age_band")
    assert by == "region" and notices == ["'age_band' is not a dimension to compare by here; comparing by region."]


# --- the page in both languages --------------------------------------------------------------------


def test_the_page_in_english_and_chinese(demo_store):
    settings, engine = demo_store
    with i18n.use("en"):
        en = text_of(tv.layout(engine, settings, "/timeliness", {"by": "service"}))
    with i18n.use("zh"):
        zh = text_of(tv.layout(engine, settings, "/timeliness", {"by": "service"}))
    for text in (
        "Timeliness",
        "Share of cases still open after N days",
        "Days to resolve: median and 90th percentile",
        "Open cases at the end of each period",
        "Compared by service",
        "Compare by",
    ):
        assert text in en
    assert ids.control(ids.TIMELY, "by") in en and ids.content(ids.TIMELY) in en
    assert '"value": "service"' in en and "by=service" in en
    for text in ("办理时效", "开立N天后仍未办结的案件比例", "办结天数：中位数和第90百分位数", "各期期末未结案件",
                 "按服务比较", "比较维度", "仅按已办结案件的中位数（偏低）"):  # fmt: skip
        assert text in zh, text
    for text in ("Share of cases still open", "Days to resolve", "Compared by", "based on", "left as gaps",
                 "Suppressed (", "after 7 days", "Not known"):
        assert text not in zh, text


def test_an_unknown_compare_dimension_is_said(demo_store):
    settings, engine = demo_store
    page = text_of(tv.layout(engine, settings, "/timeliness", {"by": "colour"}))
    assert "'colour' is not a dimension to compare by here; comparing by region." in page
    assert "Compared by region" in page


def test_csv_addresses_give_the_records_shown(demo_store):
    from flask import Flask

    from dashboard import downloads, state

    settings, engine = demo_store
    # The download route alone, so the test does not depend on every page of the app.
    server = Flask(__name__)
    downloads.register(server)
    state.configure(settings, engine)
    client = server.test_client()
    ctx = view_of(settings, engine, region="Fenwick")
    chart = tv.on_time_chart(ctx)
    response = client.get(chart.csv)
    assert response.status_code == 200
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("metric,period,grain,region,value,n")
    shown = [r for r in chart.rows if r[1] != "No figure"]
    assert len(lines) - 1 == len(shown)
    for label, href in chart.more_csv + tv.resolution_chart(ctx).more_csv:
        assert label.startswith("Download the figures of ")
        assert client.get(href).status_code == 200


def test_curve_points_not_known_or_suppressed_are_gaps_and_say_why(cell_store, settings):
    """The curves are known up to 30 days (nobody followed longer yet), and two small regions
    are suppressed: gaps in the lines, the reasons in the table and the caption."""
    days = tv.SURVIVAL_DAYS
    known = [d for d in days if d <= 30]
    big, *small = (r.id for r in settings.regions)

    def curve(dims: dict[str, str], n: int) -> list[dict[str, Any]]:
        return [{"metric": tv.CURVE, "period": MONTHS[5], "dims": {"days": d, **dims}, "n": n,
                 "value": 1 - 0.03 * i if d in known else None, "ci_low": 0.5, "ci_high": 1.0,
                 "note": None if d in known else tv.NOT_OBSERVED} for i, d in enumerate(days)]  # fmt: skip

    hidden = [{"metric": tv.CURVE, "period": MONTHS[5], "dims": {"days": d, "region": r}, "suppressed": True}
              for r in small for d in days]  # fmt: skip
    put(cell_store, [*curve({}, 40), *curve({"region": big}, 34), *hidden])
    chart = tv.km_chart(view_of(settings, cell_store), "region")
    not_known = "Not known: no case of the cohort has been followed this long yet"
    for label in ("Everyone", value_label(settings, "region", big)):
        line = trace(chart.figure, label)
        assert list(line.y) == [pytest.approx(1 - 0.03 * i) if d in known else None for i, d in enumerate(days)]
        said = [format_value(1 - 0.03 * i, "proportion") if d in known else not_known for i, d in enumerate(days)]
        assert [r[2] for r in chart.rows if r[0] == label] == said
        assert f"{label}, left as gaps at 45, 60, 90, 180, 365 days: {not_known}." in chart.summary
    # The suppressed regions keep their rows, say why, and are named in the caption, not drawn.
    labels = [f"{value_label(settings, 'region', r)} (suppressed)" for r in small]
    for label in labels:
        assert [r[2:] for r in chart.rows if r[0] == label] == [
            ["Suppressed (fewer than 10 cases)", "Not available", "Suppressed"]] * len(days)
    assert f"Not drawn, with no figure to show: {', '.join(labels)}." in chart.summary
    assert [t.name for t in chart.figure.data if t.mode == "lines+markers"] == [
        "Everyone", value_label(settings, "region", big)]
