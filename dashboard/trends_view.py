"""Trends and audit, for auditors: one indicator's whole series with the evidence behind it.

The long series of the view's slice over every period in the store, with the events of
`annotations` marked, XmR control limits and the points that signal real change (computed by
`metrics.control` exactly as `civic-metrics metrics control` does: limits from the first 12
known periods); a before/after comparison around a chosen event (`metrics.control.before_after`,
as `civic-metrics metrics before-after`); the definition behind each figure (catalogue formula
and version, and every definition version the store holds, an older one drawn beside the
current series where it was published); and where the data came from: the newest ETL runs and
the rows refused, by rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy import Engine, func, select

from dashboard import blocks, data, filters, ids, intervals, plot
from dashboard.downloads import csv_href
from dashboard.figures import BAND, LINE, REFERENCE, _base_layout, complete_months, tick_format
from dashboard.filters import View
from dashboard.formatting import (
    format_change,
    format_count,
    format_day,
    format_number,
    format_time,
    format_value,
    is_number,
    month_runs,
    period_label,
    unit_format,
)
from dashboard.i18n import N_, _, lang
from dashboard.kpi_view import frame, indicator_name, interval_words, n_words, ordered_metrics, value_of, value_words
from dashboard.labels import metric_description, metric_name, slice_label
from dashboard.tiles import cell_state
from dashboard.views import as_of_detail
from etl.operations import quarantine_counts, run_log
from metrics import access, query
from metrics.catalogue import CATALOGUE
from metrics.config import Annotation, Settings
from metrics.control import BeforeAfter, Limits, before_after, signals, xmr_limits
from metrics.methodology import DIRECTIONS, UNITS
from metrics.store.models import MetricCell
from metrics.suppression import apply

PAGE = ids.TRENDS
INDICATOR = ids.control(PAGE, "indicator")
EVENT = ids.control(PAGE, "event")
NO_EVENT = "none"

# The baseline of the control limits: the first 12 known periods, the default of
# `civic-metrics metrics control`, so both give the same limits.
BASELINE = 12
RUNS = 20  # ETL runs listed

VERMILLION = "#D55E00"
BLACK = "#000000"
OLD_VERSION = "#555555"

SIGNAL_WORDS = {
    "outside limits": N_("outside the control limits"),
    "run of 8": N_("8 in a row on one side of the centre line"),
    "trend of 6": N_("6 in a row rising or falling"),
}
VERDICT = {
    True: N_("a real change: the 95% interval of the difference excludes zero"),
    False: N_("no real change: the difference is within what chance alone would give"),
    None: N_("undetermined: the figures vary too little to give an interval"),
}
OUTCOMES = {"succeeded": N_("succeeded"), "failed": N_("failed"), "running": N_("running")}


def indicators() -> tuple[str, ...]:
    return tuple(CATALOGUE)


def resolve_indicator(settings: Settings, value: Any) -> tuple[str, list[str]]:
    if isinstance(value, list):
        value = value[-1] if value else None
    default = ordered_metrics(settings)[0]
    if value in (None, "", ids.ALL):
        return default, []
    if value not in ordered_metrics(settings):
        return default, [_("{value!r} is not an indicator with a single series; showing {name}.").format(
            value=value, name=metric_name(default))]  # fmt: skip
    return str(value), []


def events(settings: Settings) -> tuple[Annotation, ...]:
    return tuple(sorted(settings.annotations, key=lambda a: a.date))


def event_label(a: Annotation) -> str:
    return a.label.get(lang())


def resolve_event(settings: Settings, value: Any) -> tuple[Annotation | None, list[str]]:
    """The event the before/after view is around: the one asked for, else the newest."""
    if isinstance(value, list):
        value = value[-1] if value else None
    known = events(settings)
    if not known:
        return None, []
    if value in (None, "", NO_EVENT, ids.ALL):
        return known[-1], []
    for a in known:
        if a.date.isoformat() == value:
            return a, []
    return known[-1], [_("{value!r} is not an event here; showing {label}.").format(
        value=value, label=event_label(known[-1]))]  # fmt: skip


# --- the series and its control chart -----------------------------------------------------


@dataclass(frozen=True)
class Control:
    """A slice's series with its XmR limits and signals, as `metrics.query.control_chart` gives them."""

    cells: pd.DataFrame  # the stored periods, oldest first, with a `signals` column
    limits: Limits | None


