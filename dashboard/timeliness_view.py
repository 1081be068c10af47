"""The timeliness page as pure functions of metric cells: how long cases take, how many are
settled within their statutory deadline, what is waiting, and how slices compare.

Every block is first built as plain data (`Chart`: figure, summary, table rows, CSV
addresses) so tests check the figures without a browser, then drawn by `render` as one
`blocks.chart_block`. The helpers in the first half (reading a view's cells, writing a cell's
value or why there is none, trend and dot-plot figures) are shared with the experience page.

What the store holds decides what can be drawn. The "still open after N days" chart draws
each slice's Kaplan-Meier curve at the days the store keeps it (`still_open_share`, one cell
per slice, period and day), never a curve made up between them. Indicators are stored for
everyone and by one dimension at a time (no combinations in the demo configuration), so a view
filtered on one dimension cannot be broken down by another: such blocks say so instead of
drawing zeros.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from babel.dates import format_skeleton
from dash import html
from sqlalchemy import Engine

from dashboard import blocks, data, downloads, filters, ids, plot, tiles, views
from dashboard.figures import REFERENCE, _base_layout
from dashboard.filters import View
from dashboard.formatting import (
    axis_title,
    format_count,
    format_day,
    format_value,
    is_number,
    period_label,
    short_month,
    unit_format,
)
from dashboard.i18n import N_, _, locale
from dashboard.labels import dim_label, dim_values, metric_name, slice_label, value_label
from dashboard.plot import make_subplots
from dashboard.tiles import cell_state, suppressed_text, target_for
from metrics.catalogue import CATALOGUE
from metrics.config import Settings, Target
from metrics.indicators.timeliness import NOT_OBSERVED, SURVIVAL_DAYS, SURVIVAL_DIM
from metrics.periods import period_last_day

PAGE = ids.TIMELY

# Okabe-Ito colours that keep 3:1 contrast on white as lines (orange and sky do not).
BLUE = "#0072B2"
VERMILLION = "#D55E00"
GREEN = "#009E73"
BLACK = "#000000"
GREY = REFERENCE
# Pale fill for areas (the 95% band of a Kaplan-Meier curve drawn alone).
PALE_BLUE = "rgba(0, 114, 178, 0.14)"

# What each indicator's n counts, as a phrase with the number ("5,976 cases opened").
N_PHRASES: dict[str, str] = {
    "resolution_days_median": N_("{n} cases opened"),
    "resolution_days_p90": N_("{n} cases opened"),
    "resolution_days_median_closed": N_("{n} closed cases"),
    "first_response_hours_median": N_("{n} cases with a first response"),
    "on_time_rate": N_("{n} cases with a known outcome against the deadline"),
    "backlog_open": N_("{n} open cases"),
    "backlog_overdue": N_("{n} open cases"),
    "backlog_age": N_("{n} open cases"),
    "repeat_contact_rate": N_("{n} cases with a citizen reference"),
    "first_contact_resolution_rate": N_("{n} closed cases"),
    "reopen_rate": N_("{n} closed cases"),
    "satisfaction_mean": N_("{n} responses"),
    "satisfied_share": N_("{n} responses"),
    "rating_share": N_("{n} responses"),
    "handoff_rate": N_("{n} cases opened"),
    "handoff_resolution_days_median": N_("{n} cases with handoffs"),
    "direct_resolution_days_median": N_("{n} cases without handoffs"),
}
# The same, as a table column heading.
N_HEADINGS: dict[str, str] = {
    "resolution_days_median": N_("Cases opened"),
    "resolution_days_p90": N_("Cases opened"),
    "resolution_days_median_closed": N_("Closed cases"),
    "first_response_hours_median": N_("Cases with a first response"),
    "on_time_rate": N_("Cases with a known outcome"),
    "backlog_open": N_("Open cases"),
    "backlog_overdue": N_("Open cases"),
    "backlog_age": N_("Open cases"),
    "repeat_contact_rate": N_("Cases with a citizen reference"),
    "first_contact_resolution_rate": N_("Closed cases"),
    "reopen_rate": N_("Closed cases"),
    "satisfaction_mean": N_("Responses"),
    "satisfied_share": N_("Responses"),
    "rating_share": N_("Responses"),
    "handoff_rate": N_("Cases opened"),
    "handoff_resolution_days_median": N_("Cases with handoffs"),
    "direct_resolution_days_median": N_("Cases without handoffs"),
}
EACH = {"week": N_("each week"), "month": N_("each month"), "quarter": N_("each quarter"), "year": N_("each year")}

# Notes the refresh stores with cells (in English), as the reader is told them.
NOTES = {
    "not reached: fewer than half of the cases are resolved": N_(
        "Not reached: fewer than half of the cases are resolved"
    ),
    "not reached: fewer than 90% of the cases are resolved": N_(
        "Not reached: fewer than 90% of the cases are resolved"
    ),
    "closed cases only: biased low while cases are open": N_("Closed cases only: biased low while cases are open"),
    NOT_OBSERVED: N_("Not known: no case of the cohort has been followed this long yet"),
}
FEWER = re.compile(r"suppressed: fewer than (\d+) cases")
REVEAL = "would reveal"


# --- reading a view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every block of a page reads: the store, the settings and the view, with the
    view's periods (oldest first)."""

    engine: Engine
    settings: Settings
    version: int | None
    view: View
    periods: tuple[dt.date, ...]

    @property
    def min_cell_size(self) -> int:
        return self.settings.privacy.min_cell_size

    @property
    def end(self) -> dt.date:
        return self.periods[-1]

    def read(self, metric: str, breakdown: tuple[str, ...] = (), view: View | None = None) -> pd.DataFrame | None:
        """The cells of `metric` in the view's periods and slice, broken down by `breakdown`;
        None when the store holds no such breakdown."""
        return data.view_cells(self.engine, metric, view or self.view, self.version, self.min_cell_size,
                               breakdown=breakdown)  # fmt: skip

    def where(self, view: View | None = None) -> str:
        """The view's slice in words ("Everyone", "Northgate, 65 and over")."""
        return slice_label(self.settings, (view or self.view).slice())


def context(engine: Engine, settings: Settings, view: View) -> Context:
    version = data.data_version(engine)
    known = data.periods(engine, view.grain, version)
    shown: tuple[dt.date, ...] = ()
    if view.start is not None and view.end is not None:
        shown = tuple(p for p in known if view.start <= p <= view.end)
    return Context(engine, settings, version, view, shown)


def periods_of(engine: Engine) -> Callable[[str], tuple[dt.date, ...]]:
    """The periods function `filters` takes, over `engine`'s newest refresh."""
    return lambda grain: data.periods(engine, grain, data.data_version(engine))


Row = dict[str, Any] | None


def by_period(df: pd.DataFrame, periods: Sequence[dt.date]) -> list[Row]:
    """One slice's cells as one row per period (None where the store has no cell)."""
    found = dict(zip(df["period"], data.records(df), strict=True))
    return [found.get(p) for p in periods]


