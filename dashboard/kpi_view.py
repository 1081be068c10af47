"""The KPI tracker for programme managers, as pure functions of metric cells.

One grid lists every indicator for the view's end period and slice: its value, what it rests
on, its target and threshold, where it stands (in words and a shape, never colour alone), how
it moved since the period before, and whether the last 12 periods show a real change. A row
chosen in the grid (or in the indicator select beside it) is broken down by region, a
population-group attribute, channel or service, the slice furthest on the wrong side of its
target first. Alerts list, in words, what is off track now and what crossed its threshold
this period.

The trend column is deliberately cautious: it says "rising" or "falling" only when an XmR
chart of the last 12 periods (`metrics.control`, the same rules as `civic-metrics metrics
control`) signals at the latest figure; anything else is "no clear change".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html
from sqlalchemy import Engine

from dashboard import blocks, data, filters, ids, intervals, plot
from dashboard.downloads import csv_href
from dashboard.figures import REFERENCE, _base_layout
from dashboard.filters import View
from dashboard.formatting import format_change, format_count, format_value, is_number, period_label, unit_format
from dashboard.i18n import N_, _, lang
from dashboard.labels import dim_label, dim_values, metric_name, slice_label, value_label
from dashboard.tiles import STATUS_LABELS, cell_state, note_text, suppressed_text, target_for
from dashboard.views import as_of_detail
from metrics.catalogue import CATALOGUE, CATALOGUE_LIST
from metrics.config import Settings, Target
from metrics.control import signals, xmr_limits
from metrics.methodology import FAMILIES
from metrics.targets import status

PAGE = ids.KPI
GRID = ids.block(PAGE, "grid-table")
GRID_WRAP = ids.block(PAGE, "grid-wrap")
GRID_LABEL = ids.block(PAGE, "grid-label")
INDICATOR = ids.control(PAGE, "indicator")
DRILL = ids.control(PAGE, "drill")
DRILL_BLOCK = ids.block(PAGE, "drill-area")
ALERTS = ids.block(PAGE, "alerts")

# Periods the trend column looks back over (the latest included).
TREND_PERIODS = 12
# Fewer known figures than this in the window say nothing about a trend.
TREND_MIN_KNOWN = 6

# Distributions (one figure per band of time waiting, per score, per day of the resolution
# curve): no single figure to track. The timeliness page draws them.
DISTRIBUTIONS = ("backlog_age", "rating_share", "still_open_share")

STATUS_ICON = {"on_track": "\u2714", "at_risk": "\u25b2", "off_track": "\u2716", "none": "\u25cb"}  # ✔ ▲ ✖ ○
# Text and fill of the status cell: dark text on a pale fill, contrast above 7:1.
STATUS_STYLE = {
    "on_track": {"color": "#0f5132", "backgroundColor": "#d1e7dd"},
    "at_risk": {"color": "#5c4503", "backgroundColor": "#fff3cd"},
    "off_track": {"color": "#842029", "backgroundColor": "#f8d7da"},
}
# Bars of the drill-down: Okabe-Ito colours with 3:1 contrast on white, and a pattern per
# status so that colour is never the only cue.
BAR_STYLE = {
    "on_track": ("#009E73", ""),
    "at_risk": ("#0072B2", "/"),
    "off_track": ("#D55E00", "x"),
    "none": ("#555555", "."),
}

NO_STATUS = {
    "no_target": N_("No status: no target set"),
    "neutral": N_("No status: neither higher nor lower is better"),
    "whole": N_("No status: the target is for everyone together"),
    "suppressed": N_("No status: figure suppressed"),
    "missing": N_("No status: no figure"),
    "wrong": N_("No status: the target is set wrongly"),
}

TREND_WORDS = {
    ("up", None): N_("↗ rising"),
    ("up", "better"): N_("↗ rising (better)"),
    ("up", "worse"): N_("↗ rising (worse)"),
    ("down", None): N_("↘ falling"),
    ("down", "better"): N_("↘ falling (better)"),
    ("down", "worse"): N_("↘ falling (worse)"),
    ("flat", None): N_("→ no clear change"),
    ("few", None): N_("Too few figures to tell"),
    ("overlap", None): N_("Not judged: each figure covers the 12 months to its period, so neighbours overlap"),
}


def drill_dims(settings: Settings) -> tuple[str, ...]:
    """The dimensions a row can be broken down by: region, each group attribute, channel, service."""
    return ("region", *settings.groups, "channel", "service")


def ordered_metrics(settings: Settings) -> tuple[str, ...]:
    """Indicators with a target first, then the headline ones, then the rest by family."""
    targeted = [m for m in settings.targets if m in CATALOGUE]
    headline = [m for m in settings.dashboard.headline if m in CATALOGUE]
    rest = [m.id for family, _title, _question in FAMILIES for m in CATALOGUE_LIST if m.family == family]
    order = list(dict.fromkeys([*targeted, *headline, *rest, *CATALOGUE]))
    return tuple(m for m in order if m not in DISTRIBUTIONS)


def indicator_name(metric: str) -> str:
    """The name, saying which categories an indicator computed across categories is across."""
    if CATALOGUE[metric].is_across:
        return _("{name} (across regions)").format(name=metric_name(metric))
    return metric_name(metric)


def resolve_indicator(settings: Settings, value: Any) -> tuple[str, list[str]]:
    if isinstance(value, list):
        value = value[-1] if value else None
    order = ordered_metrics(settings)
    if value in (None, "", ids.ALL):
        return order[0], []
    if value not in order:
        return order[0], [_("{value!r} is not an indicator of the tracker; showing {name}.").format(
            value=value, name=metric_name(order[0]))]  # fmt: skip
    return str(value), []


def resolve_dim(settings: Settings, value: Any) -> tuple[str, list[str]]:
    if isinstance(value, list):
        value = value[-1] if value else None
    dims = drill_dims(settings)
    if value in (None, "", ids.ALL):
        return dims[0], []
    if value not in dims:
        return dims[0], [_("{value!r} is not a dimension to break down by; showing {dim}.").format(
            value=value, dim=dim_label(settings, dims[0]).lower())]  # fmt: skip
    return str(value), []


# --- one figure in words -----------------------------------------------------------------


def frame(engine: Engine, settings: Settings, metric: str, view: View, version: int | None,
          breakdown: tuple[str, ...] = ()) -> pd.DataFrame | None:  # fmt: skip
    """Every period of the view's slice (broken down by `breakdown`); None when not computed."""
    across = "region" if CATALOGUE[metric].is_across else ""
    return data.view_cells(engine, metric, view, version, settings.privacy.min_cell_size,
                           breakdown=breakdown, across=across, whole_range=True)  # fmt: skip