def overlap_text() -> str:
    return _("No control limits or before-and-after test at this period length: each figure covers the 12 months "
             "to its period, so neighbouring figures share most of their cases and drift together. Choose Year "
             "to read them.")


def control_data(df: pd.DataFrame, overlapping: bool = False) -> Control:
    """XmR limits from the first `BASELINE` known values and the run-rule signals of each stored
    period: the same calls on the same values as `metrics.query.control_chart`. None for
    figures of overlapping windows (`MetricDefinition.overlaps`): XmR assumes independent
    points, and rolling figures drift together."""
    cells = df.sort_values("period").reset_index(drop=True).copy()
    values = cells["value"].to_numpy(dtype=float)
    limits = None if overlapping else xmr_limits(values, BASELINE)
    cells["signals"] = signals(values, limits) if limits else [[] for _ in range(len(cells))]
    return Control(cells, limits)


def signal_words(rules: list[str]) -> str:
    return _("; ").join(_(SIGNAL_WORDS[r]) for r in rules if r in SIGNAL_WORDS)


def runs(periods: list[dt.date], grain: str) -> str:
    if grain == "month":
        return month_runs(periods)
    return _(", ").join(period_label(p, grain) for p in sorted(periods))


@dataclass(frozen=True)
class VersionRange:
    version: int
    first: dt.date
    last: dt.date
    cells: int