def by_category(df: pd.DataFrame, dim: str) -> dict[str, dict[str, Any]]:
    """One period's cells by their value of `dim`."""
    return {r["dims"].get(dim): r for r in data.records(df)}


def at_period(df: pd.DataFrame | None, period: dt.date) -> pd.DataFrame | None:
    return None if df is None else df[df["period"] == period]


# --- a cell in words --------------------------------------------------------------------------


def note_text(note: Any) -> str:
    """A stored note in the reader's language; notes joined by "; " are translated one by one."""
    if not isinstance(note, str) or not note.strip():
        return ""
    out = []
    for part in (p.strip() for p in note.split(";")):
        if not part:
            continue
        if part in NOTES:
            out.append(_(NOTES[part]))
        elif m := FEWER.fullmatch(part):
            out.append(_("Suppressed: fewer than {n} cases").format(n=m.group(1)))
        elif REVEAL in part:
            out.append(_("Suppressed: would reveal a smaller suppressed figure"))
        else:
            out.append(tiles.note_text(part))
    return _("; ").join(out)


def value_text(row: Row, unit: str, min_cell_size: int) -> str:
    """A cell's value in its unit, or why there is none: never 0, never blank."""
    state = cell_state(row)
    if state == "value":
        assert row is not None
        return format_value(row["value"], unit)
    if state == "suppressed":
        assert row is not None
        return suppressed_text(row.get("note"), min_cell_size)
    return note_text(row.get("note")) if row else _("No figure")


def interval_text(row: Row, unit: str) -> str:
    if cell_state(row) != "value":
        return _("Not available")
    assert row is not None
    low, high = row.get("ci_low"), row.get("ci_high")
    if is_number(low) and is_number(high):
        return _("{low} to {high}").format(low=format_value(low, unit), high=format_value(high, unit))
    if is_number(low):
        return _("{low} or more (upper limit not reached)").format(low=format_value(low, unit))
    return _("Not available")


def n_value(row: Row) -> int | None:
    if row is None or bool(row.get("suppressed")) or not is_number(row.get("n")):
        return None
    return int(row["n"])


def n_text(row: Row) -> str:
    """How many cases a cell rests on; what stands in for it when there is no number."""
    n = n_value(row)
    if n is not None:
        return format_count(n)
    return _("Suppressed") if cell_state(row) == "suppressed" else _("No figure")


def n_phrase(metric: str, n: int) -> str:
    return _(N_PHRASES[metric]).format(n=format_count(n))


def n_heading(metric: str) -> str:
    return _(N_HEADINGS[metric])


def value_of(row: Row) -> float | None:
    return float(row["value"]) if cell_state(row) == "value" and row is not None else None


def short_period(period: dt.date, grain: str) -> str:
    """A period on a chart axis: "5 Oct 2026", "Oct 2026", "Q4 2026", "2026"."""
    if grain == "week":
        return format_skeleton("yMMMd", period, locale=locale())
    if grain == "month":
        return short_month(period)
    return period_label(period, grain)


def period_runs(chosen: Sequence[dt.date], ctx: Context) -> str:
    """Periods as runs of consecutive ones: "Jan 2025 to Mar 2025, Jun 2025"."""
    index = {p: i for i, p in enumerate(ctx.periods)}
    runs: list[list[dt.date]] = []
    for p in sorted(chosen, key=lambda q: index[q]):
        if runs and index[runs[-1][-1]] + 1 == index[p]:
            runs[-1].append(p)
        else:
            runs.append([p])
    grain = ctx.view.grain
    return _(", ").join(
        short_period(r[0], grain) if len(r) == 1
        else _("{first} to {last}").format(first=short_period(r[0], grain), last=short_period(r[-1], grain))
        for r in runs
    )  # fmt: skip


def sentence_join(parts: Sequence[str]) -> str:
    return " ".join(p for p in parts if p)


# --- blocks as data ---------------------------------------------------------------------------


@dataclass
class Chart:
    """One chart block's contents; `more_csv` are further downloads (label, address)."""

    name: str
    title: str
    figure: plot.Figure
    summary: str
    head: list[str]
    rows: list[list[str]]
    csv: str | None
    more_csv: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Unavailable:
    """A block the store cannot fill for this view, and why."""

    name: str
    title: str
    message: str


Block = Chart | Unavailable


def render(page: str, block: Block) -> html.Section:
    if isinstance(block, Unavailable):
        message = html.P(block.message, id=ids.table(page, block.name), className="block-missing")
        return blocks.text_block(page, block.name, block.title, [message])
    section = blocks.chart_block(page, block.name, block.title, block.figure, block.summary, block.head, block.rows,
                                 csv=block.csv, notes=block.notes)  # fmt: skip
    for i, (label, href) in enumerate(block.more_csv, start=1):
        link = html.A(label, href=href, download="", className="csv-link mt-0",
                      id=f"{ids.download(page, block.name)}-{i}")
        section.children.append(html.P(link, className="mb-0"))
    return section


# Dimensions of single indicators, named for the reader.
OWN_DIMS = {"backlog_age": N_("Time waiting"), "rating": N_("Score")}


def dimension_name(settings: Settings, dim: str) -> str:
    return _(OWN_DIMS[dim]) if dim in OWN_DIMS else dim_label(settings, dim)


def not_stored(name: str, title: str, metric: str, ctx: Context, breakdown: tuple[str, ...] = (),
               view: View | None = None) -> Unavailable:  # fmt: skip
    """The block of a breakdown the store does not hold: said, never drawn as zero."""
    return Unavailable(name, title, not_stored_text(metric, ctx, breakdown, view))


def not_stored_text(metric: str, ctx: Context, breakdown: tuple[str, ...] = (), view: View | None = None) -> str:
    view = view or ctx.view
    if not data.breakdowns(ctx.engine, metric, ctx.version):
        return _("{metric}: there are no figures in the store.").format(metric=metric_name(metric))
    dims = _(", ").join(dimension_name(ctx.settings, d) for d in view.by(*breakdown))
    filtered = _(", ").join(dimension_name(ctx.settings, d) for d in view.slice())
    if not filtered:
        return _("Not computed for this combination: {metric} is not stored by {dims}.").format(
            metric=metric_name(metric), dims=dims)  # fmt: skip
    return _(
        "Not computed for this combination: {metric} is not stored by {dims} together. "
        "Clear the filter on {filters} to see it."
    ).format(metric=metric_name(metric), dims=dims, filters=filtered)  # fmt: skip


def csv_label(metric: str) -> str:
    return _("Download the figures of {metric} (CSV)").format(metric=metric_name(metric))


# --- trends -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One indicator's series on a trend chart, one row per period of the view."""

    metric: str
    label: str
    rows: list[Row]
    color: str = BLUE
    dash: str = "solid"
    symbol: str = "circle"
    intervals: bool = True  # draw and tabulate the 95% interval
    n_column: bool = True  # tabulate n (off when another line has the same n)
    notes: bool = False  # tabulate the cells' notes (provisional figures)

    @property
    def unit(self) -> str:
        return CATALOGUE[self.metric].unit