def value_words(cell: dict[str, Any] | None, unit: str, min_cell_size: int) -> str:
    """A cell's value, or why there is none (never 0, never blank)."""
    state = cell_state(cell)
    if state == "value":
        assert cell is not None
        return format_value(cell["value"], unit)
    if state == "suppressed":
        assert cell is not None
        return suppressed_text(cell.get("note"), min_cell_size)
    note = cell.get("note") if cell else None
    if isinstance(note, str) and note.strip():
        return _("No figure: {why}").format(why=note_text(note))
    return _("No figure")


def n_words(cell: dict[str, Any] | None) -> str:
    state = cell_state(cell)
    if state == "suppressed":
        return _("Suppressed")
    if cell is None or not is_number(cell.get("n")):
        return _("No figure") if state == "missing" else _("Not known")
    return format_count(cell["n"])


def interval_words(cell: dict[str, Any] | None, unit: str) -> str:
    state = cell_state(cell)
    if state == "suppressed":
        return _("Suppressed")
    if state == "missing" or cell is None:
        return _("No figure")
    low, high = cell.get("ci_low"), cell.get("ci_high")
    if is_number(low) and is_number(high):
        return _("{first} to {last}").format(first=format_value(low, unit), last=format_value(high, unit))
    return _("No interval")


def value_of(cell: dict[str, Any] | None) -> float | None:
    return float(cell["value"]) if cell_state(cell) == "value" else None  # type: ignore[index]


def status_of(settings: Settings, metric: str, cell: dict[str, Any] | None, sliced: bool) -> tuple[str, str]:
    """(status key, words with a shape): on_track, at_risk, off_track, or none with the reason."""
    definition = CATALOGUE[metric]
    target = target_for(settings, metric, by_region=sliced)
    if target is None:
        if definition.direction == "neutral":
            reason = "neutral"
        elif target_for(settings, metric, by_region=False) is not None:
            reason = "whole"
        else:
            reason = "no_target"
        return "none", f"{STATUS_ICON['none']} {_(NO_STATUS[reason])}"
    try:
        s = status(value_of(cell), target.target, target.threshold, definition.direction)
    except ValueError:
        return "none", f"{STATUS_ICON['none']} {_(NO_STATUS['wrong'])}"
    if s is None:
        reason = "suppressed" if cell_state(cell) == "suppressed" else "missing"
        return "none", f"{STATUS_ICON['none']} {_(NO_STATUS[reason])}"
    return s, f"{STATUS_ICON[s]} {_(STATUS_LABELS[s])}"