@lru_cache(maxsize=64)
def definition_versions(engine: Engine, metric: str, grain: str, data_version: int | None) -> tuple[VersionRange, ...]:
    """Every definition version of `metric` the store holds at `grain`, with the periods it
    covers (`data_version` only keys the cache). Structure only: no figure is read here."""
    t = MetricCell.__table__
    q = (
        select(t.c.definition_version, func.min(t.c.period), func.max(t.c.period), func.count())
        .where(t.c.metric == metric, t.c.grain == grain)
        .group_by(t.c.definition_version)
        .order_by(t.c.definition_version)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return tuple(VersionRange(int(v), pd.Timestamp(a).date(), pd.Timestamp(b).date(), int(n)) for v, a, b, n in rows)


def older_cells(engine: Engine, settings: Settings, metric: str, view: View, definition_version: int) -> pd.DataFrame:
    """The view's slice of an older definition version of `metric`, every period, suppressed
    like every read (`metrics.query`'s decision for the indicator's family and the same
    `apply`: a figure hidden now stays hidden in the older series)."""
    mcs = settings.privacy.min_cell_size
    by = view.by()
    across = "region" if CATALOGUE[metric].is_across else ""
    t = MetricCell.__table__
    q = (
        select(*(t.c[c] for c in query.COLUMNS))
        .where(t.c.metric == metric, t.c.definition_version == definition_version, t.c.grain == view.grain,
               t.c.dim_names == query.dim_names(by), t.c.across == across)
        .order_by(t.c.period, t.c.dims_key)
    )  # fmt: skip
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    df["period"] = pd.to_datetime(df["period"]).dt.date
    df = apply(df, query.suppression_decision(engine, metric, mcs).pattern(df), mcs)
    df["dims"] = df["dims_key"].map(query.parse_dims)
    for dim, value in view.slice().items():
        df = data.having(df, dim, value)
    return access.restrict(df).reset_index(drop=True)  # the reader's scope, as every read


def _x(periods: Any) -> list[pd.Timestamp]:
    return [pd.Timestamp(p) for p in periods]


def _known(df: pd.DataFrame) -> list[float | None]:
    return [float(r["value"]) if cell_state(r) == "value" else None for r in data.records(df)]


def control_figure(c: Control, drawn: pd.DataFrame, metric: str, view: View, shown_events: list[Annotation],
                   older: dict[int, pd.DataFrame], breaks: list[VersionRange]) -> plot.Figure:  # fmt: skip
    """The whole series with its 95% band, centre line and control limits, the signals as
    diamonds, events and definition changes as labelled vertical lines."""
    unit = CATALOGUE[metric].unit
    fmt = unit_format(unit)
    x = _x(drawn["period"])
    y = _known(drawn)
    fig = plot.Figure()
    lo = [float(v) if is_number(v) and y[i] is not None else None for i, v in enumerate(drawn.get("ci_low", []))]
    hi = [float(v) if is_number(v) and y[i] is not None else None for i, v in enumerate(drawn.get("ci_high", []))]
    if any(v is not None for v in lo) and any(v is not None for v in hi):
        band = intervals.heading(data.records(drawn))
        fig.add_trace(plot.Scatter(x=x, y=hi, mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False,
                                   connectgaps=False, name=band))
        fig.add_trace(plot.Scatter(x=x, y=lo, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=BAND,
                                   hoverinfo="skip", connectgaps=False, name=band))  # fmt: skip
    labels = [period_label(p, view.grain) for p in drawn["period"]]
    fig.add_trace(plot.Scatter(
        x=x, y=y, mode="lines+markers", name=metric_name(metric), connectgaps=False,
        line={"color": LINE, "width": 2.5}, marker={"size": 6, "color": LINE}, customdata=labels,
        hovertemplate=f"%{{customdata}}: %{{y:{fmt.hover_format}}}<extra></extra>",
    ))  # fmt: skip
    for version, old in sorted(older.items()):
        old = old.sort_values("period")
        fig.add_trace(plot.Scatter(
            x=_x(old["period"]), y=_known(old), mode="lines+markers", connectgaps=False,
            name=_("Version {v} (earlier definition)").format(v=version),
            line={"color": OLD_VERSION, "width": 2, "dash": "dash"}, marker={"size": 5, "symbol": "x"},
        ))  # fmt: skip
    _base_layout(fig, 460)
    fig.update_layout(margin={"l": 10, "r": 20, "t": 110, "b": 10})
    if all(v is None for v in y):
        fig.add_annotation(x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                           text=_("Nothing to draw: every period is suppressed or has no figure"),
                           font={"size": 15, "color": REFERENCE})  # fmt: skip
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    if c.limits is not None:
        ends = [x[0], x[-1]]
        fig.add_trace(plot.Scatter(x=ends, y=[c.limits.centre] * 2, mode="lines", hoverinfo="skip",
                                 name=_("Centre line"), line={"color": REFERENCE, "width": 1.5}))
        fig.add_trace(plot.Scatter(x=ends, y=[c.limits.upper] * 2, mode="lines", hoverinfo="skip",
                                 name=_("Control limits"), line={"color": REFERENCE, "width": 1.5, "dash": "dash"}))
        fig.add_trace(plot.Scatter(x=ends, y=[c.limits.lower] * 2, mode="lines", hoverinfo="skip", showlegend=False,
                                 name=_("Control limits"), line={"color": REFERENCE, "width": 1.5, "dash": "dash"}))
        flagged = c.cells[c.cells["signals"].map(bool)]
        if not flagged.empty:
            fig.add_trace(plot.Scatter(
                x=_x(flagged["period"]), y=flagged["value"].astype(float).tolist(), mode="markers",
                name=_("Signal of real change"),
                marker={"symbol": "diamond-open", "size": 13, "color": VERMILLION, "line": {"width": 2.5}},
                customdata=[f"{period_label(p, view.grain)}: {signal_words(s)}"
                            for p, s in zip(flagged["period"], flagged["signals"], strict=True)],
                hovertemplate="%{customdata}<extra></extra>",
            ))  # fmt: skip
    # Labels above the plot, staggered so that neighbouring events do not overwrite each other.
    marks = [(pd.Timestamp(a.date), event_label(a), "dot") for a in shown_events]
    marks += [(pd.Timestamp(b.last), _("Version {v} last published").format(v=b.version), "dashdot") for b in breaks]
    for i, (when, text, dash) in enumerate(sorted(marks, key=lambda m: m[0])):
        fig.add_vline(x=when, line={"color": BLACK, "dash": dash, "width": 1.2})
        fig.add_annotation(x=when, y=1.0 + 0.07 * (i % 3), xref="x", yref="paper", yanchor="bottom", xanchor="left",
                           showarrow=False, text=text, font={"color": BLACK, "size": 12}, bgcolor="white")
    half = pd.Timedelta(days={"week": 3, "month": 15, "quarter": 45, "year": 182}.get(view.grain, 15))
    fig.update_xaxes(showgrid=False, tickformat=tick_format(view.grain), linecolor="#888", ticks="outside",
                     range=[x[0] - half, x[-1] + half])  # fmt: skip
    fig.update_yaxes(tickformat=fmt.axis_format, gridcolor="#e5e5e5", zeroline=False,
                     rangemode="tozero" if unit == "count" else "normal")  # fmt: skip
    fig.update_layout(legend={"y": -0.12, "yanchor": "top"})
    return fig


def control_caption(c: Control, drawn: pd.DataFrame, metric: str, view: View, settings: Settings,
                    shown_events: list[Annotation], breaks: list[VersionRange]) -> str:  # fmt: skip
    unit = CATALOGUE[metric].unit
    where = slice_label(settings, view.slice())
    if drawn.empty:
        return _("{name}, {where}: no figures in the store.").format(name=metric_name(metric), where=where)
    first, last = drawn["period"].iloc[0], drawn["period"].iloc[-1]
    parts = [_("{name}, {where}, every period in the store, from {first} to {last}.").format(
        name=metric_name(metric), where=where, first=period_label(first, view.grain),
        last=period_label(last, view.grain))]  # fmt: skip
    latest = drawn.iloc[-1].to_dict()
    parts.append(_("{period}: {value}.").format(period=period_label(last, view.grain),
                                              value=value_words(latest, unit, settings.privacy.min_cell_size)))
    if c.limits is None and CATALOGUE[metric].overlaps(view.grain):
        parts.append(overlap_text())
    elif c.limits is None:
        parts.append(_("Too few known figures to set control limits."))
    else:
        parts.append(_("Centre line {centre}; control limits {lower} to {upper}, from the first {k} known periods "
                       "(computed as civic-metrics metrics control computes them).").format(
            centre=format_value(c.limits.centre, unit), lower=format_value(c.limits.lower, unit),
            upper=format_value(c.limits.upper, unit), k=c.limits.baseline_points))  # fmt: skip
        flagged = [p for p, s in zip(c.cells["period"], c.cells["signals"], strict=True) if s]
        if flagged:
            parts.append(_("{n} periods signal a real change (diamonds): {periods}.").format(
                n=len(flagged), periods=runs(flagged, view.grain)))  # fmt: skip
        else:
            parts.append(_("No period signals a real change: the series stays within what its own variation "
                           "would give."))  # fmt: skip
    if shown_events:
        parts.append(_("Events marked (dotted lines): {events}.").format(events=_("; ").join(
            _("{label}, {day}").format(label=event_label(a), day=format_day(a.date)) for a in shown_events)))
    for b in breaks:
        parts.append(_("Definition version {v} was published up to {last} (dash-dot line); the current version "
                       "recomputes every period, and the earlier figures are drawn dashed.").format(
            v=b.version, last=period_label(b.last, view.grain)))  # fmt: skip
    states = [cell_state(r) for r in data.records(drawn)]
    suppressed = [p for p, s in zip(drawn["period"], states, strict=True) if s == "suppressed"]
    missing = [p for p, s in zip(drawn["period"], states, strict=True) if s == "missing"]
    if suppressed:
        parts.append(_("Suppressed, so left as gaps: {periods}.").format(periods=runs(suppressed, view.grain)))
    if missing:
        parts.append(_("No figure, so left as gaps: {periods}.").format(periods=runs(missing, view.grain)))
    return " ".join(parts)


def control_rows(c: Control, drawn: pd.DataFrame, metric: str, view: View, settings: Settings) -> list[list[str]]:
    unit = CATALOGUE[metric].unit
    mcs = settings.privacy.min_cell_size
    rules = {p: s for p, s in zip(c.cells["period"], c.cells["signals"], strict=True)}
    out = []
    for r in data.records(drawn):
        cell = r if cell_state(r) != "missing" or is_number(r.get("definition_version")) else None
        version = r.get("definition_version")
        out.append([
            period_label(r["period"], view.grain),
            value_words(cell, unit, mcs),
            n_words(cell),
            interval_words(cell, unit),
            signal_words(rules.get(r["period"], [])) or _("None"),
            str(int(version)) if is_number(version) else _("No figure"),
        ])  # fmt: skip
    return out


def control_block(engine: Engine, settings: Settings, view: View, version: int | None, metric: str) -> Any:
    title = _("{name}: the whole series with control limits").format(name=indicator_name(metric))
    df = frame(engine, settings, metric, view, version)
    if df is None:
        return blocks.text_block(PAGE, "control", title, [html.P(not_computed(settings, metric, view))], level=2)
    c = control_data(df, CATALOGUE[metric].overlaps(view.grain))
    periods = data.periods(engine, view.grain, version)
    drawn = complete_months(df, periods[0], periods[-1], periods) if periods else df
    shown = [a for a in events(settings) if periods and periods[0] <= a.date <= periods[-1] + _span(view.grain)]
    current = CATALOGUE[metric].version
    breaks = [v for v in definition_versions(engine, metric, view.grain, version) if v.version != current]
    older = {b.version: older_cells(engine, settings, metric, view, b.version) for b in breaks}
    whole = replace(view, start=None, end=None)
    notes = [_("Every period in the store is shown, whatever the From and To filters say: an audit reads the "
               "whole series. The control limits come from its first {k} known periods.").format(k=BASELINE)]
    head = [_("Period"), _("Value"), _("Based on (n)"), intervals.heading(data.records(drawn)), _("Signal"),
            _("Definition version")]  # fmt: skip
    across = "region" if CATALOGUE[metric].is_across else ""
    return blocks.chart_block(
        PAGE, "control", title, control_figure(c, drawn, metric, view, shown, older, breaks),
        control_caption(c, drawn, metric, view, settings, shown, breaks), head,
        control_rows(c, drawn, metric, view, settings), csv=csv_href(metric, whole, (), across), notes=notes,
        level=2,
    )  # fmt: skip


def _span(grain: str) -> dt.timedelta:
    return dt.timedelta(days={"week": 6, "month": 30, "quarter": 91, "year": 364}.get(grain, 30))


def not_computed(settings: Settings, metric: str, view: View) -> str:
    return _("{name} is not computed for {slice} (the store holds no such breakdown): shown as missing, not as "
             "zero.").format(name=metric_name(metric), slice=slice_label(settings, view.slice()))  # fmt: skip


# --- before and after an event ------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    event: Annotation
    result: BeforeAfter | None
    before: list[dt.date]
    after: list[dt.date]
    reason: str | None  # why there is no comparison


def event_index(periods: list[dt.date], event: dt.date) -> int | None:
    """Where the "after" side starts: the period holding the event (as
    `metrics.query.compare_before_after`); None when the event is after the last period."""
    after = [i for i, p in enumerate(periods) if p >= event]
    if not after:
        return None
    return after[0] - 1 if after[0] > 0 and periods[after[0]] > event else after[0]


def comparison(df: pd.DataFrame, event: Annotation) -> Comparison:
    cells = df.sort_values("period").reset_index(drop=True)
    periods = list(cells["period"])
    index = event_index(periods, event.date)
    if index is None:
        return Comparison(event, None, [], [], _("The event is after the last period in the store."))
    result = before_after(cells["value"].to_numpy(dtype=float), index)
    if result is None:
        return Comparison(event, None, [], [], _("Fewer than 2 known periods on one side of the event."))
    k = result.periods
    return Comparison(event, result, periods[index - k: index], periods[index: index + k], None)


def comparison_figure(cmp: Comparison, df: pd.DataFrame, metric: str, view: View) -> plot.Figure:
    unit = CATALOGUE[metric].unit
    fmt = unit_format(unit)
    fig = plot.Figure()
    by_period = {r["period"]: r for r in data.records(df)}
    assert cmp.result is not None
    for side, periods, colour, symbol, mean in (
        (_("Before"), cmp.before, LINE, "circle", cmp.result.before_mean),
        (_("After"), cmp.after, VERMILLION, "square", cmp.result.after_mean),
    ):
        x = _x(periods)
        y = [value_of(by_period.get(p)) for p in periods]
        fig.add_trace(plot.Scatter(x=x, y=y, mode="markers+lines", name=side, connectgaps=False,
                                 line={"color": colour, "width": 1.5}, marker={"symbol": symbol, "size": 9,
                                                                                "color": colour},
                                 customdata=[period_label(p, view.grain) for p in periods],
                                 hovertemplate=f"%{{customdata}}: %{{y:{fmt.hover_format}}}<extra></extra>"))
        fig.add_trace(plot.Scatter(x=[x[0], x[-1]], y=[mean, mean], mode="lines", hoverinfo="skip",
                                 name=_("{side}: mean {value}").format(side=side, value=format_value(mean, unit)),
                                 line={"color": colour, "width": 3, "dash": "dash"}))  # fmt: skip
    _base_layout(fig, 360)
    when = pd.Timestamp(cmp.event.date)
    fig.add_vline(x=when, line={"color": BLACK, "dash": "dot", "width": 1.2})
    fig.add_annotation(x=when, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=event_label(cmp.event), font={"color": BLACK, "size": 12}, bgcolor="white")
    fig.update_layout(margin={"l": 10, "r": 20, "t": 70, "b": 10}, legend={"y": -0.15, "yanchor": "top"})
    fig.update_xaxes(showgrid=False, tickformat=tick_format(view.grain), linecolor="#888", ticks="outside")
    fig.update_yaxes(tickformat=fmt.axis_format, gridcolor="#e5e5e5", zeroline=False)
    return fig


def comparison_text(cmp: Comparison, metric: str, view: View) -> str:
    assert cmp.result is not None
    unit = CATALOGUE[metric].unit
    r = cmp.result
    parts = [_("{k} periods before {event} ({first} to {last}) against the {k} from the period holding it ({afirst} "
               "to {alast}).").format(k=r.periods, event=event_label(cmp.event),
                                      first=period_label(cmp.before[0], view.grain),
                                      last=period_label(cmp.before[-1], view.grain),
                                      afirst=period_label(cmp.after[0], view.grain),
                                      alast=period_label(cmp.after[-1], view.grain)),
             _("Mean before {before}, after {after}: a difference of {diff}.").format(
                 before=format_value(r.before_mean, unit), after=format_value(r.after_mean, unit),
                 diff=difference(r.difference, unit))]  # fmt: skip
    if r.ci_low is not None and r.ci_high is not None:
        parts.append(_("95% interval of the difference: {low} to {high}.").format(
            low=difference(r.ci_low, unit), high=difference(r.ci_high, unit)))  # fmt: skip
    parts.append(_("Verdict: {verdict}.").format(verdict=_(VERDICT[r.real_change])))
    return " ".join(parts)


def difference(x: float, unit: str) -> str:
    """A signed difference in the unit, or "no difference" when it rounds to nothing."""
    text = format_change(x, unit)
    return text if text is not None else _("no difference")


def comparison_block(engine: Engine, settings: Settings, view: View, version: int | None, metric: str,
                     event: Annotation | None) -> Any:  # fmt: skip
    if event is None:
        return blocks.text_block(PAGE, "before-after", _("Before and after an event"), [html.P(
            _("No events are configured (annotations in config.yaml), so there is nothing to compare around."))],
            level=2)  # fmt: skip
    title = _("Before and after: {event}").format(event=event_label(event))
    df = frame(engine, settings, metric, view, version)
    if df is None:
        return blocks.text_block(PAGE, "before-after", title, [html.P(not_computed(settings, metric, view))], level=2)
    if CATALOGUE[metric].overlaps(view.grain):
        return blocks.text_block(PAGE, "before-after", title, [html.P(
            _("No comparison around {event}: {reason}").format(event=event_label(event),
                                                               reason=overlap_text().rstrip(".")))],
            level=2)  # fmt: skip
    cmp = comparison(df, event)
    if cmp.result is None:
        return blocks.text_block(PAGE, "before-after", title, [html.P(
            _("No comparison around {event}: {reason}").format(event=event_label(event), reason=cmp.reason))],
            level=2)  # fmt: skip
    unit = CATALOGUE[metric].unit
    r = cmp.result
    known_before = sum(value_of(c) is not None for c in data.records(df[df["period"].isin(cmp.before)]))
    known_after = sum(value_of(c) is not None for c in data.records(df[df["period"].isin(cmp.after)]))
    interval = (_("{low} to {high}").format(low=difference(r.ci_low, unit), high=difference(r.ci_high, unit))
                if r.ci_low is not None and r.ci_high is not None else _("No interval"))  # fmt: skip
    rows = [
        [_("Before"), _("{first} to {last}").format(first=period_label(cmp.before[0], view.grain),
                                                    last=period_label(cmp.before[-1], view.grain)),
         format_count(known_before), format_value(r.before_mean, unit), ""],
        [_("After"), _("{first} to {last}").format(first=period_label(cmp.after[0], view.grain),
                                                   last=period_label(cmp.after[-1], view.grain)),
         format_count(known_after), format_value(r.after_mean, unit), ""],
        [_("Difference (after − before)"), "", "", difference(r.difference, unit), interval],
        [_("Verdict"), "", "", _(VERDICT[r.real_change]), ""],
    ]  # fmt: skip
    rows = [[cell or "–" for cell in row] for row in rows]
    head = [_("Side"), _("Periods"), _("Known figures"), _("Mean"), _("95% interval")]
    window = replace(view, start=cmp.before[0], end=cmp.after[-1])
    across = "region" if CATALOGUE[metric].is_across else ""
    notes = [_("Equal numbers of periods either side of the event, as many as both sides have; the period holding "
               "the event counts as after. Welch's 95% interval for the difference of the means, as "
               "civic-metrics metrics before-after gives it.")]  # fmt: skip
    return blocks.chart_block(PAGE, "before-after", title, comparison_figure(cmp, df, metric, view),
                              comparison_text(cmp, metric, view), head, rows,
                              csv=csv_href(metric, window, (), across), notes=notes, level=2)  # fmt: skip


# --- definitions and versions --------------------------------------------------------------


def definition_block(engine: Engine, settings: Settings, view: View, version: int | None, metric: str) -> Any:
    m = CATALOGUE[metric]
    language = lang()
    versions = definition_versions(engine, metric, view.grain, version)
    items = [
        (_("What it measures"), metric_description(metric)),
        (_("Formula"), html.Code(m.formula, lang="en", className="text-body")),
        (_("Unit"), UNITS[m.unit].get(language) if m.unit in UNITS else m.unit),
        (_("Better"), DIRECTIONS[m.direction].get(language) if m.direction in DIRECTIONS else m.direction),
        (_("What n counts"), _(m.n_means)),
        (_("Current definition version"), str(m.version)),
    ]
    dl = html.Dl([part for term, detail in items for part in (html.Dt(term), html.Dd(detail))],
                 className="definition-list")  # fmt: skip
    head = [_("Definition version"), _("First period"), _("Last period"), _("Stored figures (every slice)"),
            _("Status")]
    rows = [[str(v.version), period_label(v.first, view.grain), period_label(v.last, view.grain), format_count(v.cells),
             _("Current: every figure above") if v.version == m.version else _("Earlier: kept as published, no longer "
                                                                               "refreshed")]
            for v in versions]  # fmt: skip
    body: list[Any] = [dl, html.H3(_("Definition versions in the store"), className="h6 mt-3",
                                   id=ids.block(PAGE, "versions-title"))]
    if rows:
        body.append(blocks.data_table(head, rows, table_id=ids.table(PAGE, "versions")))
    else:
        body.append(html.P(_("The store holds no figures of this indicator at this period length.")))
    older = [v for v in versions if v.version != m.version]
    if older:
        body.append(html.P(_("A changed definition starts a new series instead of rewriting published history: "
                             "the current version recomputes every period, while the figures published under an "
                             "earlier version stay in the store as they were. The chart draws them dashed and marks "
                             "the last period each was published for.")))  # fmt: skip
    else:
        body.append(html.P(_("Every figure of this indicator in the store was computed with the current definition "
                             "(version {v}): there is no break in the series.").format(v=m.version)))
    return blocks.text_block(PAGE, "definition", _("Definition and versions"), body, level=2)


# --- where the data came from --------------------------------------------------------------


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return _("Not finished")
    ts = pd.Timestamp(value).to_pydatetime()
    return _("{day}, {time} UTC").format(day=format_day(ts), time=format_time(ts))


def etl_rows(engine: Engine, limit: int = RUNS) -> list[list[str]]:
    runs_ = run_log(engine, limit)
    out = []
    for r in data.records(runs_):
        seconds = r.get("seconds")
        out.append([
            _when(r["started_at"]), str(r["job"]), _(OUTCOMES.get(r["status"], r["status"])),
            format_count(r["rows_read"]), format_count(r["rows_loaded"]), format_count(r["rows_quarantined"]),
            _("{s} s").format(s=format_number(seconds, 1)) if is_number(seconds) else _("Not finished"),
            r["error"] if isinstance(r.get("error"), str) and r["error"] else _("None"),
        ])  # fmt: skip
    return out


def quarantine_rows(engine: Engine) -> list[list[str]]:
    counts = quarantine_counts(engine)
    return [[str(r["job"]), str(r["rule"]), format_count(r["rows"])] for r in data.records(counts)]


def operations_block(engine: Engine) -> html.Section:
    heading_id = f"{ids.block(PAGE, 'etl')}-title"
    runs_ = etl_rows(engine)
    refused = quarantine_rows(engine)
    return html.Section(
        [
            html.H2(_("Where the data came from"), id=heading_id, className="h5 mt-4"),
            blocks.text_block(PAGE, "etl-runs", _("The newest {n} loads (ETL runs)").format(n=RUNS), [
                blocks.data_table([_("Started"), _("Source"), _("Outcome"), _("Rows read"), _("Loaded"),
                                   _("Quarantined"), _("Duration"), _("Error")], runs_,
                                  table_id=ids.table(PAGE, "etl-runs"))
                if runs_ else html.P(_("No load has run yet.")),
                html.P(_("A load keeps its promise when rows read equal rows loaded plus rows quarantined."),
                       className="small"),
            ]),
            blocks.text_block(PAGE, "quarantine", _("Refused rows, by rule"), [
                blocks.data_table([_("Source"), _("Rule"), _("Rows")], refused, table_id=ids.table(PAGE, "quarantine"))
                if refused else html.P(_("No row has been refused.")),
                html.P(_("Export the rows to fix them: civic-metrics etl quarantine --format csv."), className="small"),
            ]),
        ],
        id=ids.block(PAGE, "etl"),
        className="block",
        **{"aria-labelledby": heading_id},
    )  # fmt: skip


# --- the page ------------------------------------------------------------------------------


def periods_of(engine: Engine, version: int | None) -> filters.Periods:
    return lambda grain: data.periods(engine, grain, version)


def content(engine: Engine, settings: Settings, view: View, version: int | None, metric: str,
            event: Annotation | None) -> list[Any]:  # fmt: skip
    return [
        html.Div(filters.notices(view), role="status"),
        control_block(engine, settings, view, version, metric),
        comparison_block(engine, settings, view, version, metric, event),
        definition_block(engine, settings, view, version, metric),
        operations_block(engine),
    ]


def controls(settings: Settings, metric: str, event: Annotation | None) -> list[Any]:
    known = events(settings)
    options = ([{"label": _("{label} ({day})").format(label=event_label(a), day=format_day(a.date)),
                 "value": a.date.isoformat()} for a in reversed(known)]
               or [{"label": _("No events configured"), "value": NO_EVENT}])  # fmt: skip
    return [
        dbc.Col(
            [
                dbc.Label(_("Indicator"), html_for=INDICATOR, className="small mb-1"),
                dbc.Select(id=INDICATOR, value=metric,
                           options=[{"label": indicator_name(m), "value": m} for m in ordered_metrics(settings)]),
            ],
            xs=12, md=6, xl=3, className="filter",
        ),
        dbc.Col(
            [
                dbc.Label(_("Event to compare before and after"), html_for=EVENT, className="small mb-1"),
                dbc.Select(id=EVENT, value=event.date.isoformat() if event else NO_EVENT, options=options),
            ],
            xs=12, md=6, xl=3, className="filter",
        ),
    ]  # fmt: skip


def trends_layout(engine: Engine, settings: Settings, base: str, params: dict[str, Any] | None = None) -> html.Div:
    params = dict(params or {})
    run = data.refresh_run(engine)
    version = data.version_of(run)
    periods = periods_of(engine, version)
    view = filters.parse_view(params, settings, periods)
    metric, more = resolve_indicator(settings, params.get("indicator"))
    event, more2 = resolve_event(settings, params.get("event"))
    if more or more2:
        view = replace(view, notices=(*view.notices, *more, *more2))
    header = [
        html.H1(_("Trends and audit"), className="h3 mb-1"),
        html.P(as_of_detail(run, settings), className="text-body-secondary"),
    ]
    link = filters.href(base, replace(view, notices=()),
                        {"indicator": metric, "event": event.date.isoformat() if event else None})  # fmt: skip
    return blocks.page_body(PAGE, header, view, settings, periods, link,
                            lambda: content(engine, settings, view, version, metric, event),
                            extra=controls(settings, metric, event))  # fmt: skip
