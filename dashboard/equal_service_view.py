"""Equal service: does every resident get the same standard of service?

Pure builders (metric cells in, Dash components and Plotly figures out) for the page
`dashboard/pages/equal_service.py`: cases per 1,000 residents by region (ranked bars, and a map
when region boundaries are configured) and by population group against the configured
reference group, and the inequality indices over time. Every read goes through
`dashboard.data` (the query layer); a breakdown the store does not hold is said to be "not
computed", a suppressed or missing figure is written as such, never drawn as 0.

The first part of this module holds the pieces the rights-uptake page (`dashboard.uptake_view`)
builds on too: figures of one cell in words, ranked bars with whiskers, comparisons with the
reference group drawn as ratios, and trend lines.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from babel.dates import format_skeleton
from dash import html
from sqlalchemy import Engine

from dashboard import blocks, data, downloads, filters, ids, intervals, plot, views
from dashboard.blocks import chart_block
from dashboard.figures import BAND, LINE, REFERENCE, SELECTED, _base_layout, vertical_line
from dashboard.filters import View
from dashboard.formatting import (
    NOT_AVAILABLE,
    axis_title,
    format_change,
    format_count,
    format_value,
    is_number,
    month_runs,
    period_label,
    short_month,
    unit_format,
)
from dashboard.i18n import N_, _, lang, locale
from dashboard.labels import dim_label, dim_values, metric_description, metric_name, slice_label, value_label
from dashboard.tiles import cell_state, suppressed_text
from metrics import comparisons, query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings

PAGE = ids.EQUAL
COVERAGE = "coverage_per_1000"
# The indices computed across the categories of a dimension, in the order the page shows them.
ACROSS_METRICS = (
    "coverage_gini",
    "coverage_theil",
    "coverage_disparity_ratio",
    "service_standard_gap",
    "timeliness_ratio",
)

# Okabe-Ito colours with at least 3:1 contrast on white (orange and sky blue are left out:
# they fail as lines), each with its own dash and marker so no line is told by colour alone.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x")
DIFFERS = "#D55E00"
MISSING_FILL = "#d9d9d9"
MAX_TICKS = 8
HALF_PERIOD = {"week": 3, "month": 15, "quarter": 45, "year": 182}

# What `n` counts, per indicator, as a column heading (the catalogue's `n_means` is English only).
N_HEADS = {
    "coverage_per_1000": N_("Cases opened"),
    "coverage_gini": N_("Cases behind the categories used"),
    "coverage_theil": N_("Cases behind the categories used"),
    "coverage_disparity_ratio": N_("Cases behind the categories used"),
    "service_standard_gap": N_("Cases behind the categories used"),
    "timeliness_ratio": N_("Cases behind the categories used"),
    "uptake_rate": N_("Eligible people"),
    "unclaimed_estimate": N_("Eligible people"),
    "grant_rate": N_("Decided applications"),
    "decision_days_median": N_("Applications"),
}

# The notes the indicators write on their cells, in words for the reader (matched after
# splitting a note on "; "); a note not listed is shown as it is stored.
NOTES = {
    "fewer than 12 months of cases before this period's end": N_(
        "Fewer than 12 months of cases before this period's end"
    ),
    "range from the low and high estimates of eligible people": N_(
        "Range from the low and high estimates of eligible people"
    ),
    "no eligible population known for this slice": N_("No eligible population known for this slice"),
    "only a rate is published: no count of people": N_("Only a rate is published: no count of people"),
    "published rate; the publisher gives no counts": N_("Published rate; the publisher gives no counts"),
    "no population known for this slice": N_("No population known for this slice"),
    "not reached: fewer than half of the cases are resolved": N_(
        "Not reached: fewer than half of the cases are resolved"
    ),
    "not reached: fewer than 90% of the cases are resolved": N_(
        "Not reached: fewer than 90% of the cases are resolved"
    ),
    "a category has not reached its median yet: the slowest is unknown": N_(
        "A category has not reached its median yet: the slowest is unknown"
    ),
    "closed cases only: biased low while cases are open": N_("Closed cases only: biased low while cases are open"),
}
NOTE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?P<n>\d+) categories of .+ used$"), N_("{n} categories used")),
    (
        re.compile(r"^fewer than two .+ categories with enough cases$"),
        N_("Fewer than two categories with enough cases"),
    ),
    (
        re.compile(r"^undefined over the (?P<n>\d+) categories of .+ used$"),
        N_("Undefined over the {n} categories used"),
    ),
    (re.compile(r"^population of (?P<n>\d{4})$"), N_("Population of {n}")),
)
REVEALING = N_("Suppressed (would reveal a smaller suppressed figure)")

# Why a group has no comparison with the reference group (metrics.comparisons notes).
COMPARISON_NOTES = {
    comparisons.NOTE_REFERENCE: N_("Reference group"),
    comparisons.NOTE_SUPPRESSED: N_("Suppressed: no comparison"),
    comparisons.NOTE_REFERENCE_SUPPRESSED: N_("Reference group suppressed: no comparison"),
    comparisons.NOTE_NO_VALUE: N_("No figure: no comparison"),
    comparisons.NOTE_REFERENCE_NO_VALUE: N_("Reference group has no figure: no comparison"),
    comparisons.NOTE_NO_REFERENCE: N_("No reference-group figure for this period: no comparison"),
    comparisons.NOTE_NO_INTERVAL: N_("No interval for this group or the reference group: gap not tested"),
}


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """The store, settings and data version every builder reads with."""

    engine: Engine
    settings: Settings
    version: int | None

    @classmethod
    def of(cls, engine: Engine, settings: Settings) -> Reader:
        return cls(engine, settings, data.data_version(engine))

    @property
    def min_cell_size(self) -> int:
        return self.settings.privacy.min_cell_size

    def cells(
        self, metric: str, view: View, breakdown: tuple[str, ...] = (), across: str = "", whole_range: bool = False
    ) -> pd.DataFrame | None:
        """The view's cells (see `data.view_cells`); None when the store holds no such breakdown,
        and also when an indicator computed across categories is not computed across `across`."""
        df = data.view_cells(
            self.engine,
            metric,
            view,
            self.version,
            self.min_cell_size,
            breakdown=breakdown,
            across=across,
            whole_range=whole_range,
        )
        if df is not None and "period" not in df.columns:
            # `data.view_cells` filters an empty frame by the slice with an empty object Series,
            # which pandas reads as a list of columns: the frame comes back with none at all.
            df = pd.DataFrame(columns=[*query.COLUMNS, "dims"])
        if (
            df is not None
            and across
            and df.empty
            and not data.cells(
                self.engine, metric, view.by(*breakdown), view.grain, self.version, self.min_cell_size, across
            ).shape[0]
        ):
            return None
        return df

    def periods(self, view: View) -> list[dt.date]:
        """The periods of the view's range that the store has figures for, oldest first."""
        known = data.periods(self.engine, view.grain, self.version)
        if view.start is None or view.end is None:
            return list(known)
        return [p for p in known if view.start <= p <= view.end]

    def periods_fn(self) -> filters.Periods:
        return lambda grain: data.periods(self.engine, grain, self.version)