def target_words(settings: Settings, metric: str, sliced: bool) -> tuple[str, str]:
    """(target, threshold) in words."""
    definition = CATALOGUE[metric]
    unit = definition.unit
    target = target_for(settings, metric, by_region=sliced)
    if target is None:
        if definition.direction == "neutral":
            return _("None: neither higher nor lower is better"), _("None")
        whole = target_for(settings, metric, by_region=False)
        if whole is not None:
            return (_("For everyone together only: {value}").format(value=format_value(whole.target, unit)),
                    _("For everyone together only"))  # fmt: skip
        return _("No target set"), _("No threshold set")
    t, h = format_value(target.target, unit), format_value(target.threshold, unit)
    if definition.direction == "lower_is_better":
        return _("{value} or less").format(value=t), _("Off track above {value}").format(value=h)
    return _("{value} or more").format(value=t), _("Off track below {value}").format(value=h)


def change_words(cell: dict[str, Any] | None, previous: dict[str, Any] | None, unit: str) -> str:
    if cell_state(cell) != "value":
        return _("No comparison: no figure now")
    state = cell_state(previous)
    if state == "suppressed":
        return _("No comparison: suppressed then")
    if state == "missing":
        return _("No comparison: no figure then")
    change = format_change(value_of(cell) - value_of(previous), unit)  # type: ignore[operator]
    return _("No change") if change is None else change


def _nan(x: float | None) -> float:
    return np.nan if x is None else x


def trend(values: np.ndarray, direction: str) -> tuple[str, str | None]:
    """(up | down | flat | few, better | worse | None) of the last periods' values (NaN where
    there is no figure), from the XmR signals at the latest known figure."""
    x = np.asarray(values, dtype=float)
    known = np.flatnonzero(~np.isnan(x))
    limits = xmr_limits(x, len(x))
    if known.size < TREND_MIN_KNOWN or limits is None:
        return "few", None
    last = int(known[-1])
    rules = signals(x, limits)[last]
    if "outside limits" in rules:
        up = bool(x[last] > limits.upper)
    elif "trend of 6" in rules:
        up = bool(x[last] > x[last - 1])
    elif "run of 8" in rules:
        up = bool(x[last] > limits.centre)
    else:
        return "flat", None
    key = "up" if up else "down"
    if direction == "neutral":
        return key, None
    better = (key == "up") == (direction == "higher_is_better")
    return key, "better" if better else "worse"


def trend_words(key: tuple[str, str | None]) -> str:
    return _(TREND_WORDS[key])


# --- the grid ----------------------------------------------------------------------------


def previous_period(periods: tuple[dt.date, ...] | list[dt.date], period: dt.date) -> dt.date | None:
    known = list(periods)
    if period not in known:
        return None
    i = known.index(period)
    return known[i - 1] if i > 0 else None


def window(periods: tuple[dt.date, ...] | list[dt.date], end: dt.date, size: int = TREND_PERIODS) -> list[dt.date]:
    known = [p for p in periods if p <= end]
    return known[-size:]


def _by_period(df: pd.DataFrame | None) -> dict[dt.date, dict[str, Any]]:
    return {} if df is None else {row["period"]: row for row in data.records(df)}


def kpi_rows(engine: Engine, settings: Settings, view: View, version: int | None) -> list[dict[str, Any]]:
    """One row per indicator for the view's end period and slice, every figure in words."""
    assert view.end is not None
    periods = data.periods(engine, view.grain, version)
    before = previous_period(periods, view.end)
    last12 = window(periods, view.end)
    sliced = bool(view.slice())
    mcs = settings.privacy.min_cell_size
    rows = []
    for metric in ordered_metrics(settings):
        definition = CATALOGUE[metric]
        unit = definition.unit
        df = frame(engine, settings, metric, view, version)
        cells = _by_period(df)
        cell = cells.get(view.end)
        previous = cells.get(before) if before else None
        key, status_text = status_of(settings, metric, cell, sliced)
        target, threshold = target_words(settings, metric, sliced)
        if df is None:
            value = _("Not computed for this combination")
            n, change, trend_text = _("Not computed"), _("No comparison: not computed"), _("Not computed")
        else:
            value, n = value_words(cell, unit, mcs), n_words(cell)
            change = change_words(cell, previous, unit) if before else _("No earlier period")
            series = np.array([_nan(value_of(cells.get(p))) for p in last12], dtype=float)
            # XmR signals assume independent points; rolling 12-month figures are not.
            overlap = definition.overlaps(view.grain)
            trend_text = trend_words(("overlap", None) if overlap else trend(series, definition.direction))
        note = cell.get("note") if cell and cell_state(cell) == "value" else None
        rows.append({
            "metric": metric,
            "indicator": indicator_name(metric),
            "state": "missing" if df is None else cell_state(cell),
            "value_number": value_of(cell),
            "value": value,
            "n": n,
            "target": target,
            "threshold": threshold,
            "status_key": key,
            "status": status_text,
            "change": change,
            "trend": trend_text,
            "note": note_text(note) if isinstance(note, str) and note.strip() else "",
        })  # fmt: skip
    return rows