def line(ctx: Context, metric: str, df: pd.DataFrame, **style: Any) -> Line:
    return Line(metric, style.pop("label", metric_name(metric)), by_period(df, ctx.periods), **style)


def _errors(rows: Sequence[Row]) -> tuple[list[float], list[float], bool]:
    plus, minus = [], []
    for row in rows:
        v = value_of(row)
        hi = row.get("ci_high") if row else None
        lo = row.get("ci_low") if row else None
        plus.append(float(hi) - v if v is not None and is_number(hi) else 0.0)
        minus.append(v - float(lo) if v is not None and is_number(lo) else 0.0)
    return plus, minus, any(plus) or any(minus)


def nothing_to_draw(fig: plot.Figure, text: str) -> None:
    fig.add_annotation(x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, text=text,
                       font={"size": 15, "color": GREY})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def reference_line(fig: plot.Figure, value: float, name: str, dash: str, horizontal: bool = True, **where: Any) -> None:
    """A grey reference line across the plot, named in the legend (by a legend-only trace:
    Plotly lays out legends of shapes alone vertically, over the plot)."""
    line = {"color": GREY, "dash": dash, "width": 1.5}
    if horizontal:
        fig.add_hline(y=value, line=line, **where)
    else:
        fig.add_vline(x=value, line=line, **where)
    fig.add_trace(plot.Scatter(x=[None], y=[None], mode="lines", line=line, name=name, hoverinfo="skip"), **where)


def target_line(fig: plot.Figure, target: Target, unit: str, horizontal: bool = True, **where: Any) -> None:
    """The target as a dashed grey line."""
    name = _("Target: {value}").format(value=format_value(target.target, unit))
    reference_line(fig, target.target, name, "dash", horizontal, **where)


def trend_figure(ctx: Context, lines: Sequence[Line], unit: str, target: Target | None = None,
                 marks: Sequence[bool] = (), marks_label: str = "") -> plot.Figure:  # fmt: skip
    """Lines over the view's periods, one per indicator, with 95% interval whiskers. A
    suppressed or missing period is a gap; `marks` ring the points to read with care
    (provisional figures), named `marks_label` in the legend."""
    grain = ctx.view.grain
    x = [short_period(p, grain) for p in ctx.periods]
    fig = plot.Figure()
    drawn = False
    for ln in lines:
        y = [value_of(r) for r in ln.rows]
        drawn = drawn or any(v is not None for v in y)
        plus, minus, has_ci = _errors(ln.rows)
        texts = [value_text(r, ln.unit, ctx.min_cell_size) for r in ln.rows]
        fig.add_trace(plot.Scatter(
            x=x, y=y, mode="lines+markers", name=ln.label, connectgaps=False,
            line={"color": ln.color, "dash": ln.dash, "width": 2.5},
            marker={"color": ln.color, "symbol": ln.symbol, "size": 7},
            error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": ln.intervals and has_ci,
                     "color": ln.color, "thickness": 1, "width": 3},
            customdata=texts, hovertemplate="%{x}: %{customdata}<extra>" + _escape(ln.label) + "</extra>",
        ))  # fmt: skip
    if marks and any(marks) and lines:
        first = lines[0]
        keep = [value_of(r) if m else None for r, m in zip(first.rows, marks, strict=True)]
        fig.add_trace(plot.Scatter(
            x=x, y=keep, mode="markers", name=marks_label,
            marker={"symbol": "circle-open", "size": 15, "color": BLACK, "line": {"width": 2}},
            customdata=[note_text(r.get("note")) if r else "" for r in first.rows],
            hovertemplate="%{x}: %{customdata}<extra></extra>",
        ))  # fmt: skip
    _base_layout(fig, 400)
    if not drawn:
        nothing_to_draw(fig, _("Nothing to draw: every period is suppressed or has no figure"))
        return fig
    if target is not None:
        target_line(fig, target, unit)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x, showgrid=False, linecolor="#888",
                     ticks="outside")  # fmt: skip
    fig.update_yaxes(tickformat=axis_format(unit), gridcolor="#e5e5e5", zeroline=False,
                     title={"text": axis_title(unit)}, rangemode="tozero" if unit == "count" else "normal")  # fmt: skip
    return fig


def axis_format(unit: str) -> str:
    """The d3 tick format of a unit's axis. Scores move by hundredths month to month, and
    `formatting`'s one decimal would label neighbouring ticks alike (4.0, 4.0, 4.0)."""
    return unit_format(unit).hover_format if unit == "score" else unit_format(unit).axis_format


def _escape(text: str) -> str:
    """Text safe inside a Plotly hover template (braces would be read as fields)."""
    return text.replace("{", "(").replace("}", ")")


def line_summary(ctx: Context, ln: Line) -> list[str]:
    """What one line shows in words: the end period's figure with its n, the range, the gaps."""
    grain = ctx.view.grain
    parts = []
    end_row = ln.rows[-1]
    end = period_label(ctx.end, grain)
    if cell_state(end_row) == "value":
        n = n_value(end_row)
        text = format_value(end_row["value"], ln.unit)  # type: ignore[index]
        if n is not None and not (ln.unit == "count" and n == value_of(end_row)):
            parts.append(_("{label}, {period}: {value}, based on {n}.").format(
                label=ln.label, period=end, value=text, n=n_phrase(ln.metric, n)))  # fmt: skip
        else:
            parts.append(_("{label}, {period}: {value}.").format(label=ln.label, period=end, value=text))
        note = note_text(end_row.get("note")) if ln.notes and end_row else ""  # type: ignore[union-attr]
        if note:
            parts.append(note + _("."))
    else:
        parts.append(_("{label}, {period}: {reason}.").format(
            label=ln.label, period=end, reason=value_text(end_row, ln.unit, ctx.min_cell_size)))  # fmt: skip
    known = [(v, p) for v, p in zip((value_of(r) for r in ln.rows), ctx.periods, strict=True) if v is not None]
    if len(known) > 1:
        low = min(known, key=lambda t: t[0])
        high = max(known, key=lambda t: t[0])
        parts.append(_("Lowest {low} ({low_period}), highest {high} ({high_period}).").format(
            low=format_value(low[0], ln.unit), low_period=short_period(low[1], grain),
            high=format_value(high[0], ln.unit), high_period=short_period(high[1], grain)))  # fmt: skip
    parts += gap_sentences(ctx, ln.rows, ln.unit)
    return parts


def gap_sentences(ctx: Context, rows: Sequence[Row], unit: str) -> list[str]:
    """The periods left as gaps, grouped by why: "Suppressed (fewer than 10 cases), left as
    gaps: Jan 2025 to Mar 2025."."""
    reasons: dict[str, list[dt.date]] = {}
    for p, r in zip(ctx.periods, rows, strict=True):
        if cell_state(r) != "value":
            reasons.setdefault(value_text(r, unit, ctx.min_cell_size), []).append(p)
    return [_("{reason}, left as gaps: {periods}.").format(reason=reason, periods=period_runs(ps, ctx))
            for reason, ps in reasons.items()]  # fmt: skip