# --- one figure in words ------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One figure as the page shows it: a value with its interval and n, or why there is none."""

    key: str  # the category, or the period as an ISO date
    label: str
    state: str  # "value" | "suppressed" | "missing"
    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: float | None = None
    note: str | None = None  # the stored note, as stored
    text: str = ""  # the value in its unit, or why there is none
    interval: str = ""  # "3.1 to 3.9 per 1,000", or "Not available"
    n_text: str = ""  # "1,234", or "Not available"

    @property
    def shown(self) -> bool:
        return self.state == "value"


def _num(x: Any) -> float | None:
    return float(x) if is_number(x) else None


def sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def note_text(note: Any) -> str:
    """A stored note in the reader's words ("Fewer than 12 months of cases..."); "" for none."""
    if not isinstance(note, str) or not note.strip():
        return ""
    parts = []
    for part in (p.strip() for p in note.split(";")):
        if not part or part.startswith("suppressed:"):
            continue
        if part in NOTES:
            parts.append(_(NOTES[part]))
            continue
        for pattern, template in NOTE_PATTERNS:
            match = pattern.match(part)
            if match:
                parts.append(_(template).format(**match.groupdict()))
                break
        else:
            parts.append(sentence(part))
    return _("; ").join(parts)


def suppressed_label(note: Any, min_cell_size: int) -> str:
    """`tiles.suppressed_text` in the reader's language."""
    english = suppressed_text(note if isinstance(note, str) else None, min_cell_size)
    if english == f"Suppressed (fewer than {min_cell_size} cases)":
        return _("Suppressed (fewer than {n} cases)").format(n=format_count(min_cell_size))
    if english == REVEALING:
        return _(REVEALING)
    return english


def interval_text(low: float | None, high: float | None, unit: str) -> str:
    """An interval in words; a Kaplan-Meier median's may have no upper limit."""
    if low is not None and high is None:
        return _("{low} or more (no upper limit reached)").format(low=format_value(low, unit))
    if low is None and high is not None:
        return _("Up to {high}").format(high=format_value(high, unit))
    if low is None or high is None:
        return _(NOT_AVAILABLE)
    return _("{low} to {high}").format(low=format_value(low, unit), high=format_value(high, unit))


def make_cell(row: dict[str, Any] | None, unit: str, min_cell_size: int, key: str, label: str) -> Cell:
    state = cell_state(row)
    note = row.get("note") if row else None
    note = note if isinstance(note, str) and note else None
    if state == "value":
        assert row is not None
        value, low, high, n = _num(row["value"]), _num(row.get("ci_low")), _num(row.get("ci_high")), _num(row.get("n"))
        return Cell(
            key,
            label,
            state,
            value,
            low,
            high,
            n,
            note,
            format_value(value, unit),
            interval_text(low, high, unit),
            format_count(n) if n is not None else _(NOT_AVAILABLE),
        )
    text = suppressed_label(note, min_cell_size) if state == "suppressed" else (note_text(note) or _("No figure"))
    return Cell(key, label, state, note=note, text=text, interval=_(NOT_AVAILABLE), n_text=_(NOT_AVAILABLE))


def category_cells(
    df: pd.DataFrame, dim: str, values: Sequence[str], unit: str, min_cell_size: int, settings: Settings
) -> list[Cell]:
    """One cell per category of `dim` in `df` (one period), configured categories first and in
    their order; a configured category without a cell is listed as having no figure."""
    rows = {d.get(dim): r for d, r in zip(df["dims"], data.records(df), strict=True)}
    order = [*values, *sorted(k for k in rows if k not in values)]
    return [make_cell(rows.get(v), unit, min_cell_size, v, value_label(settings, dim, v)) for v in order]


def period_cells(
    df: pd.DataFrame | None, periods: Sequence[dt.date], unit: str, min_cell_size: int, grain: str
) -> list[Cell]:
    """One cell per period of `periods` from a frame of one slice; a period without a cell has
    no figure (shown as missing, not dropped)."""
    rows = {} if df is None else {r["period"]: r for r in data.records(df)}
    return [make_cell(rows.get(p), unit, min_cell_size, p.isoformat(), period_label(p, grain)) for p in periods]


def at_period(df: pd.DataFrame, period: dt.date) -> pd.DataFrame:
    return df[df["period"] == period]


def one_cell(df: pd.DataFrame | None, period: dt.date, unit: str, min_cell_size: int, label: str = "") -> Cell:
    """The cell of one slice's frame at `period`."""
    rows = [] if df is None else data.records(at_period(df, period))
    return make_cell(rows[0] if rows else None, unit, min_cell_size, period.isoformat(), label)


def is_range(cells: Sequence[Cell]) -> bool:
    """Whether the cells' intervals are ranges from low and high estimates of eligible people
    (take-up), not 95% intervals."""
    return intervals.ranged({"note": c.note} for c in cells)


def interval_name(cells: Sequence[Cell]) -> str:
    return _("Range") if is_range(cells) else _("95% interval")


def whiskers_text(cells: Sequence[Cell]) -> str:
    if not any(c.shown and c.low is not None for c in cells):
        return ""
    if is_range(cells):
        return _("Whiskers show the range from the low and high estimates of eligible people.")
    return _("Whiskers show the 95% interval.")


def hidden_text(cells: Sequence[Cell]) -> list[str]:
    """ "Suppressed (fewer than 10 cases), not drawn: Fenwick, Greenvale." for each reason."""
    reasons: dict[str, list[str]] = {}
    for c in cells:
        if not c.shown:
            reasons.setdefault(c.text, []).append(c.label)
    return [
        _("{reason}, not drawn: {names}.").format(reason=r, names=_(", ").join(names)) for r, names in reasons.items()
    ]


def spread_text(shown: Sequence[Cell]) -> str:
    """ "From 4.20 per 1,000 in Millbrook to 3.31 per 1,000 in Greenvale." over cells ranked
    largest first."""
    if len(shown) == 1:
        return _("{name}: {value}.").format(name=shown[0].label, value=shown[0].text)
    return _("From {high} in {first} to {low} in {last}.").format(
        high=shown[0].text, first=shown[0].label, low=shown[-1].text, last=shown[-1].label
    )


def periods_text(periods: Sequence[dt.date], grain: str) -> str:
    if grain == "month":
        return month_runs(periods)
    return _(", ").join(period_label(p, grain) for p in periods)