def grid_summary(rows: list[dict[str, Any]], settings: Settings, view: View) -> str:
    assert view.end is not None
    counts = {k: sum(r["status_key"] == k for r in rows) for k in ("on_track", "at_risk", "off_track", "none")}
    text = _("{n} indicators for {slice}, {period}: {on} on track, {risk} at risk, {off} off track, {none} without "
             "a status.").format(n=len(rows), slice=slice_label(settings, view.slice()),
                                 period=period_label(view.end, view.grain), on=counts["on_track"],
                                 risk=counts["at_risk"], off=counts["off_track"], none=counts["none"])  # fmt: skip
    return text + " " + _(
        "The trend says rising or falling only where an XmR chart of the last 12 periods signals a real change at "
        "the latest figure (a point outside the control limits, 8 in a row on one side of the centre line, or 6 "
        "in a row rising or falling); otherwise it says no clear change."
    )


GRID_TEXT_ZH = {
    "noRowsToShow": "没有可显示的行",
    "loadingOoo": "加载中……",
    "ariaRowSelect": "按空格键选择此行",
    "ariaRowDeselect": "按空格键取消选择此行",
    "ariaRowToggleSelection": "按空格键切换行选择",
}


def kpi_grid(rows: list[dict[str, Any]], view: View, periods: tuple[dt.date, ...], selected: str | None) -> Any:
    """The indicators as an AG Grid: keyboard-navigable (arrows, Space selects a row)."""
    assert view.end is not None
    before = previous_period(periods, view.end)
    change_head = (_("Change since {period}").format(period=period_label(before, view.grain)) if before
                   else _("Change since the period before"))  # fmt: skip
    cell = {"lineHeight": "1.4", "paddingTop": "6px", "paddingBottom": "6px"}
    conditions = [
        {"condition": f"params.data.status_key === '{k}'", "style": {**cell, **style, "fontWeight": 600}}
        for k, style in STATUS_STYLE.items()
    ]
    columns = [
        {"field": "indicator", "headerName": _("Indicator"), "minWidth": 220, "flex": 2},
        {"field": "value", "headerName": _("Value"), "minWidth": 130, "flex": 1},
        {"field": "n", "headerName": _("Based on (n)"), "minWidth": 110, "flex": 1},
        {"field": "target", "headerName": _("Target"), "minWidth": 130, "flex": 1},
        {"field": "threshold", "headerName": _("Threshold"), "minWidth": 130, "flex": 1},
        {"field": "status", "headerName": _("Status"), "minWidth": 150, "flex": 1,
         "cellStyle": {"styleConditions": conditions, "defaultStyle": cell}},
        {"field": "change", "headerName": change_head, "minWidth": 130, "flex": 1},
        {"field": "trend", "headerName": _("Trend, last 12 periods"), "minWidth": 150, "flex": 1},
        {"field": "note", "headerName": _("Note"), "minWidth": 140, "flex": 1},
    ]  # fmt: skip
    options: dict[str, Any] = {
        "domLayout": "autoHeight",
        "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
        "ensureDomOrder": True,
        "suppressCellFocus": False,
    }
    if lang() == "zh":
        options["localeText"] = GRID_TEXT_ZH
    fields = ("metric", "indicator", "value", "n", "target", "threshold", "status", "status_key", "change",
              "trend", "note")  # fmt: skip
    return dag.AgGrid(
        id=GRID,
        rowData=[{k: r[k] for k in fields} for r in rows],
        columnDefs=columns,
        defaultColDef={"sortable": False, "resizable": True, "wrapText": True, "autoHeight": True,
                       "wrapHeaderText": True, "autoHeaderHeight": True, "suppressMovable": True,
                       "suppressHeaderMenuButton": True, "cellStyle": cell},
        getRowId="params.data.metric",
        dashGridOptions=options,
        selectedRows={"ids": [selected]} if selected else [],
        style={"height": None, "width": "100%"},
    )