def trend_summary(ctx: Context, what: str, lines: Sequence[Line], target: Target | None = None,
                  extra: Sequence[str] = ()) -> str:  # fmt: skip
    grain = ctx.view.grain
    parts = [_("{what}, {where}, {each} from {first} to {last}.").format(
        what=what, where=ctx.where(), each=_(EACH[grain]),
        first=period_label(ctx.periods[0], grain), last=period_label(ctx.end, grain))]  # fmt: skip
    for ln in lines:
        parts += line_summary(ctx, ln)
    if not any(value_of(r) is not None for ln in lines for r in ln.rows):
        parts.append(_("Nothing is drawn: every period is suppressed or has no figure."))
    else:
        if any(ln.intervals and _errors(ln.rows)[2] for ln in lines):
            parts.append(_("Whiskers show the 95% interval."))
        if target is not None:
            parts.append(_("The dashed line is the target, {value}.").format(
                value=format_value(target.target, lines[0].unit)))  # fmt: skip
    return sentence_join([*parts, *extra])


def trend_table(ctx: Context, lines: Sequence[Line]) -> tuple[list[str], list[list[str]]]:
    """The trend's figures: a row per period; per line its value, interval, n and notes."""
    head = [_("Period")]
    for ln in lines:
        head.append(ln.label)
        if ln.intervals:
            head.append(_("95% interval"))
        if ln.n_column:
            head.append(n_heading(ln.metric))
        if ln.notes:
            head.append(_("Note"))
    rows = []
    for i, p in enumerate(ctx.periods):
        row = [period_label(p, ctx.view.grain)]
        for ln in lines:
            cell = ln.rows[i]
            row.append(value_text(cell, ln.unit, ctx.min_cell_size))
            if ln.intervals:
                row.append(interval_text(cell, ln.unit))
            if ln.n_column:
                row.append(n_text(cell))
            if ln.notes:
                note = note_text(cell.get("note")) if cell_state(cell) == "value" and cell else ""
                row.append(note or _("No note"))
        rows.append(row)
    return head, rows


def trend_chart(ctx: Context, name: str, title: str, lines: Sequence[Line], *, target: Target | None = None,
                marks: Sequence[bool] = (), marks_label: str = "", extra: Sequence[str] = (),
                notes: Sequence[str] = ()) -> Chart:  # fmt: skip
    """A trend block of one or more indicators of one unit, with a CSV of each."""
    unit = lines[0].unit
    head, rows = trend_table(ctx, lines)
    csvs = [downloads.csv_href(ln.metric, ctx.view) for ln in lines]
    return Chart(
        name, title, trend_figure(ctx, lines, unit, target, marks, marks_label),
        trend_summary(ctx, title, lines, target, extra), head, rows, csvs[0],
        [(csv_label(ln.metric), href) for ln, href in zip(lines[1:], csvs[1:], strict=True)], list(notes),
    )  # fmt: skip


def single_trend(ctx: Context, name: str, metric: str, *, target: Target | None = None,
                 notes: Sequence[str] = (), **style: Any) -> Block:  # fmt: skip
    """The trend of one indicator over the view."""
    title = metric_name(metric)
    df = ctx.read(metric)
    if df is None:
        return not_stored(name, title, metric, ctx)
    return trend_chart(ctx, name, title, [line(ctx, metric, df, **style)], target=target, notes=notes)


def view_target(ctx: Context, metric: str) -> Target | None:
    """The target that applies to the view's slice (a count's is for everyone only)."""
    return target_for(ctx.settings, metric, by_region=bool(ctx.view.slice()))


# --- categories side by side ------------------------------------------------------------------


@dataclass(frozen=True)
class Dots:
    """One indicator's figures per category, for one panel of a dot plot."""

    metric: str
    label: str
    rows: list[Row]  # in the order of the categories
    color: str = BLUE
    symbol: str = "circle"

    @property
    def unit(self) -> str:
        return CATALOGUE[self.metric].unit


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    dots: list[Dots]
    reference: tuple[float, str] | None = None  # (value, label): the whole slice, dotted
    target: Target | None = None


def dot_figure(categories: Sequence[str], panels: Sequence[Panel], min_cell_size: int) -> plot.Figure:
    """Panels side by side sharing the category axis: a marker per category with its 95%
    interval as whiskers. A category without a figure keeps its row, marked in its label,
    with no marker (never a 0)."""
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[p.title for p in panels])  # fmt: skip
    labels = list(categories)
    drawn = False
    for col, panel in enumerate(panels, start=1):
        for d in panel.dots:
            x = [value_of(r) for r in d.rows]
            drawn = drawn or any(v is not None for v in x)
            plus, minus, has_ci = _errors(d.rows)
            fig.add_trace(plot.Scatter(
                x=x, y=labels, mode="markers", name=d.label, legendgroup=d.label, showlegend=len(panel.dots) > 1,
                marker={"color": d.color, "symbol": d.symbol, "size": 10},
                error_x={"type": "data", "array": plus, "arrayminus": minus, "visible": has_ci, "color": d.color,
                         "thickness": 1.2, "width": 4},
                customdata=[value_text(r, d.unit, min_cell_size) for r in d.rows],
                hovertemplate="%{y}: %{customdata}<extra>" + _escape(d.label) + "</extra>",
            ), row=1, col=col)  # fmt: skip
        # Dots encode position, not length: the axis need not start at zero.
        fig.update_xaxes(tickformat=axis_format(panel.unit), gridcolor="#e5e5e5", zeroline=False,
                         title={"text": axis_title(panel.unit)}, row=1, col=col)  # fmt: skip
        if panel.reference is not None:
            value, label = panel.reference
            reference_line(fig, value, label, "dot", horizontal=False, row=1, col=col)
        if panel.target is not None:
            target_line(fig, panel.target, panel.unit, horizontal=False, row=1, col=col)
    height = 150 + 34 * max(len(labels), 1)
    _base_layout(fig, height)
    legend_above(fig, height, 110)
    fig.update_yaxes(autorange="reversed", automargin=True, ticks="", type="category")
    if not drawn:
        nothing_to_draw(fig, _("Nothing to draw: no category has a figure"))
    return fig


def legend_above(fig: plot.Figure, height: int, top: int) -> None:
    """A horizontal legend above the subplot titles, in a top margin of `top` pixels."""
    inner = height - top - 60
    # Plotly stacks legend groups one under the other even in a horizontal legend: "normal"
    # order keeps them on one line.
    legend = {"orientation": "h", "yanchor": "bottom", "xanchor": "left", "x": 0, "y": 1 + 34 / max(inner, 1),
              "traceorder": "normal"}  # fmt: skip
    fig.update_layout(margin={"t": top, "b": 60}, legend=legend)