def gaps_text(cells: Sequence[Cell], grain: str, prefix: str = "") -> list[str]:
    """The periods of a series that are suppressed or have no figure, with the reason, in words."""
    reasons: dict[str, list[dt.date]] = {}
    for c in cells:
        if not c.shown:
            reasons.setdefault(c.text, []).append(dt.date.fromisoformat(c.key))
    return [
        prefix + _("{reason}, so left as gaps: {periods}.").format(reason=reason, periods=periods_text(p, grain))
        for reason, p in reasons.items()
    ]


# --- components ---------------------------------------------------------------------------


def section(page: str, name: str, title: str, children: Sequence[Any]) -> html.Section:
    """A part of the page under its own h2; its charts carry h3 headings."""
    heading_id = f"{ids.block(page, name)}-title"
    return html.Section(
        [html.H2(title, id=heading_id, className="h4 mt-4"), *children],
        id=ids.block(page, name),
        className="page-section",
        **{"aria-labelledby": heading_id},
    )


def not_computed_text(
    settings: Settings, metric: str, view: View, breakdown: Sequence[str] = (), across: str = ""
) -> str:
    """Why a chart is missing: the store has no such breakdown (a combination of filters that
    `metrics.combinations` does not compute)."""
    by = view.by(*breakdown)
    dims = _(" and ").join(lower_en(dim_label(settings, d)) for d in by)
    indicator, across_label_ = metric_name(metric), lower_en(dim_label(settings, across)) if across else ""
    if across and by:
        text = _(
            "Not computed for this combination: the store holds no {indicator} across {across} by {dims}, so it is "
            "shown as missing, not as zero."
        ).format(indicator=indicator, across=across_label_, dims=dims)
    elif across:
        text = _(
            "Not computed for this combination: the store holds no {indicator} across {across}, so it is shown as "
            "missing, not as zero."
        ).format(indicator=indicator, across=across_label_)
    elif by:
        text = _(
            "Not computed for this combination: the store holds no {indicator} by {dims}, so it is shown as missing, "
            "not as zero."
        ).format(indicator=indicator, dims=dims)
    else:
        text = _(
            "Not computed: the store holds no {indicator} for the whole population, so it is shown as missing, not as "
            "zero."
        ).format(indicator=indicator)
    blocking = [d for d in view.slice() if d not in breakdown and d != across]
    if blocking:
        text += " " + _("Clear the {filters} filter to see it.").format(
            filters=_(", ").join(lower_en(dim_label(settings, d)) for d in blocking)
        )
    return text


def missing_block(page: str, name: str, title: str, text: str) -> html.Section:
    return blocks.text_block(page, name, title, [html.P(text, className="not-computed")])