def grid_block(engine: Engine, settings: Settings, view: View, version: int | None, rows: list[dict[str, Any]],
               selected: str | None) -> html.Section:  # fmt: skip
    assert view.end is not None
    heading_id = GRID_LABEL
    title = _("Indicators, {period}, {slice}").format(period=period_label(view.end, view.grain),
                                                       slice=slice_label(settings, view.slice()))  # fmt: skip
    periods = data.periods(engine, view.grain, version)
    excluded = _(", ").join(metric_name(m) for m in DISTRIBUTIONS if m in CATALOGUE)
    return html.Section(
        [
            html.H2(title, id=heading_id, className="h4 mt-3"),
            html.P(grid_summary(rows, settings, view), className="chart-caption", id=ids.block(PAGE, "grid-summary")),
            html.P(_("Choose a row (click it, or move to it with the arrow keys and press Space) to break that "
                     "indicator down below."), className="small"),
            html.Div(kpi_grid(rows, view, periods, selected), id=GRID_WRAP, **{"data-labelledby": heading_id}),
            html.P(_("Not in the grid, because they are distributions rather than single figures: {names}.").format(
                names=excluded), className="small mt-2"),
        ],
        id=ids.block(PAGE, "grid"),
        className="block",
        **{"aria-labelledby": heading_id},
    )


# --- the drill-down ----------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    """One indicator broken down by one dimension at the view's end period, as data."""

    metric: str
    dim: str
    rows: list[dict[str, Any]]  # ordered: furthest on the wrong side first, then no figure
    reference: float | None  # what "wrong side" is measured from (the target, else the slice's own figure)
    reference_kind: str  # target | overall | none
    computed: bool
    breakdown: tuple[str, ...]


def drill_data(engine: Engine, settings: Settings, view: View, version: int | None, metric: str, dim: str) -> Drill:
    assert view.end is not None
    definition = CATALOGUE[metric]
    unit = definition.unit
    mcs = settings.privacy.min_cell_size
    periods = data.periods(engine, view.grain, version)
    before = previous_period(periods, view.end)
    df = frame(engine, settings, metric, view, version, (dim,))
    if df is None:
        return Drill(metric, dim, [], None, "none", False, view.by(dim))
    target = target_for(settings, metric, by_region=True)
    reference, kind = (target.target, "target") if target is not None else (None, "none")
    if target is None and definition.unit != "count":
        overall = _by_period(frame(engine, settings, metric, view, version)).get(view.end)
        if cell_state(overall) == "value":
            reference, kind = value_of(overall), "overall"
    now = df[df["period"] == view.end]
    then = df[df["period"] == before] if before else df.iloc[:0]
    by_value = {row["dims"].get(dim): row for row in data.records(now)}
    then_by_value = {row["dims"].get(dim): row for row in data.records(then)}
    fixed = view.slice().get(dim)
    values = [fixed] if fixed else list(dim_values(settings, dim))
    values += sorted(v for v in by_value if v not in values)
    rows = []
    for v in values:
        cell = by_value.get(v)
        x = value_of(cell)
        key, words = status_of(settings, metric, cell, True)
        prev_key, _prev_words = status_of(settings, metric, then_by_value.get(v), True)
        distance = None
        if x is not None and reference is not None:
            distance = x - reference
            if definition.direction == "higher_is_better":
                distance = -distance  # positive: on the wrong side (below)
            elif definition.direction == "neutral":
                distance = abs(distance)
        rows.append({
            "value_id": v,
            "label": value_label(settings, dim, v),
            "state": cell_state(cell),
            "value": x,
            "value_text": value_words(cell, unit, mcs),
            "n_text": n_words(cell),
            "interval_text": interval_words(cell, unit),
            "note": cell.get("note") if cell else None,
            "ci_low": cell.get("ci_low") if x is not None and cell else None,
            "ci_high": cell.get("ci_high") if x is not None and cell else None,
            "status_key": key,
            "status_text": words,
            "previous_status_key": prev_key,
            "distance": distance,
        })  # fmt: skip
    with_value = [r for r in rows if r["value"] is not None]
    without = [r for r in rows if r["value"] is None]
    if dim in settings.groups:
        pass  # population groups keep their configured order: compared, never ranked
    elif reference is not None:
        with_value.sort(key=lambda r: (-r["distance"], r["label"]))
    else:
        with_value.sort(key=lambda r: (-r["value"], r["label"]))
    return Drill(metric, dim, with_value + without, reference, kind, True, view.by(dim))