def category_label(settings: Settings, dim: str, value: str, row_states: Sequence[str], selected: str | None) -> str:
    label = value_label(settings, dim, value)
    if value == selected:
        label = _("{name} (selected)").format(name=label)
    if all(s == "suppressed" for s in row_states):
        label = _("{name} (suppressed)").format(name=label)
    elif all(s != "value" for s in row_states):
        label = _("{name} (no figure)").format(name=label)
    return label


def ordered_categories(settings: Settings, dim: str, found: Sequence[str]) -> list[str]:
    """The configured categories of `dim` in configured order, then any others found."""
    known = list(dim_values(settings, dim))
    return known + sorted(set(found) - set(known))


# --- the timeliness page: Kaplan-Meier quantiles -----------------------------------------------

BY_DIMS = ("region", "channel", "service", "department")
DEFAULT_BY = "region"


def parse_by(value: Any) -> tuple[str, list[str]]:
    """The dimension to compare by, from the address; region, with a notice, when unknown."""
    if isinstance(value, list):
        value = value[-1] if value else None
    if value in (None, "", ids.ALL):
        return DEFAULT_BY, []
    if value not in BY_DIMS:
        return DEFAULT_BY, [_("{value!r} is not a dimension to compare by here; comparing by region.").format(
            value=value)]  # fmt: skip
    return str(value), []


def compare_view(view: View, dim: str) -> tuple[View, str | None]:
    """The view to compare the categories of `dim` in: a filter on `dim` itself is lifted
    (all its categories are shown, the chosen one marked)."""
    if dim in ("region", "channel", "service") and getattr(view, dim):
        return replace(view, **{dim: None}), getattr(view, dim)
    return view, None


# The stored points of each slice's Kaplan-Meier curve of resolution (metrics catalogue
# `still_open_share`: one cell per slice, period and day since opening).
CURVE = "still_open_share"
# Lines drawn at most; the other slices are in the table only, so the chart stays readable.
MAX_CURVES = 6
# Colour, dash and marker of each line: Okabe-Ito colours and Tol's wine, all at least 3:1 on
# white, and a dash and marker of their own, so colour is never the only cue. The first
# (black, solid) is the view's own slice.
CURVE_STYLES = (
    (BLACK, "solid", "circle"),
    (BLUE, "dash", "square"),
    (VERMILLION, "dot", "diamond"),
    (GREEN, "dashdot", "triangle-up"),
    ("#CC79A7", "longdash", "x"),
    ("#882255", "longdashdot", "star"),
)
# The days the summary reads each curve at: a week, a month, a quarter, a year.
SUMMARY_DAYS = (7, 30, 90, 365)


@dataclass(frozen=True)
class Curve:
    """One slice's curve in one period: its cell at each of SURVIVAL_DAYS (None where the
    store has none)."""

    label: str
    points: list[Row]
    selected: bool = False  # the category the view is filtered on

    @property
    def n(self) -> int | None:
        """The cases of the cohort, on which every point rests (the same n on each)."""
        return next((n for n in map(n_value, self.points) if n is not None), None)


def curve_points(df: pd.DataFrame) -> list[Row]:
    found = {int(r["dims"][SURVIVAL_DIM]): r for r in data.records(df)}
    return [found.get(d) for d in SURVIVAL_DAYS]


def day_label(day: int) -> str:
    return _("after {days} days").format(days=format_count(day)) if day != 1 else _("after 1 day")


def drawn_curves(curves: Sequence[Curve]) -> list[Curve]:
    """The lines to draw: the view's slice, the chosen category, then the largest categories
    with a figure, MAX_CURVES in all, in the table's order."""
    first = curves[0]
    rest = [c for c in curves[1:] if c.selected or any(value_of(r) is not None for r in c.points)]
    keep = {id(c) for c in sorted(rest, key=lambda c: (not c.selected, -(c.n or 0)))[: MAX_CURVES - 1]}
    return [first, *[c for c in rest if id(c) in keep]]


def curve_figure(curves: Sequence[Curve], min_cell_size: int) -> plot.Figure:
    """One step line per curve over the days since opening (a log axis: most cases close in
    the first days, a few wait a year), suppressed and unknown points as gaps; the 95%
    interval as a band when one curve is drawn alone (bands of several would hide each other)."""
    fig = plot.Figure()
    x = list(SURVIVAL_DAYS)
    if len(curves) == 1:
        c = curves[0]
        low = [float(r["ci_low"]) if value_of(r) is not None and is_number(r.get("ci_low")) else None  # type: ignore[index,union-attr]
               for r in c.points]  # fmt: skip
        high = [float(r["ci_high"]) if value_of(r) is not None and is_number(r.get("ci_high")) else None  # type: ignore[index,union-attr]
                for r in c.points]  # fmt: skip
        band = {"shape": "hv", "width": 0, "color": PALE_BLUE}
        fig.add_trace(plot.Scatter(x=x, y=high, mode="lines", line=band, hoverinfo="skip", showlegend=False,
                                   connectgaps=False, name=_("95% interval")))  # fmt: skip
        fig.add_trace(plot.Scatter(x=x, y=low, mode="lines", line=band, fill="tonexty", fillcolor=PALE_BLUE,
                                   hoverinfo="skip", connectgaps=False, name=_("95% interval")))  # fmt: skip
    for c, (color, dash, symbol) in zip(curves, CURVE_STYLES, strict=False):
        fig.add_trace(plot.Scatter(
            x=x, y=[value_of(r) for r in c.points], mode="lines+markers", name=c.label, connectgaps=False,
            line={"shape": "hv", "color": color, "dash": dash, "width": 2.5},
            marker={"color": color, "symbol": symbol, "size": 7},
            customdata=[f"{day_label(d)}: {value_text(r, 'proportion', min_cell_size)}"
                        for d, r in zip(SURVIVAL_DAYS, c.points, strict=True)],
            hovertemplate="%{customdata}<extra>" + _escape(c.label) + "</extra>",
        ))  # fmt: skip
    _base_layout(fig, 440)
    if not any(value_of(r) is not None for c in curves for r in c.points):
        nothing_to_draw(fig, _("Nothing to draw: every point is suppressed or has no figure"))
        return fig
    fig.update_xaxes(type="log", tickvals=x, ticktext=[format_count(d) for d in x], gridcolor="#e5e5e5",
                     title={"text": _("Days since opening")}, range=[-0.05, math.log10(max(x)) + 0.05])  # fmt: skip
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", gridcolor="#e5e5e5", zeroline=False,
                     title={"text": _("Still open")})  # fmt: skip
    return fig