def cells_table(
    cells: Sequence[Cell], first: str, value_head: str, n_head: str, interval_head: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """Head and rows of a table of one figure per row: name, value, interval, n."""
    head = [first, value_head, interval_head or _("95% interval"), n_head]
    return head, [[c.label, c.text, c.interval, c.n_text] for c in cells]


# --- figures ------------------------------------------------------------------------------


def _axis(fig: plot.Figure, unit: str, axis: str = "x", title: str | None = None) -> None:
    settings = {
        "tickformat": unit_format(unit).axis_format,
        "gridcolor": "#e5e5e5",
        "title": {"text": title if title is not None else axis_title(unit)},
    }
    if axis == "x":
        fig.update_xaxes(**settings)
    else:
        fig.update_yaxes(**settings)


def nothing_to_draw(fig: plot.Figure, text: str) -> plot.Figure:
    fig.add_annotation(
        x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, text=text, font={"size": 15, "color": REFERENCE}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def bar_figure(
    cells: Sequence[Cell],
    unit: str,
    *,
    ranked: bool = True,
    highlight: str | None = None,
    marks: dict[str, str] | None = None,
    line: tuple[float, str] | None = None,
    name: str = "",
) -> plot.Figure:
    """Horizontal bars of the cells with a figure, with their intervals as whiskers: ranked
    with the largest at the top, or in the given order from the top. `highlight` is the
    selected category (another colour, a hatch and "(selected)" in its label); `marks` adds
    words to labels ("reference"); `line` draws a dotted reference line (value, label)."""
    shown = [c for c in cells if c.shown]
    if ranked:
        shown.sort(key=lambda c: (-(c.value or 0.0), c.label))
    ordered = list(reversed(shown))  # Plotly draws the first category at the bottom.
    labels = []
    for c in ordered:
        label = c.label
        if c.key in (marks or {}):
            label = (marks or {})[c.key].format(name=label)
        if c.key == highlight:
            label = _("{name} (selected)").format(name=label)
        labels.append(label)
    plus = [(c.high - c.value) if c.high is not None and c.value is not None else 0.0 for c in ordered]
    minus = [(c.value - c.low) if c.low is not None and c.value is not None else 0.0 for c in ordered]
    selected = [c.key == highlight for c in ordered]
    fig = plot.Figure(
        plot.Bar(
            x=[c.value for c in ordered],
            y=labels,
            orientation="h",
            marker={
                "color": [SELECTED if s else LINE for s in selected],
                "pattern": {"shape": ["/" if s else "" for s in selected], "fgcolor": "white"},
            },
            error_x={
                "type": "data",
                "array": plus,
                "arrayminus": minus,
                "color": REFERENCE,
                "thickness": 1.2,
                "width": 4,
                "visible": any(plus) or any(minus),
            },
            text=[c.text for c in ordered],
            textposition="inside",
            insidetextanchor="start",
            textfont={"color": "white"},
            customdata=[[c.text, c.interval, c.n_text] for c in ordered],
            hovertemplate="%{y}: %{customdata[0]}<br>%{customdata[1]}<br>n = %{customdata[2]}<extra></extra>",
            name=name,
        )
    )
    _base_layout(fig, 90 + 34 * max(len(ordered), 1))
    fig.update_layout(showlegend=False, bargap=0.25)
    if not shown:
        return nothing_to_draw(fig, _("Nothing to draw: no category has a figure"))
    if line is not None:
        vertical_line(fig, line[0], line[1], "dot")
    _axis(fig, unit)
    fig.update_xaxes(zeroline=True, zerolinecolor="#888", rangemode="tozero")
    fig.update_yaxes(automargin=True, ticks="", categoryorder="array", categoryarray=labels)
    return fig


@dataclass(frozen=True)
class Gap:
    """One group against the reference group."""

    cell: Cell
    is_reference: bool
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    differs: bool | None
    note: str | None


def reference_gaps(
    df: pd.DataFrame, attr: str, reference: str, unit: str, settings: Settings, min_cell_size: int
) -> list[Gap]:
    """Each configured group of `attr` (cells of one period) against `reference`, through
    `metrics.comparisons.compare_with_reference`."""
    compared = comparisons.compare_with_reference(df, attr, reference, unit) if len(df) else df
    rows = {d.get(attr): r for d, r in zip(compared["dims"], data.records(compared), strict=True)}
    values = dim_values(settings, attr)
    out = []
    for v in [*values, *sorted(k for k in rows if k not in values)]:
        row = rows.get(v)
        cell = make_cell(row, unit, min_cell_size, v, value_label(settings, attr, v))
        if row is None:
            out.append(Gap(cell, v == reference, None, None, None, None, None, None, None, None))
            continue
        gap = row.get("real_gap")
        out.append(
            Gap(
                cell,
                v == reference,
                _num(row.get("ref_ratio")),
                _num(row.get("ref_ratio_low")),
                _num(row.get("ref_ratio_high")),
                _num(row.get("ref_difference")),
                _num(row.get("ref_difference_low")),
                _num(row.get("ref_difference_high")),
                None if gap is None or gap is pd.NA else bool(gap),
                row.get("ref_note"),
            )
        )
    return out


def gap_finding(g: Gap) -> str:
    """What the comparison says, in neutral words."""
    if g.is_reference:
        return _("Reference group")
    if g.differs is True:
        return _("Differs from the reference group")
    if g.differs is False:
        return _("No clear difference from the reference group")
    if not g.cell.shown:
        return g.cell.text
    note = g.note if isinstance(g.note, str) else ""
    return _(COMPARISON_NOTES[note]) if note in COMPARISON_NOTES else (sentence(note) or _("No comparison"))


def difference_text(value: float | None, unit: str) -> str:
    if value is None:
        return _(NOT_AVAILABLE)
    return format_change(value, unit) or _("No difference")


def gap_rows(gaps: Sequence[Gap], unit: str) -> tuple[list[str], list[list[str]]]:
    head = [
        _("Group"),
        _("Ratio to the reference group"),
        _("Interval of the ratio"),
        _("Difference"),
        _("Interval of the difference"),
        _("Finding"),
    ]
    rows = []
    for g in gaps:
        ratio = format_value(g.ratio, "ratio") if g.ratio is not None else _(NOT_AVAILABLE)
        rows.append(
            [
                g.cell.label,
                ratio,
                interval_text(g.ratio_low, g.ratio_high, "ratio"),
                difference_text(g.difference, unit),
                _("{low} to {high}").format(
                    low=difference_text(g.difference_low, unit), high=difference_text(g.difference_high, unit)
                )
                if g.difference_low is not None and g.difference_high is not None
                else _(NOT_AVAILABLE),
                gap_finding(g),
            ]
        )
    return head, rows


def gap_sentences(gaps: Sequence[Gap], reference_label: str, ranged: bool = False) -> list[str]:
    """Which groups differ from the reference group and which do not, in words."""
    excluded = _("the range of the ratio excludes 1") if ranged else _("the 95% interval of the ratio excludes 1")

    def item(g: Gap) -> str:
        ratio = format_value(g.ratio, "ratio")
        if g.ratio_low is None or g.ratio_high is None:
            return _("{group} ({ratio})").format(group=g.cell.label, ratio=ratio)
        return _("{group} ({ratio}, {low} to {high})").format(
            group=g.cell.label,
            ratio=ratio,
            low=format_value(g.ratio_low, "ratio"),
            high=format_value(g.ratio_high, "ratio"),
        )

    others = [g for g in gaps if not g.is_reference]
    differ = [item(g) for g in others if g.differs is True]
    same = [g.cell.label for g in others if g.differs is False]
    untested = [f"{g.cell.label} ({gap_finding(g)})" for g in others if g.differs is None]
    out = []
    if differ:
        out.append(
            _("Differs from the reference group {reference} ({why}): {groups}.").format(
                reference=reference_label, why=excluded, groups=_("; ").join(differ)
            )
        )
    if same:
        out.append(
            _("No clear difference from the reference group {reference}: {groups}.").format(
                reference=reference_label, groups=_(", ").join(same)
            )
        )
    if untested:
        out.append(_("Not compared: {groups}.").format(groups=_("; ").join(untested)))
    return out


def ratio_figure(gaps: Sequence[Gap], reference_label: str) -> plot.Figure:
    """Each group's ratio to the reference group with its interval; a line at 1 (the same as
    the reference). Groups whose interval excludes 1 are drawn as filled diamonds, the others
    as open circles, each named in the legend: shape and words, not colour alone."""
    fig = plot.Figure()
    others = [g for g in gaps if not g.is_reference and g.ratio is not None]
    labels = [g.cell.label for g in reversed(others)]
    kinds = (
        (True, _("Differs from the reference group"), DIFFERS, "diamond"),
        (False, _("No clear difference"), PALETTE[0], "circle-open"),
        (None, _("Not tested"), REFERENCE, "circle-open-dot"),
    )
    for differs, name, colour, symbol in kinds:
        these = [g for g in reversed(others) if g.differs is differs]
        if not these:
            continue
        fig.add_trace(
            plot.Scatter(
                x=[g.ratio for g in these],
                y=[g.cell.label for g in these],
                mode="markers",
                name=name,
                marker={"color": colour, "symbol": symbol, "size": 13, "line": {"width": 2, "color": colour}},
                error_x={
                    "type": "data",
                    "color": colour,
                    "thickness": 1.5,
                    "width": 5,
                    "array": [
                        (g.ratio_high - g.ratio) if g.ratio_high is not None and g.ratio is not None else 0.0
                        for g in these
                    ],
                    "arrayminus": [
                        (g.ratio - g.ratio_low) if g.ratio_low is not None and g.ratio is not None else 0.0
                        for g in these
                    ],
                },
                customdata=[
                    [format_value(g.ratio, "ratio"), interval_text(g.ratio_low, g.ratio_high, "ratio"), gap_finding(g)]
                    for g in these
                ],
                hovertemplate="%{y}: %{customdata[0]} (%{customdata[1]})<br>%{customdata[2]}<extra></extra>",
            )
        )
    _base_layout(fig, 130 + 40 * max(len(others), 1))
    if not others:
        return nothing_to_draw(fig, _("Nothing to draw: no group can be compared with the reference group"))
    vertical_line(fig, 1.0, _("Same as {reference} (1)").format(reference=reference_label), "dash")
    _axis(fig, "ratio", title=_("Ratio to the reference group"))
    fig.update_yaxes(automargin=True, categoryorder="array", categoryarray=labels)
    fig.update_layout(legend={"y": -0.25, "yanchor": "top"}, margin={"b": 60, "t": 48})
    return fig


@dataclass(frozen=True)
class Series:
    """One line of a trend chart: one cell per period."""

    name: str
    cells: Sequence[Cell]
    band: bool = False  # draw the interval as a shaded band (single-line charts)


def tick_label(period: dt.date, grain: str) -> str:
    if grain == "month":
        return short_month(period)
    if grain == "week":
        return format_skeleton("yMMMd", period, locale=locale())
    return period_label(period, grain)


def line_figure(
    series: Sequence[Series],
    periods: Sequence[dt.date],
    grain: str,
    unit: str,
    settings: Settings,
    *,
    band_name: str | None = None,
) -> plot.Figure:
    """Lines over the periods, gaps where a figure is suppressed or missing, each line with its
    own colour, dash and marker; the configured events as dotted vertical lines."""
    x = [pd.Timestamp(p) for p in periods]
    fig = plot.Figure()
    for i, s in enumerate(series):
        colour, dash, symbol = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], SYMBOLS[i % len(SYMBOLS)]
        if s.band and any(c.low is not None for c in s.cells):
            fig.add_trace(
                plot.Scatter(
                    x=x,
                    y=[c.high if c.shown else None for c in s.cells],
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    connectgaps=False,
                    name=band_name or _("95% interval"),
                )
            )
            fig.add_trace(
                plot.Scatter(
                    x=x,
                    y=[c.low if c.shown else None for c in s.cells],
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=BAND,
                    hoverinfo="skip",
                    connectgaps=False,
                    name=band_name or _("95% interval"),
                )
            )
        fig.add_trace(
            plot.Scatter(
                x=x,
                y=[c.value if c.shown else None for c in s.cells],
                mode="lines+markers",
                name=s.name,
                line={"color": LINE if len(series) == 1 else colour, "width": 2.5, "dash": dash},
                marker={"size": 7, "symbol": symbol, "color": LINE if len(series) == 1 else colour},
                connectgaps=False,
                customdata=[[c.label, c.text, c.n_text] for c in s.cells],
                hovertemplate="%{customdata[0]}: %{customdata[1]} (n = %{customdata[2]})<extra>"
                + s.name.replace("<", "&lt;")
                + "</extra>",
            )
        )
    _base_layout(fig, 400)
    # The legend under the plot, clear of the events' labels along its top.
    fig.update_layout(legend={"y": -0.12, "yanchor": "top"}, margin={"b": 20, "t": 36})
    if not periods or not any(c.shown for s in series for c in s.cells):
        return nothing_to_draw(fig, _("Nothing to draw: every period is suppressed or has no figure"))
    half = pd.Timedelta(days=HALF_PERIOD.get(grain, 15))
    step = max(1, math.ceil(len(periods) / MAX_TICKS))
    ticks = list(periods)[::-1][::step][::-1]
    fig.update_xaxes(
        range=[x[0] - half, x[-1] + half],
        tickvals=[pd.Timestamp(p) for p in ticks],
        ticktext=[tick_label(p, grain) for p in ticks],
        showgrid=False,
        linecolor="#888",
        ticks="outside",
    )
    _axis(fig, unit, "y")
    fig.update_yaxes(zeroline=False, rangemode="tozero" if unit in ("count", "index") else "normal")
    for event in settings.annotations:
        if periods[0] <= event.date <= periods[-1] + dt.timedelta(days=2 * HALF_PERIOD.get(grain, 15)):
            when = pd.Timestamp(event.date)
            fig.add_vline(x=when, line={"color": REFERENCE, "dash": "dot", "width": 1})
            fig.add_annotation(
                x=when,
                y=1,
                yref="paper",
                yanchor="bottom",
                showarrow=False,
                text=event.label.get(lang()),
                font={"size": 11, "color": REFERENCE},
            )
    return fig


def events_text(settings: Settings, periods: Sequence[dt.date], grain: str) -> str:
    if not periods:
        return ""
    end = periods[-1] + dt.timedelta(days=2 * HALF_PERIOD.get(grain, 15))
    events = [e for e in settings.annotations if periods[0] <= e.date <= end]
    if not events:
        return ""
    return _("Dotted vertical lines mark events: {events}.").format(
        events=_("; ").join(f"{e.label.get(lang())} ({period_label(e.date, 'month')})" for e in events)
    )


def trend_table(
    series: Sequence[Series],
    periods: Sequence[dt.date],
    grain: str,
    n_head: str,
    interval_head: str | None = None,
    intervals: bool = True,
) -> tuple[list[str], list[list[str]]]:
    """One row per period (newest first): each line's value and its n, and for a single line
    with `intervals` its interval."""
    single = len(series) == 1 and intervals
    head = [_("Period")]
    for s in series:
        if single:
            head += [s.name, interval_head or _("95% interval"), n_head]
        else:
            head += [s.name, _("{name}: {what}").format(name=s.name, what=n_head)]
    rows = []
    for i in reversed(range(len(periods))):
        row = [period_label(periods[i], grain)]
        for s in series:
            c = s.cells[i]
            row += [c.text, c.interval, c.n_text] if single else [c.text, c.n_text]
        rows.append(row)
    return head, rows


def trend_summary(
    name: str,
    series: Sequence[Series],
    periods: Sequence[dt.date],
    grain: str,
    settings: Settings,
    band: str = "",
    named: bool = False,
    extra: Sequence[str] = (),
) -> str:
    """What a trend chart shows, in words: the periods, the latest figures with their n, the gaps,
    then `extra` sentences and the events marked on it."""
    if not periods:
        return _("{name}: no figures for these periods.").format(name=name)
    parts = [
        _("{name}, {first} to {last}.").format(
            name=name, first=period_label(periods[0], grain), last=period_label(periods[-1], grain)
        )
    ]
    latest = []
    for s in series:
        c = s.cells[-1]
        detail = c.text
        if c.shown and categories_used(c.note):
            detail = _("{value} ({k} categories, n = {n})").format(value=c.text, k=categories_used(c.note), n=c.n_text)
        elif c.shown:
            detail = _("{value} (n = {n})").format(value=c.text, n=c.n_text)
        latest.append(
            detail if len(series) == 1 and not named else _("{name}: {value}").format(name=s.name, value=detail)
        )
    parts.append(_("{period}: {values}.").format(period=period_label(periods[-1], grain), values=_("; ").join(latest)))
    if band and any(c.shown for s in series for c in s.cells):
        parts.append(band)
    for s in series:
        parts += gaps_text(s.cells, grain, "" if len(series) == 1 and not named else s.name + _(": "))
    parts += [e for e in extra if e]
    events = events_text(settings, periods, grain)
    if events:
        parts.append(events)
    return " ".join(parts)


# --- map ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _load_geojson(path: str, mtime: float) -> dict[str, Any]:
    """`mtime` only keys the cache, so a replaced file is read again."""
    with open(path, encoding="utf-8") as f:
        out = json.load(f)
    if not isinstance(out, dict) or not isinstance(out.get("features"), list):
        raise ValueError("not a GeoJSON FeatureCollection")
    return out


def boundaries(settings: Settings) -> dict[str, Any] | None:
    """The configured region boundaries, None when none are configured; raises OSError or
    ValueError when the file cannot be read."""
    if settings.dashboard.boundaries is None:
        return None
    path = Path(settings.resolve(settings.dashboard.boundaries))
    return _load_geojson(str(path), path.stat().st_mtime)


def _points(coords: Any) -> list[tuple[float, float]]:
    if isinstance(coords, (list, tuple)) and len(coords) >= 2 and all(isinstance(v, (int, float)) for v in coords[:2]):
        return [(float(coords[0]), float(coords[1]))]
    out: list[tuple[float, float]] = []
    if isinstance(coords, (list, tuple)):
        for part in coords:
            out += _points(part)
    return out


def _fit(features: Sequence[dict[str, Any]], width: int = 640, height: int = 460) -> tuple[dict[str, float], float]:
    """Centre and zoom at which the features fill the map (Web Mercator, 512-pixel tiles):
    MapLibre maps have no `fitbounds`, and a tile-less map must not depend on a tile server."""
    points = [p for f in features for p in _points((f.get("geometry") or {}).get("coordinates"))]
    if not points:
        return {"lon": 0.0, "lat": 0.0}, 1.0
    lons, lats = [p[0] for p in points], [p[1] for p in points]

    def merc(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon_span = max(max(lons) - min(lons), 1e-6) / 360
    lat_span = max(merc(max(lats)) - merc(min(lats)), 1e-6) / (2 * math.pi)
    zoom = min(math.log2(width / 512 / lon_span), math.log2(height / 512 / lat_span)) - 0.3
    centre_y = (merc(max(lats)) + merc(min(lats))) / 2
    centre_lat = math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2)
    return {"lon": (max(lons) + min(lons)) / 2, "lat": centre_lat}, max(0.0, min(zoom, 18.0))


def map_figure(cells: Sequence[Cell], geojson: dict[str, Any], id_property: str, unit: str) -> plot.Figure:
    """A choropleth of the regions with a figure (colour-blind-safe Cividis scale) over a blank,
    tile-less background (works offline); regions without a figure in light grey, named in the
    hover label with the reason."""
    by_id = {str((f.get("properties") or {}).get(id_property)): f for f in geojson["features"]}
    features = [by_id[c.key] for c in cells if c.key in by_id]
    shown = [c for c in cells if c.shown and c.key in by_id]
    hidden = [c for c in cells if not c.shown and c.key in by_id]
    key = f"properties.{id_property}"
    collection = {"type": "FeatureCollection", "features": features}
    fig = plot.Figure()
    if hidden:
        fig.add_trace(
            plot.Choroplethmap(
                geojson=collection,
                featureidkey=key,
                locations=[c.key for c in hidden],
                z=[0] * len(hidden),
                colorscale=[[0, MISSING_FILL], [1, MISSING_FILL]],
                showscale=False,
                name=_("No figure shown"),
                marker={"line": {"color": "#6c757d", "width": 1}},
                customdata=[[c.label, c.text] for c in hidden],
                hovertemplate="%{customdata[0]}: %{customdata[1]}<extra></extra>",
            )
        )
    if shown:
        fig.add_trace(
            plot.Choroplethmap(
                geojson=collection,
                featureidkey=key,
                locations=[c.key for c in shown],
                z=[c.value for c in shown],
                colorscale="Cividis",
                marker={"line": {"color": "white", "width": 1}},
                colorbar={
                    "title": {"text": axis_title(unit), "side": "right"},
                    "tickformat": unit_format(unit).axis_format,
                },
                customdata=[[c.label, c.text, c.interval, c.n_text] for c in shown],
                hovertemplate="%{customdata[0]}: %{customdata[1]}<br>%{customdata[2]}<br>n = %{customdata[3]}"
                "<extra></extra>",
            )
        )
    centre, zoom = _fit(features)
    # A style with no sources: no tile, glyph or sprite is fetched from anywhere.
    blank = {
        "version": 8,
        "sources": {},
        "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#ffffff"}}],
    }
    _base_layout(fig, 480)
    fig.update_layout(map={"style": blank, "center": centre, "zoom": zoom}, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return fig


# --- the page's blocks --------------------------------------------------------------------


def where_label(settings: Settings, dims: dict[str, str], everyone: str) -> str:
    """A slice in words, `everyone` for the whole population."""
    return slice_label(settings, dims) if dims else everyone


def group_attribute(view: View, settings: Settings) -> str | None:
    """The attribute the group charts break down by: the filter's, else the first configured."""
    if view.group in settings.groups:
        return view.group
    return next(iter(settings.groups), None)


def region_blocks(r: Reader, view: View) -> list[Any]:
    """Coverage by region at the view's end: ranked bars, and a map when boundaries are set."""
    assert view.end is not None
    settings, unit, m = r.settings, CATALOGUE[COVERAGE].unit, r.min_cell_size
    period = period_label(view.end, view.grain)
    title = _("Cases per 1,000 residents by region, {period}").format(period=period)
    # All regions, the selected one highlighted: a region filter picks, it does not hide.
    base = replace(view, region=None)
    df = r.cells(COVERAGE, base, ("region",))
    if df is None:
        return [missing_block(PAGE, "region-bars", title, not_computed_text(settings, COVERAGE, base, ("region",)))]
    cells = category_cells(at_period(df, view.end), "region", dim_values(settings, "region"), unit, m, settings)
    overall = one_cell(r.cells(COVERAGE, base), view.end, unit, m)
    where = where_label(settings, base.slice(), _("all regions"))
    line = (overall.value, _("{where}: {value}").format(where=where, value=overall.text)) if overall.shown else None
    shown = sorted((c for c in cells if c.shown), key=lambda c: (-(c.value or 0.0), c.label))
    parts = [
        _("Cases per 1,000 residents by region, {period}, ranked from the largest to the smallest.").format(
            period=period
        )
    ]
    if shown:
        parts.append(spread_text(shown))
        parts.append(whiskers_text(cells))
        # Each figure's own n, not a total made here: a sum over the regions shown, set against
        # everyone's figure, would tell what the suppressed regions hold together.
        parts.append(_("The number of cases behind each region's figure is in the table."))
    else:
        parts.append(_("No region has a figure for this period."))
    if line is not None:
        parts.append(_("The dotted line is the figure for {where}, {value}.").format(where=where, value=overall.text))
    parts += hidden_text(cells)
    head, rows = cells_table(cells, _("Region"), _("Cases per 1,000 residents"), _(N_HEADS[COVERAGE]))
    csv = downloads.csv_href(COVERAGE, base, ("region",), latest=True)
    out = [
        chart_block(
            PAGE,
            "region-bars",
            title,
            bar_figure(cells, unit, highlight=view.region, line=line, name=metric_name(COVERAGE)),
            " ".join(p for p in parts if p),
            head,
            rows,
            csv=csv,
        )
    ]
    out += map_blocks(r, view, cells, csv)
    return out


def map_blocks(r: Reader, view: View, cells: Sequence[Cell], csv: str) -> list[Any]:
    """The map of the same figures, when `dashboard.boundaries` names a GeoJSON file."""
    assert view.end is not None
    settings = r.settings
    title = _("Map of cases per 1,000 residents, {period}").format(period=period_label(view.end, view.grain))
    try:
        geojson = boundaries(settings)
    except (OSError, ValueError) as exc:
        return [
            missing_block(
                PAGE,
                "region-map",
                title,
                _("The region boundaries could not be read ({path}): {error}").format(
                    path=settings.dashboard.boundaries, error=exc
                ),
            )
        ]
    if geojson is None:
        return []
    prop = settings.dashboard.boundary_id_property
    ids_in_file = {str((f.get("properties") or {}).get(prop)) for f in geojson["features"]}
    shown = [c for c in cells if c.shown and c.key in ids_in_file]
    parts = [
        _("Cases per 1,000 residents by region on a map, {period}.").format(period=period_label(view.end, view.grain))
    ]
    if shown:
        low = min(shown, key=lambda c: c.value or 0.0)
        high = max(shown, key=lambda c: c.value or 0.0)
        parts.append(
            _(
                "The colour runs from dark blue for the fewest cases per resident ({low} in {low_name}) to "
                "yellow for the most ({high} in {high_name})."
            ).format(low=low.text, low_name=low.label, high=high.text, high_name=high.label)
        )
    grey = [c for c in cells if not c.shown and c.key in ids_in_file]
    if grey:
        parts.append(
            _("In grey, without a figure: {regions}.").format(
                regions=_("; ").join(f"{c.label} ({c.text})" for c in grey)
            )
        )
    absent = [c.label for c in cells if c.key not in ids_in_file]
    if absent:
        parts.append(_("Not on the map (no boundary in the file): {regions}.").format(regions=_(", ").join(absent)))
    head, rows = cells_table(cells, _("Region"), _("Cases per 1,000 residents"), _(N_HEADS[COVERAGE]))
    return [
        chart_block(
            PAGE,
            "region-map",
            title,
            map_figure(cells, geojson, prop, CATALOGUE[COVERAGE].unit),
            " ".join(parts),
            head,
            rows,
            csv=csv,
        )
    ]


def coverage_trend_block(r: Reader, view: View) -> Any:
    settings, unit, m = r.settings, CATALOGUE[COVERAGE].unit, r.min_cell_size
    where = slice_label(settings, view.slice())
    title = _("Cases per 1,000 residents over time: {where}").format(where=where)
    df = r.cells(COVERAGE, view)
    if df is None:
        return missing_block(PAGE, "coverage-trend", title, not_computed_text(settings, COVERAGE, view))
    periods = r.periods(view)
    cells = period_cells(df, periods, unit, m, view.grain)
    series = [Series(where, cells, band=True)]
    head, rows = trend_table(series, periods, view.grain, _(N_HEADS[COVERAGE]))
    summary = trend_summary(
        _("Cases per 1,000 residents, {where}").format(where=where),
        series,
        periods,
        view.grain,
        settings,
        _("The shaded band is the 95% interval."),
    )
    return chart_block(
        PAGE,
        "coverage-trend",
        title,
        line_figure(series, periods, view.grain, unit, settings),
        summary,
        head,
        rows,
        csv=downloads.csv_href(COVERAGE, view),
    )


def group_blocks(r: Reader, view: View, attr: str) -> list[Any]:
    """Coverage of each group of `attr` at the view's end, its ratio to the reference group,
    and each group's coverage over time."""
    assert view.end is not None
    settings, unit, m = r.settings, CATALOGUE[COVERAGE].unit, r.min_cell_size
    period = period_label(view.end, view.grain)
    attr_label = lower_en(dim_label(settings, attr))
    reference = settings.groups[attr].reference
    reference_label = value_label(settings, attr, reference)
    # Every group of the attribute, the chosen one highlighted.
    base = replace(view, group=attr, group_value=None)
    titles = {
        "group-bars": _("Cases per 1,000 residents by {attr}, {period}").format(attr=attr_label, period=period),
        "group-gaps": _("Each group against the reference group ({reference}), {period}").format(
            reference=reference_label, period=period
        ),
        "group-trend": _("Cases per 1,000 residents over time by {attr}").format(attr=attr_label),
    }
    df = r.cells(COVERAGE, base, (attr,), whole_range=False)
    if df is None:
        text = not_computed_text(settings, COVERAGE, base, (attr,))
        return [missing_block(PAGE, name, title, text) for name, title in titles.items()]
    csv = downloads.csv_href(COVERAGE, base, (attr,), latest=True)
    end = at_period(df, view.end)
    gaps = reference_gaps(end, attr, reference, unit, settings, m)
    cells = [g.cell for g in gaps]
    highlight = view.group_value if view.group == attr else None
    overall = one_cell(r.cells(COVERAGE, replace(base, group=None)), view.end, unit, m)
    where = where_label(settings, replace(base, group=None).slice(), _("all groups"))
    line = (overall.value, _("{where}: {value}").format(where=where, value=overall.text)) if overall.shown else None

    parts = [_("Cases per 1,000 residents for each {attr} group, {period}.").format(attr=attr_label, period=period)]
    ref_cell = next((c for c in cells if c.key == reference), None)
    if ref_cell is not None:
        parts.append(_("Reference group: {reference}, {value}.").format(reference=reference_label, value=ref_cell.text))
    parts.append(whiskers_text(cells))
    shown = [c for c in cells if c.shown]
    if shown:
        parts.append(_("The number of cases behind each group's figure is in the table."))
    if line is not None:
        parts.append(_("The dotted line is the figure for {where}, {value}.").format(where=where, value=overall.text))
    parts += hidden_text(cells)
    head, rows = cells_table(cells, _("Group"), _("Cases per 1,000 residents"), _(N_HEADS[COVERAGE]))
    bars = chart_block(
        PAGE,
        "group-bars",
        titles["group-bars"],
        bar_figure(
            cells,
            unit,
            ranked=False,
            highlight=highlight,
            marks={reference: _("{name} (reference)")},
            line=line,
            name=metric_name(COVERAGE),
        ),
        " ".join(p for p in parts if p),
        head,
        rows,
        csv=csv,
    )

    gap_parts = [
        _(
            "How many times the reference group's cases per 1,000 residents each {attr} group has, {period}; "
            "1 means the same."
        ).format(attr=attr_label, period=period)
    ]
    gap_parts += gap_sentences(gaps, reference_label)
    gap_parts.append(_("Groups are compared with the reference group, never ranked against each other."))
    ghead, grows = gap_rows(gaps, unit)
    gap_block = chart_block(
        PAGE,
        "group-gaps",
        titles["group-gaps"],
        ratio_figure(gaps, reference_label),
        " ".join(gap_parts),
        ghead,
        grows,
        csv=csv,
    )

    periods = r.periods(view)
    values = dim_values(settings, attr)
    series = []
    for v in values:
        one = data.having(df, attr, v)
        series.append(Series(value_label(settings, attr, v), period_cells(one, periods, unit, m, view.grain)))
    thead, trows = trend_table(series, periods, view.grain, _(N_HEADS[COVERAGE]))
    summary = trend_summary(
        _("Cases per 1,000 residents by {attr}").format(attr=attr_label), series, periods, view.grain, settings
    )
    trend = chart_block(
        PAGE,
        "group-trend",
        titles["group-trend"],
        line_figure(series, periods, view.grain, unit, settings),
        summary,
        thead,
        trows,
        csv=downloads.csv_href(COVERAGE, base, (attr,)),
    )
    return [bars, gap_block, trend]


def across_views(view: View, attr: str | None) -> list[tuple[str, View]]:
    """(dimension, view) for each across-series: across regions for every region (a region
    filter does not apply to it), and across the groups of `attr` (all of them)."""
    out = [("region", replace(view, region=None))]
    if attr is not None:
        out.append((attr, replace(view, group=attr, group_value=None)))
    return out


def lower_en(text: str) -> str:
    """A label inside an English sentence ("age band"); other languages have no case."""
    return text.lower() if lang() == "en" else text


def across_label(settings: Settings, across: str) -> str:
    if across == "region":
        return _("Across regions")
    return _("Across {attr} groups").format(attr=lower_en(dim_label(settings, across)))


def categories_used(note: Any) -> str:
    match = re.match(r"^(\d+) categories of .+ used", note) if isinstance(note, str) else None
    return match.group(1) if match else ""


def across_block(r: Reader, view: View, metric: str, attr: str | None) -> Any:
    """One inequality index over the view's periods, across regions and across the groups."""
    settings, m = r.settings, r.min_cell_size
    definition = CATALOGUE[metric]
    name = metric_name(metric)
    block_name = metric.replace("_", "-")
    periods = r.periods(view)
    series: list[Series] = []
    links: list[tuple[str, str]] = []
    absent: list[str] = []
    for across, v in across_views(view, attr):
        df = r.cells(metric, v, across=across)
        if df is None:
            absent.append(not_computed_text(settings, metric, v, across=across))
            continue
        series.append(Series(across_label(settings, across), period_cells(df, periods, definition.unit, m, view.grain)))
        links.append((across, downloads.csv_href(metric, v, across=across)))
    if not series:
        return missing_block(PAGE, block_name, name, " ".join(absent))
    summary = trend_summary(
        name, series, periods, view.grain, settings, named=True, extra=[metric_description(metric), *absent]
    )
    head, rows = trend_table(series, periods, view.grain, _(N_HEADS[metric]), intervals=False)
    block = chart_block(
        PAGE,
        block_name,
        name,
        line_figure(series, periods, view.grain, definition.unit, settings),
        summary,
        head,
        rows,
        csv=links[0][1],
    )
    # One download per series: the first is the block's own link, the others follow it.
    for across, href in links[1:]:
        block.children.append(
            html.A(
                _("Download the figures across {dim} (CSV)").format(dim=lower_en(dim_label(settings, across))),
                href=href,
                download="",
                className="csv-link ms-3",
                id=f"{ids.download(PAGE, block_name)}-{across}",
            )
        )
    return block


def groups_section(page: str, settings: Settings, view: View, attr: str, children: Sequence[Any]) -> html.Section:
    """The section of one population-group attribute, saying which one is shown when the
    reader chose none."""
    note = []
    if view.group is None:
        note = [html.P(_("Showing {attr}, the first population-group attribute; choose another under Population "
                         "group.").format(attr=dim_label(settings, attr)), className="block-note")]  # fmt: skip
    title = _("By population group: {attr}").format(attr=dim_label(settings, attr))
    return section(page, "groups", title, [*note, *children])


def content(engine: Engine, settings: Settings, view: View) -> list[Any]:
    """What the page's filters redraw: every block for `view`."""
    r = Reader.of(engine, settings)
    if view.end is None:
        return [
            blocks.no_figures()
        ]
    attr = group_attribute(view, settings)
    out = [section(PAGE, "regions", _("By region"), [*region_blocks(r, view), coverage_trend_block(r, view)])]
    if attr is not None:
        out.append(groups_section(PAGE, settings, view, attr, group_blocks(r, view, attr)))
    out.append(
        section(
            PAGE,
            "inequality",
            _("Inequality over time"),
            [
                html.P(
                    _(
                        "Each index summarises how far apart the figures of the regions, or of the groups, "
                        "are; the first three measure cases per resident, the last two deadlines met and "
                        "waiting times."
                    ),
                    className="block-note",
                ),
                *[across_block(r, view, metric, attr) for metric in ACROSS_METRICS],
            ],
        )
    )
    return out


def header(engine: Engine, settings: Settings, title: str, intro: str) -> list[Any]:
    return [
        html.H1(title, className="h3 mb-1"),
        html.P(intro, className="lead fs-6"),
        html.P(views.as_of_detail(data.refresh_run(engine), settings), className="text-body-secondary as-of-line"),
    ]


def page(engine: Engine, settings: Settings, params: dict[str, Any], base: str) -> html.Div:
    """The whole page for the address's query parameters; `base` is the page's path."""
    r = Reader.of(engine, settings)
    view = filters.parse_view(params, settings, r.periods_fn())
    link = filters.href(base, replace(view, notices=()))
    return html.Div(
        [
            *header(
                engine,
                settings,
                _("Equal service"),
                _(
                    "Does every resident get the same standard of service? Cases per 1,000 residents by region and "
                    "by population group, each group against the reference group, and how unequal coverage is "
                    "over time."
                ),
            ),
            *filters.notices(view),
            filters.filter_bar(PAGE, view, settings, r.periods_fn(), link),
            html.Div(content(engine, settings, view), id=ids.content(PAGE)),
        ]
    )


def view_of(settings: Settings, engine: Engine, values: Sequence[Any]) -> View:
    """The view of the filter controls' values (in the order of `filters.inputs`)."""
    return filters.view_from_controls(settings, Reader.of(engine, settings).periods_fn(), *values)