def drill_order_text(d: Drill, settings: Settings) -> str:
    unit = CATALOGUE[d.metric].unit
    direction = CATALOGUE[d.metric].direction
    if d.dim in settings.groups:
        return _("Population groups are listed in their usual order, each against the target or the figure for "
                 "everyone, never ranked against each other.")  # fmt: skip
    if d.reference_kind == "none":
        return _("Ordered from the largest value to the smallest.")
    ref = format_value(d.reference, unit)
    if direction == "neutral":
        return _("Ordered from the furthest from the figure for the whole slice ({value}) to the closest; neither "
                 "higher nor lower is better.").format(value=ref)  # fmt: skip
    if d.reference_kind == "target":
        return _("Ordered from the one furthest on the wrong side of the target ({value}) to the one furthest on "
                 "the right side.").format(value=ref)  # fmt: skip
    return _("No target applies to these slices: ordered from the one furthest on the wrong side of the figure "
             "for the whole slice ({value}) to the one furthest on the right side.").format(value=ref)  # fmt: skip


def _status_word(key: str) -> str:
    return _(STATUS_LABELS[key]) if key in STATUS_LABELS else _("No status")


def drill_figure(d: Drill, settings: Settings) -> plot.Figure:
    definition = CATALOGUE[d.metric]
    unit = definition.unit
    shown = [r for r in d.rows if r["value"] is not None]
    ordered = list(reversed(shown))  # Plotly draws the first category at the bottom

    def label(r: dict[str, Any]) -> str:
        # The figure and status beside the name, clear of the whiskers and the target line.
        return _("{name}: {value}, {status}").format(name=r["label"], value=r["value_text"],
                                                     status=_status_word(r["status_key"]))  # fmt: skip

    labels = [label(r) for r in ordered]
    fig = plot.Figure()
    for key in ("on_track", "at_risk", "off_track", "none"):
        part = [r for r in ordered if r["status_key"] == key]
        if not part:
            continue
        colour, pattern = BAR_STYLE[key]
        plus = [(r["ci_high"] - r["value"]) if is_number(r["ci_high"]) else 0 for r in part]
        minus = [(r["value"] - r["ci_low"]) if is_number(r["ci_low"]) else 0 for r in part]
        fig.add_trace(plot.Bar(
            x=[r["value"] for r in part], y=[label(r) for r in part], orientation="h", name=_status_word(key),
            marker={"color": colour, "pattern": {"shape": pattern, "fgcolor": "white", "solidity": 0.3}},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "color": "#222222", "thickness": 1.2,
                     "width": 4, "visible": any(plus) or any(minus)},
            hovertemplate="%{y}<extra></extra>",
        ))  # fmt: skip
    _base_layout(fig, 110 + 34 * max(len(ordered), 1))
    fig.update_layout(barmode="overlay", bargap=0.25, margin={"l": 10, "r": 30, "t": 60, "b": 10})
    if not shown:
        fig.add_annotation(x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                           text=_("Nothing to draw: no category has a figure for this period"),
                           font={"size": 15, "color": REFERENCE})  # fmt: skip
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    if d.reference is not None and d.reference_kind != "none":
        label = (_("Target {value}") if d.reference_kind == "target" else _("Whole slice {value}")).format(
            value=format_value(d.reference, unit))
        fig.add_vline(x=d.reference, line={"color": "#000000", "dash": "dash", "width": 1.5})
        fig.add_annotation(x=d.reference, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=label, font={"color": "#000000", "size": 13})  # fmt: skip
    fig.update_xaxes(tickformat=unit_format(unit).axis_format, gridcolor="#e5e5e5", zeroline=True,
                     zerolinecolor="#888", rangemode="tozero")  # fmt: skip
    fig.update_yaxes(automargin=True, ticks="", categoryorder="array", categoryarray=labels)
    return fig