def curve_summary(ctx: Context, curves: Sequence[Curve], drawn: Sequence[Curve], dim_name: str | None,
                  end: str, where: str) -> str:  # fmt: skip
    parts = [_("Share of the cases opened in {period} still open {first} to {last} days after opening").format(
        period=end, first=format_count(SURVIVAL_DAYS[0]), last=format_count(SURVIVAL_DAYS[-1]))]  # fmt: skip
    parts[0] += (_(", {where}, by {dim}.").format(where=where, dim=dim_name) if dim_name
                 else _(", {where}.").format(where=where))  # fmt: skip
    parts.append(_(
        "Kaplan-Meier estimates: cases still open count as waiting so far. Each line steps down at the days "
        "stored; half the cases are resolved where a line crosses 50%."
    ))  # fmt: skip
    if len(curves) > len(drawn):
        parts.append(_("{shown} lines are drawn, {where} and the largest; all {total} are in the table.").format(
            shown=len(drawn), where=where, total=len(curves)))  # fmt: skip
    shown = {id(c) for c in drawn}
    hidden = [c.label for c in curves[1:] if id(c) not in shown and not any(value_of(r) is not None for r in c.points)]
    if hidden:
        parts.append(_("Not drawn, with no figure to show: {labels}.").format(labels=_(", ").join(hidden)))
    for c in drawn:
        based = _(" (based on {n})").format(n=n_phrase("resolution_days_median", c.n)) if c.n is not None else ""
        points = {d: r for d, r in zip(SURVIVAL_DAYS, c.points, strict=True)}
        if all(cell_state(r) == "suppressed" for r in c.points):
            parts.append(_("{label}: {reason}, not drawn.").format(
                label=c.label, reason=value_text(c.points[0], "proportion", ctx.min_cell_size)))  # fmt: skip
            continue
        read = _(", ").join(
            _("{day} {value}").format(day=day_label(d), value=format_value(value_of(points[d]), "proportion"))
            for d in SUMMARY_DAYS if value_of(points[d]) is not None
        )  # fmt: skip
        parts.append(_("{label}{based}: still open {read}.").format(label=c.label, based=based, read=read)
                     if read else _("{label}{based}.").format(label=c.label, based=based))  # fmt: skip
        gaps: dict[str, list[int]] = {}
        for d, r in points.items():
            if cell_state(r) != "value":
                gaps.setdefault(value_text(r, "proportion", ctx.min_cell_size), []).append(d)
        for reason, days in gaps.items():
            parts.append(_("{label}, left as gaps at {days} days: {reason}.").format(
                label=c.label, days=_(", ").join(format_count(d) for d in days), reason=reason))  # fmt: skip
    parts.append(_("The shaded band is the 95% interval.") if len(drawn) == 1
                 else _("Each point's 95% interval is in the table."))  # fmt: skip
    return sentence_join(parts)


def km_chart(ctx: Context, by: str) -> Block:
    """The share of cases still open after each stored number of days for the end period:
    the view's slice first, then each category of `by` (as stored; the view alone when the
    store has no such breakdown)."""
    end = period_label(ctx.end, ctx.view.grain)
    name = "survival"
    title = _("Share of cases still open after N days, {period}").format(period=end)
    base, selected = compare_view(ctx.view, by)
    whole = ctx.read(CURVE, (SURVIVAL_DIM,), view=base)
    if whole is None:
        return not_stored(name, title, CURVE, ctx, (SURVIVAL_DIM,), view=base)
    curves = [Curve(ctx.where(base), curve_points(at_period(whole, ctx.end)))]  # type: ignore[arg-type]
    parts = at_period(ctx.read(CURVE, (SURVIVAL_DIM, by), view=base), ctx.end)
    notes, dim_name = [], None
    if parts is None:
        notes.append(_("Not computed by {dim} within this filter: only {where} is shown.").format(
            dim=dim_label(ctx.settings, by).lower(), where=ctx.where(base)))  # fmt: skip
    else:
        dim_name = dim_label(ctx.settings, by).lower()
        value_of_cell = parts["dims"].map(lambda d: d.get(by))
        for value in ordered_categories(ctx.settings, by, list(pd.unique(value_of_cell))):
            points = curve_points(parts[(value_of_cell == value).to_numpy()])
            label = category_label(ctx.settings, by, value, [cell_state(r) for r in points], selected)
            curves.append(Curve(label, points, value == selected))
    drawn = drawn_curves(curves)
    head = [_("Slice"), _("Days since opening"), _("Still open"), _("95% interval"),
            n_heading("resolution_days_median")]  # fmt: skip
    rows = [[c.label, format_count(d), value_text(r, "proportion", ctx.min_cell_size), interval_text(r, "proportion"),
             n_text(r)] for c in curves for d, r in zip(SURVIVAL_DAYS, c.points, strict=True)]  # fmt: skip
    breakdown = (SURVIVAL_DIM, by) if dim_name else (SURVIVAL_DIM,)
    summary = curve_summary(ctx, curves, drawn, dim_name, end, ctx.where(base))
    return Chart(name, title, curve_figure(drawn, ctx.min_cell_size), summary, head, rows,
                 downloads.csv_href(CURVE, base, breakdown, latest=True), notes=notes)  # fmt: skip


def first_row(df: pd.DataFrame | None) -> Row:
    return None if df is None or df.empty else df.iloc[0].to_dict()


# --- the timeliness page: trends ----------------------------------------------------------------


def resolution_chart(ctx: Context) -> Block:
    """The KM median and 90th percentile over the view's periods, the closed-only median
    beside them, labelled as biased low."""
    name, title = "resolution", _("Days to resolve: median and 90th percentile")
    median, p90, closed = (ctx.read(m) for m in ("resolution_days_median", "resolution_days_p90",
                                                 "resolution_days_median_closed"))  # fmt: skip
    if median is None:
        return not_stored(name, title, "resolution_days_median", ctx)
    lines = [line(ctx, "resolution_days_median", median, label=_("Median"))]
    notes = []
    if p90 is not None:
        lines.append(line(ctx, "resolution_days_p90", p90, label=_("90th percentile"), color=VERMILLION, dash="dash",
                          symbol="diamond", n_column=False))  # fmt: skip
    else:
        notes.append(not_stored_text("resolution_days_p90", ctx))
    if closed is not None:
        lines.append(line(ctx, "resolution_days_median_closed", closed, intervals=False, color=GREY, dash="dot",
                          symbol="triangle-down", label=_("Median of closed cases only (biased low)")))  # fmt: skip
    extra = [_(
        "The median and 90th percentile are Kaplan-Meier estimates: cases still open count as waiting so far. "
        "The median of closed cases only leaves the waiting cases out, so it reads too low, most of all for "
        "recent periods."
    )]  # fmt: skip
    return trend_chart(ctx, name, title, lines, target=view_target(ctx, "resolution_days_median"), extra=extra,
                       notes=notes)  # fmt: skip


