"""The citizen experience and joined-up working page as pure functions of metric cells.

Failure demand (residents who have to come back), settling at the first contact, reopened
cases, what residents say in the satisfaction survey, and how often a case passes between
departments and what that costs in days. The reading, wording and chart helpers are the
timeliness page's (`dashboard.timeliness_view`), so both pages say a suppressed or missing
figure the same way.

The rating distribution is stored for everyone only (dimension `rating`, no combination
with a filter), so under a filter it says it is not computed rather than drawing zeros;
the handoff figures by department likewise need a view without filters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy import Engine

from dashboard import downloads, filters, ids, plot
from dashboard.figures import _base_layout
from dashboard.filters import View
from dashboard.formatting import axis_title, format_value, period_label, unit_format
from dashboard.i18n import _
from dashboard.labels import metric_name
from dashboard.tiles import cell_state
from dashboard.timeliness_view import (
    BLUE,
    GREEN,
    VERMILLION,
    Block,
    Chart,
    Context,
    Dots,
    Panel,
    at_period,
    by_category,
    category_label,
    context,
    csv_label,
    dot_figure,
    first_row,
    interval_text,
    line,
    n_heading,
    n_phrase,
    n_text,
    n_value,
    no_periods,
    not_stored,
    nothing_to_draw,
    ordered_categories,
    page_header,
    partial_notice,
    periods_of,
    section,
    sentence_join,
    single_trend,
    trend_chart,
    value_of,
    value_text,
    view_target,
)
from metrics.changes import change_between
from metrics.config import Settings

PAGE = ids.EXPERIENCE
SCORES = ("1", "2", "3", "4", "5")


# --- failure demand and first contact ------------------------------------------------------------


def repeat_chart(ctx: Context) -> Block:
    return single_trend(ctx, "repeat-contact", "repeat_contact_rate")


def first_contact_chart(ctx: Context) -> Block:
    return single_trend(ctx, "first-contact", "first_contact_resolution_rate", color=GREEN, symbol="square")


def reopen_chart(ctx: Context) -> Block:
    return single_trend(ctx, "reopen", "reopen_rate", color=VERMILLION, symbol="diamond")


# --- satisfaction ---------------------------------------------------------------------------------


def ratings_chart(ctx: Context) -> Block:
    """The share of responses at each score 1-5 in the end period, with the responses behind it."""
    name, metric = "ratings", "rating_share"
    end = period_label(ctx.end, ctx.view.grain)
    title = _("{metric}, {period}").format(metric=metric_name(metric), period=end)
    df = at_period(ctx.read(metric, ("rating",)), ctx.end)
    if df is None:
        return not_stored(name, title, metric, ctx, ("rating",))
    cells = by_category(df, "rating")
    rows = [cells.get(s) for s in SCORES]
    labels = [_("{score} out of 5").format(score=s) for s in SCORES]
    values = [value_of(r) for r in rows]
    texts = [value_text(r, "proportion", ctx.min_cell_size) for r in rows]
    plus = [float(r["ci_high"]) - v if v is not None and r and r.get("ci_high") is not None else 0.0
            for r, v in zip(rows, values, strict=True)]  # fmt: skip
    minus = [v - float(r["ci_low"]) if v is not None and r and r.get("ci_low") is not None else 0.0
             for r, v in zip(rows, values, strict=True)]  # fmt: skip
    fig = plot.Figure(plot.Bar(
        x=labels, y=values, name=metric_name(metric),
        # Satisfied answers (4 and 5) are hatched, so the split reads without colour.
        marker={"color": BLUE, "pattern": {"shape": ["", "", "", "/", "/"], "fgcolor": "white", "solidity": 0.3}},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "visible": any(plus) or any(minus),
                 "color": "#333", "thickness": 1.2, "width": 5},
        text=[t if v is not None else "" for t, v in zip(texts, values, strict=True)], textposition="outside",
        cliponaxis=False, customdata=texts, hovertemplate="%{x}: %{customdata}<extra></extra>",
    ))  # fmt: skip
    _base_layout(fig, 380)
    fig.update_layout(showlegend=False, bargap=0.3, margin={"t": 40})
    n = next((n_value(r) for r in rows if n_value(r) is not None), None)
    if all(v is None for v in values):
        nothing_to_draw(fig, _("Nothing to draw: no score has a figure for this period"))
    else:
        fig.update_xaxes(type="category", title={"text": _("Score")})
        fig.update_yaxes(tickformat=unit_format("proportion").axis_format, gridcolor="#e5e5e5", rangemode="tozero",
                         title={"text": axis_title("proportion")})  # fmt: skip
    parts = [_("How residents who answered the survey rated their case, {where}, {period}").format(
        where=ctx.where(), period=end)]  # fmt: skip
    parts[0] += _(": {n}.").format(n=n_phrase(metric, n)) if n is not None else _(".")
    scores = [_("{score}: {value}").format(score=lab, value=t) for lab, t in zip(labels, texts, strict=True)]
    parts.append(_(", ").join(scores) + _("."))
    # The satisfied share is an indicator of its own (computed from the responses, with its
    # own suppression), not the sum of two rounded, possibly suppressed bars.
    satisfied = first_row(at_period(ctx.read("satisfied_share"), ctx.end))
    if cell_state(satisfied) == "value":
        parts.append(_("{share} gave 4 or 5 (hatched bars).").format(
            share=value_text(satisfied, "proportion", ctx.min_cell_size)))  # fmt: skip
    if any(v is not None for v in values):
        parts.append(_("Whiskers show the 95% interval."))
    head = [_("Score"), _("Share of responses"), _("95% interval"), n_heading(metric)]
    table = [[lab, t, interval_text(r, "proportion"), n_text(r)] for lab, t, r in zip(labels, texts, rows,
                                                                                        strict=True)]  # fmt: skip
    csv = downloads.csv_href(metric, ctx.view, ("rating",), latest=True)
    return Chart(name, title, fig, sentence_join(parts), head, table, csv)


def satisfaction_mean_chart(ctx: Context) -> Block:
    return single_trend(ctx, "satisfaction-mean", "satisfaction_mean", color=GREEN, symbol="square")


def satisfied_share_chart(ctx: Context) -> Block:
    return single_trend(ctx, "satisfied-share", "satisfied_share", target=view_target(ctx, "satisfied_share"))


# --- joined-up working ----------------------------------------------------------------------------


def handoff_rate_chart(ctx: Context) -> Block:
    return single_trend(ctx, "handoff-rate", "handoff_rate", color=VERMILLION, symbol="diamond")


def handoff_days_chart(ctx: Context) -> Block:
    """Median days to resolve cases passed between departments, beside those settled by one."""
    name, title = "handoff-days", _("Median days to resolve, with and without handoffs")
    handoff, direct = ctx.read("handoff_resolution_days_median"), ctx.read("direct_resolution_days_median")
    if handoff is None or direct is None:
        return not_stored(name, title, "handoff_resolution_days_median" if handoff is None
                          else "direct_resolution_days_median", ctx)  # fmt: skip
    lines = [
        line(ctx, "handoff_resolution_days_median", handoff, label=_("With handoffs"), color=VERMILLION, dash="dash",
             symbol="diamond"),
        line(ctx, "direct_resolution_days_median", direct, label=_("Without handoffs")),
    ]  # fmt: skip
    extra = [_("Both are Kaplan-Meier medians: cases still open count as waiting so far.")]
    sentence = handoff_difference(lines[0].rows[-1], lines[1].rows[-1], period_label(ctx.end, ctx.view.grain))
    if sentence:
        extra.append(sentence)
    return trend_chart(ctx, name, title, lines, extra=extra)


def handoff_difference(handoff: dict[str, Any] | None, direct: dict[str, Any] | None, period: str) -> str:
    """The end period's difference between the two medians, called a difference only when
    the 95% interval of the difference (MOVER, the two groups of cases being disjoint)
    excludes none; "" when either median is missing."""
    change = change_between(handoff, direct)
    if change is None:
        return ""
    diff = format_value(abs(change.difference), "days")
    if change.real is None:
        return _("In {period} the medians are {diff} apart; no interval to judge the difference by.").format(
            period=period, diff=diff)  # fmt: skip
    if not change.real:
        return _("In {period} the medians with and without handoffs do not clearly differ ({diff} apart, within "
                 "the 95% interval of the difference).").format(period=period, diff=diff)  # fmt: skip
    if change.difference > 0:
        return _("In {period} a case passed between departments took {diff} longer at the median.").format(
            period=period, diff=diff)  # fmt: skip
    return _("In {period} a case passed between departments took {diff} less at the median.").format(
        period=period, diff=diff)  # fmt: skip


def departments_chart(ctx: Context) -> Block:
    """Handoff rate and the two medians for each department, end period."""
    name, dim = "departments", "department"
    end = period_label(ctx.end, ctx.view.grain)
    title = _("Joined-up working by department, {period}").format(period=end)
    metrics = ("handoff_rate", "handoff_resolution_days_median", "direct_resolution_days_median")
    parts = {m: at_period(ctx.read(m, (dim,)), ctx.end) for m in metrics}
    if any(df is None for df in parts.values()):
        return not_stored(name, title, "handoff_rate", ctx, (dim,))
    cells = {m: by_category(df, dim) for m, df in parts.items()}  # type: ignore[arg-type]
    whole = {m: first_row(at_period(ctx.read(m), ctx.end)) for m in metrics}  # type: ignore[arg-type]
    values = ordered_categories(ctx.settings, dim, list(cells["handoff_rate"]))
    rows_of = {m: [cells[m].get(v) for v in values] for m in metrics}
    labels = [category_label(ctx.settings, dim, v, [cell_state(rows_of[m][i]) for m in metrics], None)
              for i, v in enumerate(values)]  # fmt: skip
    where = ctx.where()

    def reference(m: str, unit: str) -> tuple[float, str] | None:
        w = value_of(whole[m])
        return None if w is None else (w, _("{where}: {value}").format(where=where, value=format_value(w, unit)))

    panels = [
        Panel(metric_name("handoff_rate"), "proportion",
              [Dots("handoff_rate", metric_name("handoff_rate"), rows_of["handoff_rate"], VERMILLION, "diamond")],
              reference("handoff_rate", "proportion")),
        Panel(_("Median days to resolve"), "days", [
            Dots("handoff_resolution_days_median", _("With handoffs"), rows_of["handoff_resolution_days_median"],
                 VERMILLION, "diamond-open"),
            Dots("direct_resolution_days_median", _("Without handoffs"), rows_of["direct_resolution_days_median"],
                 BLUE, "circle"),
        ]),
    ]  # fmt: skip
    figure = dot_figure(labels, panels, ctx.min_cell_size)
    head = [
        _("Department"), metric_name("handoff_rate"), _("95% interval"), n_heading("handoff_rate"),
        _("Median days, with handoffs"), _("95% interval"), n_heading("handoff_resolution_days_median"),
        _("Median days, without handoffs"), _("95% interval"), n_heading("direct_resolution_days_median"),
    ]  # fmt: skip
    table = [[where, *_cells(whole, ctx)]]
    table += [[lab, *_cells({m: rows_of[m][i] for m in metrics}, ctx)] for i, lab in enumerate(labels)]
    summary = [_("For each department, {period}: the share of cases passed between departments (left; the dotted "
                 "line is {where}) and the median days to resolve cases with and without handoffs (right), each "
                 "with its 95% interval.").format(period=end, where=where)]  # fmt: skip
    for i, lab in enumerate(labels):
        h, hd, dd = (rows_of[m][i] for m in metrics)
        n = n_value(h)
        summary.append(_("{department}: {rate} of {n} passed on; median {with_} with handoffs, {without} "
                         "without.").format(
            department=lab, rate=value_text(h, "proportion", ctx.min_cell_size),
            n=n_phrase("handoff_rate", n) if n is not None else _("an unknown number of cases"),
            with_=value_text(hd, "days", ctx.min_cell_size),
            without=value_text(dd, "days", ctx.min_cell_size)))  # fmt: skip
    return Chart(
        name, title, figure, sentence_join(summary), head, table,
        downloads.csv_href("handoff_rate", ctx.view, (dim,), latest=True),
        [(csv_label(m), downloads.csv_href(m, ctx.view, (dim,), latest=True)) for m in metrics[1:]],
    )  # fmt: skip


def _cells(rows: dict[str, Any], ctx: Context) -> list[str]:
    out = []
    for m, r in rows.items():
        unit = "proportion" if m == "handoff_rate" else "days"
        out += [value_text(r, unit, ctx.min_cell_size), interval_text(r, unit), n_text(r)]
    return out


# --- the page -------------------------------------------------------------------------------------


def content(engine: Engine, settings: Settings, view: View) -> list[Any]:
    """Everything under the filter bar, for `view`."""
    ctx = context(engine, settings, view)
    if not ctx.periods:
        return [no_periods()]
    return [
        *[dbc.Alert(m, color="info", className="py-2 mb-2") for m in partial_notice(ctx)],
        section(PAGE, "contact", _("Coming back and settling at the first contact"),
                [repeat_chart(ctx), first_contact_chart(ctx), reopen_chart(ctx)]),
        section(PAGE, "satisfaction", _("Satisfaction"),
                [ratings_chart(ctx), satisfaction_mean_chart(ctx), satisfied_share_chart(ctx)]),
        section(PAGE, "joined-up", _("Joined-up working"),
                [handoff_rate_chart(ctx), handoff_days_chart(ctx), departments_chart(ctx)]),
    ]  # fmt: skip


def layout(engine: Engine, settings: Settings, base: str, params: dict[str, Any]) -> html.Div:
    """The whole page for the address's parameters (first render, server-side)."""
    periods = periods_of(engine)
    view = filters.parse_view(params, settings, periods)
    link = filters.href(base, replace(view, notices=()))
    return html.Div([
        *page_header(_("Experience and joined-up working"), engine, settings),
        *filters.notices(view),
        filters.filter_bar(PAGE, view, settings, periods, link),
        html.Div(content(engine, settings, view), id=ids.content(PAGE)),
    ])  # fmt: skip