def drill_summary(d: Drill, settings: Settings, view: View) -> str:
    assert view.end is not None
    name, dim = indicator_name(d.metric), dim_label(settings, d.dim).lower()
    parts = [_("{name} by {dim}, {period}, {slice}.").format(
        name=name, dim=dim, period=period_label(view.end, view.grain), slice=slice_label(settings, view.slice()))]
    shown = [r for r in d.rows if r["value"] is not None]
    parts.append(_("{k} of {total} have a figure.").format(k=len(shown), total=len(d.rows)))
    parts.append(drill_order_text(d, settings))
    for key in ("off_track", "at_risk"):
        names = [r["label"] for r in d.rows if r["status_key"] == key]
        if names:
            parts.append(_("{status}: {names}.").format(status=_(STATUS_LABELS[key]), names=_(", ").join(names)))
    hidden: dict[str, list[str]] = {}
    for r in d.rows:
        if r["value"] is None:
            hidden.setdefault(r["value_text"], []).append(r["label"])
    for reason, names in hidden.items():
        parts.append(_("{reason}, not drawn: {names}.").format(reason=reason, names=_(", ").join(names)))
    return " ".join(parts)


def drill_block(engine: Engine, settings: Settings, view: View, version: int | None, metric: str,
                dim: str) -> html.Section:  # fmt: skip
    assert view.end is not None
    d = drill_data(engine, settings, view, version, metric, dim)
    title = _("{name} by {dim}, {period}").format(name=indicator_name(metric), dim=dim_label(settings, dim).lower(),
                                                   period=period_label(view.end, view.grain))  # fmt: skip
    if not d.computed:
        why = _("{name} is not computed for {dims} together, so it cannot be broken down this way (shown as "
                "missing, not as zero).").format(name=metric_name(metric),
                                                 dims=" × ".join(dim_label(settings, x) for x in d.breakdown))
        return blocks.text_block(PAGE, "drill", title, [html.P(why)], level=2)
    notes = []
    if view.slice().get(dim):
        notes.append(_("The filters already fix the {dim}: choose another dimension to compare its categories.")
                     .format(dim=dim_label(settings, dim).lower()))  # fmt: skip
    head = [dim_label(settings, dim), _("Value"), _("Based on (n)"), intervals.heading(d.rows), _("Status")]
    rows = [[r["label"], r["value_text"], r["n_text"], r["interval_text"], r["status_text"]] for r in d.rows]
    across = "region" if CATALOGUE[metric].is_across else ""
    return blocks.chart_block(PAGE, "drill", title, drill_figure(d, settings), drill_summary(d, settings, view),
                              head, rows, csv=csv_href(metric, view, (dim,), across, latest=True), notes=notes,
                              level=2)  # fmt: skip


# --- alerts ------------------------------------------------------------------------------


def alerts(engine: Engine, settings: Settings, view: View, version: int | None) -> list[str]:
    """What is off track in the view's end period, in words: indicators off track now (and
    whether they crossed their threshold this period), then the slices that crossed theirs."""
    assert view.end is not None
    periods = data.periods(engine, view.grain, version)
    before = previous_period(periods, view.end)
    period = period_label(view.end, view.grain)
    then = period_label(before, view.grain) if before else None
    mcs = settings.privacy.min_cell_size
    sliced = bool(view.slice())
    where = slice_label(settings, view.slice())
    indicators: list[str] = []
    slices: list[str] = []
    already = 0
    targeted = [m for m in ordered_metrics(settings) if target_for(settings, m, by_region=False) is not None]
    for metric in targeted:
        unit = CATALOGUE[metric].unit
        target = target_for(settings, metric, by_region=sliced)
        if target is not None:
            cells = _by_period(frame(engine, settings, metric, view, version))
            now_key, _w = status_of(settings, metric, cells.get(view.end), sliced)
            if now_key == "off_track":
                indicators.append(_off_track(metric, where, cells.get(view.end), cells.get(before) if before else None,
                                             target, unit, period, then, settings, sliced, mcs))  # fmt: skip
        if target_for(settings, metric, by_region=True) is None:
            continue
        for dim in drill_dims(settings):
            if view.slice().get(dim):
                continue
            d = drill_data(engine, settings, view, version, metric, dim)
            for r in d.rows:
                if r["status_key"] != "off_track":
                    continue
                if r["previous_status_key"] == "off_track":
                    already += 1
                    continue
                was = (_(STATUS_LABELS[r["previous_status_key"]]).lower() if r["previous_status_key"] != "none"
                       else _("no status"))  # fmt: skip
                text = _("{name}, {dim} {value}: crossed its threshold in {period}, now {figure} (it was {was} in "
                         "{then}).")
                slices.append(text.format(name=metric_name(metric), dim=dim_label(settings, dim).lower(),
                                          value=r["label"], period=period, figure=r["value_text"], was=was,
                                          then=then or _("the period before")))  # fmt: skip
    out = indicators + slices
    if already:
        out.append(_("{n} more slices were off track in {then} already and still are; the breakdown below lists "
                     "them with their status.").format(n=already, then=then))  # fmt: skip
    if not out:
        out.append(_("Nothing is off track in {period}: no indicator with a target, and none of its slices, is past "
                     "its threshold.").format(period=period))  # fmt: skip
    return out