def on_time_chart(ctx: Context) -> Block:
    """The statutory on-time rate against its target; provisional recent cohorts ringed."""
    name, metric = "on-time", "on_time_rate"
    title = metric_name(metric)
    df = ctx.read(metric)
    if df is None:
        return not_stored(name, title, metric, ctx)
    ln = line(ctx, metric, df, notes=True)
    marks = [bool(r) and cell_state(r) == "value" and "provisional" in str(r.get("note") or "")  # type: ignore[union-attr]
             for r in ln.rows]  # fmt: skip
    extra = []
    if any(marks):
        extra.append(_(
            "Ringed points are provisional: many of their cases are not yet past their deadline, and those "
            "settled so far are the quick ones, so the rate may fall: {periods}."
        ).format(periods=period_runs([p for p, m in zip(ctx.periods, marks, strict=True) if m], ctx)))  # fmt: skip
    return trend_chart(ctx, name, title, [ln], target=view_target(ctx, metric), marks=marks,
                       marks_label=_("Provisional"), extra=extra)  # fmt: skip


def backlog_chart(ctx: Context) -> Block:
    name, title = "backlog", _("Open cases at the end of each period")
    open_, overdue = ctx.read("backlog_open"), ctx.read("backlog_overdue")
    if open_ is None:
        return not_stored(name, title, "backlog_open", ctx)
    lines = [line(ctx, "backlog_open", open_, intervals=False, n_column=False)]
    notes = []
    if overdue is not None:
        lines.append(line(ctx, "backlog_overdue", overdue, intervals=False, color=VERMILLION, dash="dash",
                          symbol="square", n_column=False))  # fmt: skip
    else:
        notes.append(not_stored_text("backlog_overdue", ctx))
    return trend_chart(ctx, name, title, lines, target=view_target(ctx, "backlog_open"), notes=notes)


# Stored band names (dimension backlog_age), in order, as the reader is told them.
AGE_BANDS = {
    "0-7 days": N_("0-7 days"),
    "8-30 days": N_("8-30 days"),
    "31-90 days": N_("31-90 days"),
    "over 90 days": N_("Over 90 days"),
}
AGE_STYLE = {  # colour and pattern: the bands differ in both, and are labelled
    "0-7 days": ("#56B4E9", ""),
    "8-30 days": (BLUE, "/"),
    "31-90 days": ("#E69F00", "x"),
    "over 90 days": (VERMILLION, "."),
}


def backlog_age_chart(ctx: Context) -> Block:
    """Open cases by time waiting, a stacked bar per period."""
    name, metric = "backlog-age", "backlog_age"
    title = metric_name(metric)
    df = ctx.read(metric, ("backlog_age",))
    if df is None:
        return not_stored(name, title, metric, ctx, ("backlog_age",))
    grain = ctx.view.grain
    x = [short_period(p, grain) for p in ctx.periods]
    bands = {band: by_period(data.having(df, "backlog_age", band), ctx.periods)
             for band in AGE_BANDS}  # fmt: skip
    # A bar with a band suppressed or missing would read shorter than the backlog it stands
    # for: such a period gets no bar at all (its known bands stay in the table).
    whole = [all(value_of(bands[b][i]) is not None for b in AGE_BANDS) for i in range(len(ctx.periods))]
    fig = plot.Figure()
    for band, rows in bands.items():
        color, pattern = AGE_STYLE[band]
        fig.add_trace(plot.Bar(
            x=x, y=[value_of(r) if ok else None for r, ok in zip(rows, whole, strict=True)], name=_(AGE_BANDS[band]),
            marker={"color": color, "line": {"color": "#333", "width": 0.5},
                    "pattern": {"shape": pattern, "fgcolor": "#1a1a1a", "size": 7, "solidity": 0.25}},
            customdata=[value_text(r, "count", ctx.min_cell_size) for r in rows],
            hovertemplate="%{x}: %{customdata}<extra>" + _escape(_(AGE_BANDS[band])) + "</extra>",
        ))  # fmt: skip
    _base_layout(fig, 420)
    fig.update_layout(barmode="stack", bargap=0.2, legend={"traceorder": "normal"})
    if not any(whole):
        nothing_to_draw(fig, _("Nothing to draw: every period is suppressed or has no figure"))
    else:
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=x, ticks="outside")
        fig.update_yaxes(tickformat=",d", gridcolor="#e5e5e5", title={"text": axis_title("count")},
                         rangemode="tozero")  # fmt: skip
    head = [_("Period"), *[_(label) for label in AGE_BANDS.values()]]
    rows = [[period_label(p, grain), *[value_text(bands[b][i], "count", ctx.min_cell_size) for b in AGE_BANDS]]
            for i, p in enumerate(ctx.periods)]  # fmt: skip
    end_rows = {b: bands[b][-1] for b in AGE_BANDS}
    parts = [_("Cases open at the end of each period by how long they had been open, {where}, from {first} to "
               "{last}; each bar stacks the four bands, each band with its own pattern.").format(
        where=ctx.where(), first=period_label(ctx.periods[0], grain), last=period_label(ctx.end, grain))]  # fmt: skip
    parts.append(_("{period}: {bands}.").format(period=period_label(ctx.end, grain), bands=_(", ").join(
        _("{band}: {value}").format(band=_(AGE_BANDS[b]), value=value_text(r, "count", ctx.min_cell_size))
        for b, r in end_rows.items())))  # fmt: skip
    # Both stored counts, not a share worked out here from the bands.
    over, open_ = value_of(end_rows["over 90 days"]), value_of(first_row(at_period(ctx.read("backlog_open"), ctx.end)))
    if over is not None and open_ is not None:
        parts.append(_("{over} of the {total} open cases had waited over 90 days.").format(
            over=format_value(over, "count"), total=format_value(open_, "count")))  # fmt: skip
    hidden = sorted({p for rows in bands.values() for p, r in zip(ctx.periods, rows, strict=True)
                     if cell_state(r) == "suppressed"})  # fmt: skip
    absent = sorted({p for rows in bands.values() for p, r in zip(ctx.periods, rows, strict=True)
                     if cell_state(r) == "missing"})  # fmt: skip
    if hidden:
        parts.append(_("Some bands suppressed, so no bar is drawn (the table has the bands that are known): "
                       "{periods}.").format(periods=period_runs(hidden, ctx)))  # fmt: skip
    if absent:
        parts.append(_("Some bands with no figure, so no bar is drawn: {periods}.").format(
            periods=period_runs(absent, ctx)))  # fmt: skip
    return Chart(name, title, fig, sentence_join(parts), head, rows,
                 downloads.csv_href(metric, ctx.view, ("backlog_age",)))  # fmt: skip


def compare_chart(ctx: Context, by: str) -> Block:
    """Median days and the on-time rate per category of `by` for the end period."""
    end = period_label(ctx.end, ctx.view.grain)
    dim_name = dim_label(ctx.settings, by)
    name = "compare"
    title = _("Compared by {dim}, {period}").format(dim=dim_name.lower(), period=end)
    base, selected = compare_view(ctx.view, by)
    metrics = ("resolution_days_median", "on_time_rate")
    parts = {m: at_period(ctx.read(m, (by,), view=base), ctx.end) for m in metrics}
    if any(df is None for df in parts.values()):
        return not_stored(name, title, "resolution_days_median", ctx, (by,), view=base)
    whole = {m: first_row(at_period(ctx.read(m, view=base), ctx.end)) for m in metrics}  # type: ignore[arg-type]
    cells = {m: by_category(df, by) for m, df in parts.items()}  # type: ignore[arg-type]
    values = ordered_categories(ctx.settings, by, list(cells["resolution_days_median"]))
    rows_of = {m: [cells[m].get(v) for v in values] for m in metrics}
    labels = [category_label(ctx.settings, by, v, [cell_state(rows_of[m][i]) for m in metrics], selected)
              for i, v in enumerate(values)]  # fmt: skip
    where = ctx.where(base)
    panels = []
    for m, color, symbol in (("resolution_days_median", BLUE, "circle"), ("on_time_rate", VERMILLION, "diamond")):
        unit = CATALOGUE[m].unit
        w = value_of(whole[m])
        ref = (w, _("{where}: {value}").format(where=where, value=format_value(w, unit))) if w is not None else None
        panels.append(Panel(metric_name(m), unit, [Dots(m, metric_name(m), rows_of[m], color, symbol)], ref,
                            target_for(ctx.settings, m, by_region=True)))  # fmt: skip
    figure = dot_figure(labels, panels, ctx.min_cell_size)
    head = [dim_name, _("Median days to resolve"), _("95% interval"), n_heading("resolution_days_median"),
            _("On time"), _("95% interval"), n_heading("on_time_rate")]  # fmt: skip
    table = [[where, *_pair(whole, ctx)]]
    table += [[label, *_pair({m: rows_of[m][i] for m in metrics}, ctx)] for i, label in enumerate(labels)]
    summary = [_("Median days to resolve and the share settled on time for each {dim}, {period}, each with its "
                 "95% interval; the dotted lines are the figures for {where}, the dashed lines the targets.").format(
        dim=dim_name.lower(), period=end, where=where)]  # fmt: skip
    for m in metrics:
        unit = CATALOGUE[m].unit
        known = [(value_of(r), lab) for r, lab in zip(rows_of[m], labels, strict=True) if value_of(r) is not None]
        if known:
            low, high = min(known, key=lambda t: t[0]), max(known, key=lambda t: t[0])  # type: ignore[arg-type,return-value]
            summary.append(_("{metric}: from {low} ({low_where}) to {high} ({high_where}); {where}: {whole}.").format(
                metric=metric_name(m), low=format_value(low[0], unit), low_where=low[1],
                high=format_value(high[0], unit), high_where=high[1], where=where,
                whole=value_text(whole[m], unit, ctx.min_cell_size)))  # fmt: skip
        gaps = [f"{lab}: {value_text(r, unit, ctx.min_cell_size)}" for r, lab in zip(rows_of[m], labels, strict=True)
                if value_of(r) is None]  # fmt: skip
        if gaps:
            summary.append(_("{metric}, not drawn: {gaps}.").format(metric=metric_name(m), gaps=_("; ").join(gaps)))
    return Chart(
        name, title, figure, sentence_join(summary), head, table,
        downloads.csv_href("resolution_days_median", base, (by,)),
        [(csv_label("on_time_rate"), downloads.csv_href("on_time_rate", base, (by,)))],
    )


def _pair(rows: dict[str, Row], ctx: Context) -> list[str]:
    out = []
    for m, r in rows.items():
        unit = CATALOGUE[m].unit
        out += [value_text(r, unit, ctx.min_cell_size), interval_text(r, unit), n_text(r)]
    return out


def first_response_chart(ctx: Context) -> Block:
    return single_trend(ctx, "first-response", "first_response_hours_median", intervals=False)


# --- the page ------------------------------------------------------------------------------------


def section(page: str, name: str, title: str, parts: Sequence[Block]) -> html.Section:
    heading = f"{page}-{name}-heading"
    return html.Section([html.H2(title, id=heading, className="h4 mt-4"), *[render(page, b) for b in parts]],
                        **{"aria-labelledby": heading})  # fmt: skip


def partial_notice(ctx: Context) -> list[str]:
    """A notice when the view's last period is not over at the data's as-of time."""
    run = data.refresh_run(ctx.engine)
    if run is None or run.get("as_of") is None or not ctx.periods:
        return []
    as_of = pd.Timestamp(run["as_of"]).tz_localize("UTC").tz_convert(ctx.settings.tz).date()
    last = pd.Timestamp(period_last_day(ctx.view.grain, np.array([ctx.end], dtype="datetime64[D]"))[0]).date()
    if ctx.end <= as_of < last:
        return [_("{period} is not over: its figures cover the data up to {day}.").format(
            period=period_label(ctx.end, ctx.view.grain), day=format_day(as_of))]  # fmt: skip
    return []


def no_periods() -> dbc.Alert:
    return blocks.no_figures()


def content(engine: Engine, settings: Settings, view: View, by: str) -> list[Any]:
    """Everything under the filter bar, for `view` compared by `by`."""
    ctx = context(engine, settings, view)
    if not ctx.periods:
        return [no_periods()]
    return [
        *[dbc.Alert(m, color="info", className="py-2 mb-2") for m in partial_notice(ctx)],
        section(PAGE, "resolve", _("Time to resolve"),
                [km_chart(ctx, by), resolution_chart(ctx), first_response_chart(ctx)]),
        section(PAGE, "deadlines", _("Statutory deadlines"), [on_time_chart(ctx)]),
        section(PAGE, "backlog", _("Backlog"), [backlog_chart(ctx), backlog_age_chart(ctx)]),
        section(PAGE, "slices", _("Slices side by side"), [compare_chart(ctx, by)]),
    ]


def by_control(settings: Settings, by: str) -> dbc.Col:
    cid = ids.control(PAGE, "by")
    return dbc.Col(
        [
            dbc.Label(_("Compare by"), html_for=cid, className="small mb-1"),
            dbc.Select(id=cid, value=by, options=[{"label": dim_label(settings, d), "value": d} for d in BY_DIMS]),
        ],
        xs=6, md=3, xl="auto", className="filter",
    )  # fmt: skip


def page_header(title: str, engine: Engine, settings: Settings) -> list[Any]:
    return [
        html.H1(title, className="h3 mb-1"),
        html.P(views.as_of_detail(data.refresh_run(engine), settings), className="text-body-secondary"),
    ]


def layout(engine: Engine, settings: Settings, base: str, params: dict[str, Any]) -> html.Div:
    """The whole page for the address's parameters (first render, server-side)."""
    periods = periods_of(engine)
    view = filters.parse_view(params, settings, periods)
    by, by_notices = parse_by(params.get("by"))
    link = filters.href(base, replace(view, notices=()), {"by": by})
    return html.Div([
        *page_header(_("Timeliness"), engine, settings),
        *filters.notices(view, by_notices),
        filters.filter_bar(PAGE, view, settings, periods, link, extra=[by_control(settings, by)]),
        html.Div(content(engine, settings, view, by), id=ids.content(PAGE)),
    ])  # fmt: skip