def _off_track(metric: str, where: str, cell: dict[str, Any] | None, previous: dict[str, Any] | None,
               target: Target, unit: str, period: str, then: str | None, settings: Settings, sliced: bool,
               mcs: int) -> str:  # fmt: skip
    direction = CATALOGUE[metric].direction
    threshold = format_value(target.threshold, unit)
    figure = value_words(cell, unit, mcs)
    if direction == "lower_is_better":
        text = _("{name} is off track in {period} ({slice}): {figure}, above the threshold of {threshold}.")
    else:
        text = _("{name} is off track in {period} ({slice}): {figure}, below the threshold of {threshold}.")
    text = text.format(name=metric_name(metric), slice=where, period=period, figure=figure, threshold=threshold)
    prev_key, _w = status_of(settings, metric, previous, sliced)
    if then is None:
        return text
    if prev_key == "off_track":
        return text + " " + _("It was off track in {then} too.").format(then=then)
    was = _(STATUS_LABELS[prev_key]).lower() if prev_key != "none" else _("no status")
    return text + " " + _("It crossed its threshold this period (it was {was} in {then}).").format(was=was, then=then)


def alerts_block(engine: Engine, settings: Settings, view: View, version: int | None) -> html.Section:
    items = alerts(engine, settings, view, version)
    return blocks.text_block(PAGE, "alerts", _("Alerts"), [html.Ul([html.Li(i) for i in items],
                                                                   id=ids.block(PAGE, "alerts-list"))],
                             level=2)  # fmt: skip


# --- the page ----------------------------------------------------------------------------


def periods_of(engine: Engine, version: int | None) -> filters.Periods:
    return lambda grain: data.periods(engine, grain, version)


def content(engine: Engine, settings: Settings, view: View, version: int | None, metric: str,
            dim: str) -> list[Any]:  # fmt: skip
    """What the filters redraw: the grid, the alerts and the drill-down."""
    rows = kpi_rows(engine, settings, view, version)
    return [
        html.Div(filters.notices(view), role="status"),
        grid_block(engine, settings, view, version, rows, metric),
        alerts_block(engine, settings, view, version),
        html.Div(drill_block(engine, settings, view, version, metric, dim), id=DRILL_BLOCK),
    ]


def controls(settings: Settings, metric: str, dim: str) -> list[Any]:
    return [
        dbc.Col(
            [
                dbc.Label(_("Indicator to break down"), html_for=INDICATOR, className="small mb-1"),
                dbc.Select(id=INDICATOR, value=metric,
                           options=[{"label": indicator_name(m), "value": m} for m in ordered_metrics(settings)]),
            ],
            xs=12, md=6, xl=3, className="filter",
        ),
        dbc.Col(
            [
                dbc.Label(_("Break down by"), html_for=DRILL, className="small mb-1"),
                dbc.Select(id=DRILL, value=dim,
                           options=[{"label": dim_label(settings, d), "value": d} for d in drill_dims(settings)]),
            ],
            xs=6, md=3, xl="auto", className="filter",
        ),
    ]  # fmt: skip


def kpi_layout(engine: Engine, settings: Settings, base: str, params: dict[str, Any] | None = None) -> html.Div:
    params = dict(params or {})
    run = data.refresh_run(engine)
    version = data.version_of(run)
    periods = periods_of(engine, version)
    view = filters.parse_view(params, settings, periods)
    metric, more = resolve_indicator(settings, params.get("indicator"))
    dim, more2 = resolve_dim(settings, params.get("drill"))
    if more or more2:
        view = replace(view, notices=(*view.notices, *more, *more2))
    header = [
        html.H1(_("KPI tracker"), className="h3 mb-1"),
        html.P(as_of_detail(run, settings), className="text-body-secondary"),
    ]
    link = filters.href(base, replace(view, notices=()), {"indicator": metric, "drill": dim})
    return blocks.page_body(PAGE, header, view, settings, periods, link,
                            lambda: content(engine, settings, view, version, metric, dim),
                            extra=controls(settings, metric, dim),
                            tail=[dcc.Store(id=ids.block(PAGE, "grid-named"))])  # fmt: skip
