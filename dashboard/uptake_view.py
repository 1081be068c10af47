"""Rights uptake: do the people entitled to a benefit actually receive it?

Pure builders for the page `dashboard/pages/uptake.py`: take-up (`uptake_rate`) and the
estimated number of people missing out (`unclaimed_estimate`) by programme, by region and by
population group, with the grant rate and the median days to a decision, and their trends.

Take-up is annual: every period's figure counts the people granted in the 12 months to the
period's end over the people eligible that year. Where the eligible-population table gives a
low and a high estimate, the interval of a figure is the range those estimates give (the
cell's note says so), not a 95% interval: the page calls it a range. The programmes are the
services flagged `entitlement: true`; the service filter picks one of them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy import Engine

from dashboard import blocks, downloads, filters, ids
from dashboard.blocks import chart_block
from dashboard.equal_service_view import (
    N_HEADS,
    Cell,
    Reader,
    Series,
    at_period,
    bar_figure,
    category_cells,
    cells_table,
    gap_rows,
    gap_sentences,
    group_attribute,
    groups_section,
    header,
    hidden_text,
    interval_name,
    is_range,
    line_figure,
    lower_en,
    missing_block,
    not_computed_text,
    one_cell,
    period_cells,
    ratio_figure,
    reference_gaps,
    section,
    sentence,
    spread_text,
    trend_summary,
    trend_table,
    where_label,
    whiskers_text,
)
from dashboard.filters import View
from dashboard.formatting import format_value, period_label
from dashboard.i18n import _
from dashboard.labels import dim_label, dim_values, metric_description, metric_name, slice_label, value_label
from metrics.catalogue import CATALOGUE
from metrics.config import Settings

PAGE = ids.UPTAKE
UPTAKE = "uptake_rate"
UNCLAIMED = "unclaimed_estimate"
GRANT = "grant_rate"
DAYS = "decision_days_median"


def programmes(settings: Settings) -> tuple[str, ...]:
    """The entitlement programmes, in configured order."""
    return tuple(k for k, s in settings.services.items() if s.entitlement)


def programme_view(view: View, settings: Settings) -> tuple[View, list[str]]:
    """The view with its service limited to a programme; a service that is not one is dropped
    with a notice."""
    if view.service is None or view.service in programmes(settings):
        return view, []
    notice = _("{service} is not an entitlement programme; showing all programmes.").format(
        service=value_label(settings, "service", view.service)
    )
    return replace(view, service=None), [notice]


def unit(metric: str) -> str:
    return CATALOGUE[metric].unit


def _title(template: str, view: View) -> str:
    assert view.end is not None
    return template.format(period=period_label(view.end, view.grain))


# --- the headline in words ----------------------------------------------------------------


def all_programmes(settings: Settings, view: View) -> bool:
    """Whether the view's take-up figures sum several programmes (no programme chosen)."""
    return view.service is None and len(programmes(settings)) > 1


def programme_name(settings: Settings, view: View) -> str:
    return value_label(settings, "service", view.service) if view.service else _("a benefit")


def unclaimed_sentence(settings: Settings, view: View, cell: Cell) -> str:
    """ "About 1,195 people eligible for Child benefit did not claim it in the 12 months to
    October 2026." — or why there is no such figure."""
    assert view.end is not None
    period = period_label(view.end, view.grain)
    who = programme_name(settings, view)
    rest = {d: v for d, v in view.slice().items() if d != "service"}
    where = _(" ({slice})").format(slice=slice_label(settings, rest)) if rest else ""
    if cell.state == "suppressed":
        return _(
            "The number of people eligible for {programme}{where} who did not claim it in the 12 months to "
            "{period} is not shown: {reason}."
        ).format(programme=who, where=where, period=period, reason=reason(cell))
    if not cell.shown or cell.value is None:
        return _(
            "There is no estimate of the people eligible for {programme}{where} who did not claim it in the "
            "12 months to {period}: {reason}."
        ).format(programme=who, where=where, period=period, reason=reason(cell))
    if cell.value < 0:
        return _(
            "More people received {programme}{where} in the 12 months to {period} than the estimate of eligible "
            "people ({n} more): the estimate of eligible people is probably too low."
        ).format(programme=who, where=where, period=period, n=format_value(-cell.value, "count"))
    if all_programmes(settings, view):
        # Eligible people are counted per programme: across programmes the sum counts
        # entitlements, and a person eligible for two is in it twice.
        text = _("About {n} entitlements{where} went unclaimed in the 12 months to {period}, across all programmes "
                 "(a person eligible for two programmes counts twice).").format(n=cell.text, where=where,
                                                                                 period=period)  # fmt: skip
    else:
        text = _("About {n} people eligible for {programme}{where} did not claim it in the 12 months to "
                 "{period}.").format(n=cell.text, programme=who, where=where, period=period)  # fmt: skip
    if cell.low is not None and cell.high is not None:
        text += " " + _("Between {low} and {high}, from the low and high estimates of eligible people.").format(
            low=format_value(cell.low, "count"), high=format_value(cell.high, "count")
        )
    return text


def reason(cell: Cell) -> str:
    """Why a cell has no figure, to end a sentence with (without a full stop of its own)."""
    return cell.text.rstrip(".")


def uptake_sentence(cell: Cell, entitlements: bool = False) -> str:
    """Take-up in words; `entitlements` when the figure sums several programmes, whose
    eligible counts then count entitlements rather than people."""
    if not cell.shown:
        return _("Take-up: {reason}.").format(reason=reason(cell))
    if entitlements and cell.n is not None:
        text = _("{rate} of the {n} entitlements across all programmes were taken up.").format(
            rate=cell.text, n=cell.n_text)  # fmt: skip
    elif cell.n is None:
        text = _("{rate} of the people eligible received it.").format(rate=cell.text)
    else:
        text = _("{rate} of the {n} people eligible received it.").format(rate=cell.text, n=cell.n_text)
    if cell.low is not None and cell.high is not None:
        text += " " + (_("Range: {interval}.") if is_range([cell]) else _("95% interval: {interval}.")).format(
            interval=cell.interval
        )
    return text


def decisions_sentences(grant: Cell, days: Cell, view: View) -> list[str]:
    assert view.end is not None
    period = period_label(view.end, view.grain)
    out = []
    if grant.shown:
        out.append(
            _("Of the applications made in {period} and decided, {rate} were granted ({n} decided).").format(
                period=period, rate=grant.text, n=grant.n_text
            )
        )
    else:
        out.append(_("Share of applications granted, {period}: {reason}.").format(period=period, reason=reason(grant)))
    if days.shown:
        out.append(
            _("Half of the applications made in {period} were decided within {days} ({n} applications).").format(
                period=period, days=days.text, n=days.n_text
            )
        )
    else:
        out.append(_("Median days to a decision, {period}: {reason}.").format(period=period, reason=reason(days)))
    return out


def headline_block(r: Reader, view: View) -> Any:
    assert view.end is not None
    m = r.min_cell_size
    title = _title(_("In the 12 months to {period}"), view)
    cells = {}
    for metric in (UNCLAIMED, UPTAKE, GRANT, DAYS):
        df = r.cells(metric, view)
        cells[metric] = (
            one_cell(df, view.end, unit(metric), m)
            if df is not None
            else Cell("", "", "missing", text=not_computed_text(r.settings, metric, view))
        )
    body = [
        html.P(
            unclaimed_sentence(r.settings, view, cells[UNCLAIMED]),
            className="lead fs-5 mb-2",
            id=f"{ids.block(PAGE, 'headline')}-unclaimed",
        ),
        html.P(
            uptake_sentence(cells[UPTAKE], all_programmes(r.settings, view)),
            id=f"{ids.block(PAGE, 'headline')}-uptake",
        ),
        html.P(
            " ".join(decisions_sentences(cells[GRANT], cells[DAYS], view)),
            id=f"{ids.block(PAGE, 'headline')}-decisions",
        ),
    ]
    return blocks.text_block(PAGE, "headline", title, body, level=2)


# --- by a dimension at the view's end -----------------------------------------------------


def breakdown_blocks(
    r: Reader,
    view: View,
    dim: str,
    base: View,
    values: tuple[str, ...],
    highlight: str | None,
    names: dict[str, str],
    ranked: bool = True,
    marks: dict[str, str] | None = None,
) -> list[Any]:
    """Take-up and people missing out for each category of `dim` at the view's end. `base` is
    the view read (without the filter on `dim`, so every category shows), `names` the block
    names for (uptake, unclaimed)."""
    assert view.end is not None
    settings, m = r.settings, r.min_cell_size
    period = period_label(view.end, view.grain)
    dim_name = lower_en(dim_label(settings, dim)) if dim != "service" else _("programme")
    out = []
    for metric, template in (
        (UPTAKE, _("Take-up by {dim}, 12 months to {period}")),
        (UNCLAIMED, _("People missing out by {dim}, 12 months to {period}")),
    ):
        name = names[metric]
        title = template.format(dim=dim_name, period=period)
        df = r.cells(metric, base, (dim,))
        if df is None:
            out.append(missing_block(PAGE, name, title, not_computed_text(settings, metric, base, (dim,))))
            continue
        cells = category_cells(at_period(df, view.end), dim, values, unit(metric), m, settings)
        cells = [c for c in cells if c.key in values or c.shown]
        out.append(breakdown_chart(r, view, metric, dim, base, cells, highlight, name, title, ranked, marks))
    return out


def breakdown_chart(
    r: Reader,
    view: View,
    metric: str,
    dim: str,
    base: View,
    cells: list[Cell],
    highlight: str | None,
    name: str,
    title: str,
    ranked: bool = True,
    marks: dict[str, str] | None = None,
) -> Any:
    assert view.end is not None
    settings = r.settings
    period = period_label(view.end, view.grain)
    shown = sorted((c for c in cells if c.shown), key=lambda c: (-(c.value or 0.0), c.label))
    dim_name = lower_en(dim_label(settings, dim)) if dim != "service" else _("programme")
    if metric == UPTAKE:
        parts = [
            _("Share of eligible people who received the benefit in the 12 months to {period}, by {dim}.").format(
                period=period, dim=dim_name
            )
        ]
    else:
        parts = [
            _(
                "Estimated number of eligible people who did not receive the benefit in the 12 months to {period}, "
                "by {dim}."
            ).format(period=period, dim=dim_name)
        ]
    if ranked:
        parts.append(_("Ranked from the largest figure to the smallest."))
    if shown and ranked:
        parts.append(spread_text(shown))
    elif shown:
        parts.append(
            _("{period}: {figures}.").format(
                period=period,
                figures=_("; ").join(
                    _("{name} {value} (n = {n})").format(name=c.label, value=c.text, n=c.n_text)
                    for c in cells
                    if c.shown
                ),
            )
        )
    if shown:
        parts.append(whiskers_text(cells))
        # Each figure's own n, not a total made here (see the equal-service page).
        parts.append(_("The number of eligible people behind each figure is in the table."))
    else:
        parts.append(_("No category has a figure for this period."))
    parts += hidden_text(cells)
    head, rows = cells_table(
        cells,
        dim_label(settings, dim) if dim != "service" else _("Programme"),
        metric_name(metric),
        _(N_HEADS[metric]),
        interval_name(cells),
    )
    return chart_block(
        PAGE,
        name,
        title,
        bar_figure(cells, unit(metric), ranked=ranked, highlight=highlight, marks=marks, name=metric_name(metric)),
        " ".join(p for p in parts if p),
        head,
        rows,
        csv=downloads.csv_href(metric, base, (dim,), latest=True),
    )


def programme_blocks(r: Reader, view: View) -> list[Any]:
    settings = r.settings
    base = replace(view, service=None)
    out = breakdown_blocks(
        r,
        view,
        "service",
        base,
        programmes(settings),
        view.service,
        {UPTAKE: "programme-uptake", UNCLAIMED: "programme-unclaimed"},
    )
    out += [
        decision_block(r, view, base, GRANT, "programme-grant"),
        decision_block(r, view, base, DAYS, "programme-days"),
    ]
    return out


def decision_block(r: Reader, view: View, base: View, metric: str, name: str) -> Any:
    """Grant rate or median days to a decision, by programme, at the view's end."""
    assert view.end is not None
    settings, m = r.settings, r.min_cell_size
    period = period_label(view.end, view.grain)
    title = (
        _("Applications granted by programme, applications made in {period}")
        if metric == GRANT
        else _("Median days to a decision by programme, applications made in {period}")
    ).format(period=period)
    df = r.cells(metric, base, ("service",))
    if df is None:
        return missing_block(PAGE, name, title, not_computed_text(settings, metric, base, ("service",)))
    cells = category_cells(at_period(df, view.end), "service", programmes(settings), unit(metric), m, settings)
    cells = [c for c in cells if c.key in programmes(settings) or c.shown]
    parts = [metric_description(metric)]
    shown = [c for c in cells if c.shown]
    if shown:
        parts.append(
            _("{period}: {figures}.").format(
                period=period,
                figures=_("; ").join(
                    _("{name} {value} (n = {n})").format(name=c.label, value=c.text, n=c.n_text) for c in shown
                ),
            )
        )
        parts.append(whiskers_text(cells))
    parts += hidden_text(cells)
    if metric == GRANT:
        parts.append(_("Neither a higher nor a lower share is better in itself."))
    head, rows = cells_table(cells, _("Programme"), metric_name(metric), _(N_HEADS[metric]))
    return chart_block(
        PAGE,
        name,
        title,
        bar_figure(cells, unit(metric), ranked=False, highlight=view.service, name=metric_name(metric)),
        " ".join(p for p in parts if p),
        head,
        rows,
        csv=downloads.csv_href(metric, base, ("service",), latest=True),
    )


def region_blocks(r: Reader, view: View) -> list[Any]:
    base = replace(view, region=None)
    return breakdown_blocks(
        r,
        view,
        "region",
        base,
        dim_values(r.settings, "region"),
        view.region,
        {UPTAKE: "region-uptake", UNCLAIMED: "region-unclaimed"},
    )


def group_blocks(r: Reader, view: View, attr: str) -> list[Any]:
    """Take-up and people missing out for each group, and take-up against the reference group."""
    assert view.end is not None
    settings, m = r.settings, r.min_cell_size
    base = replace(view, group=attr, group_value=None)
    highlight = view.group_value if view.group == attr else None
    attr_label = lower_en(dim_label(settings, attr))
    reference = settings.groups[attr].reference
    reference_label = value_label(settings, attr, reference)
    out = breakdown_blocks(
        r,
        view,
        attr,
        base,
        dim_values(settings, attr),
        highlight,
        {UPTAKE: "group-uptake", UNCLAIMED: "group-unclaimed"},
        ranked=False,
        marks={reference: _("{name} (reference)")},
    )
    title = _("Take-up of each group against the reference group ({reference}), 12 months to {period}").format(
        reference=reference_label, period=period_label(view.end, view.grain)
    )
    df = r.cells(UPTAKE, base, (attr,))
    if df is None:
        out.append(missing_block(PAGE, "group-gaps", title, not_computed_text(settings, UPTAKE, base, (attr,))))
        return out
    gaps = reference_gaps(at_period(df, view.end), attr, reference, unit(UPTAKE), settings, m)
    cells = [g.cell for g in gaps]
    ranged = is_range(cells)
    parts = [
        _("How many times the reference group's take-up each {dim} group has; 1 means the same.").format(dim=attr_label)
    ]
    parts += gap_sentences(gaps, reference_label, ranged)
    if ranged:
        parts.append(_("The intervals combine the ranges from the low and high estimates of eligible people."))
    parts.append(_("Groups are compared with the reference group, never ranked against each other."))
    head, rows = gap_rows(gaps, unit(UPTAKE))
    out.append(
        chart_block(
            PAGE,
            "group-gaps",
            title,
            ratio_figure(gaps, reference_label),
            " ".join(p for p in parts if p),
            head,
            rows,
            csv=downloads.csv_href(UPTAKE, base, (attr,), latest=True),
        )
    )
    return out


# --- over time ----------------------------------------------------------------------------


def trend_blocks(r: Reader, view: View) -> list[Any]:
    """Take-up (with people missing out in its table), the grant rate and the median days to a
    decision, over the view's periods, for the view's slice."""
    settings, m = r.settings, r.min_cell_size
    where = sentence(where_label(settings, view.slice(), _("all programmes")))
    periods = r.periods(view)
    out = []
    uptake_df, unclaimed_df = r.cells(UPTAKE, view), r.cells(UNCLAIMED, view)
    title = _("Take-up over time: {where}").format(where=where)
    if uptake_df is None:
        out.append(missing_block(PAGE, "uptake-trend", title, not_computed_text(settings, UPTAKE, view)))
    else:
        cells = period_cells(uptake_df, periods, unit(UPTAKE), m, view.grain)
        missing = period_cells(unclaimed_df, periods, unit(UNCLAIMED), m, view.grain)
        band = interval_name(cells)
        series = [Series(where, cells, band=True)]
        head, rows = trend_table(series, periods, view.grain, _(N_HEADS[UPTAKE]), band)
        head += [metric_name(UNCLAIMED), _("Range of people missing out")]
        for i, row in enumerate(rows):
            c = missing[len(periods) - 1 - i]
            row += [c.text, c.interval]
        extra = [_("Each period counts the people granted in the 12 months to its end: a rolling annual figure.")]
        if view.grain == "week":
            extra.append(_("Take-up is computed for months, quarters and years only; choose another period length."))
        band_text = (
            _("The shaded band is the range from the low and high estimates of eligible people.")
            if is_range(cells)
            else _("The shaded band is the 95% interval.")
        )
        summary = trend_summary(
            _("Take-up, {where}").format(where=where), series, periods, view.grain, settings, band_text, extra=extra
        )
        out.append(
            chart_block(
                PAGE,
                "uptake-trend",
                title,
                line_figure(series, periods, view.grain, unit(UPTAKE), settings, band_name=band),
                summary,
                head,
                rows,
                csv=downloads.csv_href(UPTAKE, view),
            )
        )
    for metric, name, template in (
        (GRANT, "grant-trend", _("Applications granted over time: {where}")),
        (DAYS, "days-trend", _("Median days to a decision over time: {where}")),
    ):
        title = template.format(where=where)
        df = r.cells(metric, view)
        if df is None:
            out.append(missing_block(PAGE, name, title, not_computed_text(settings, metric, view)))
            continue
        cells = period_cells(df, periods, unit(metric), m, view.grain)
        series = [Series(where, cells, band=True)]
        head, rows = trend_table(series, periods, view.grain, _(N_HEADS[metric]))
        summary = trend_summary(
            _("{indicator}, {where}").format(indicator=metric_name(metric), where=where),
            series,
            periods,
            view.grain,
            settings,
            _("The shaded band is the 95% interval."),
            extra=[_("By the period the application was made: recent periods change as applications are decided.")],
        )
        out.append(
            chart_block(
                PAGE,
                name,
                title,
                line_figure(series, periods, view.grain, unit(metric), settings),
                summary,
                head,
                rows,
                csv=downloads.csv_href(metric, view),
            )
        )
    return out


# --- the page -----------------------------------------------------------------------------


def content(engine: Engine, settings: Settings, view: View) -> list[Any]:
    """What the page's filters redraw: every block for `view` (its service a programme)."""
    r = Reader.of(engine, settings)
    if view.end is None:
        return [
            blocks.no_figures()
        ]
    view, notes = programme_view(view, settings)
    if not programmes(settings):
        return [
            dbc.Alert(
                _("No service is an entitlement programme (services.<name>.entitlement in config.yaml)."),
                color="warning",
            )
        ]
    attr = group_attribute(view, settings)
    out: list[Any] = [dbc.Alert(n, color="info", className="py-2 mb-2") for n in notes]
    out.append(headline_block(r, view))
    out.append(section(PAGE, "programmes", _("By programme"), programme_blocks(r, view)))
    out.append(section(PAGE, "regions", _("By region"), region_blocks(r, view)))
    if attr is not None:
        out.append(groups_section(PAGE, settings, view, attr, group_blocks(r, view, attr)))
    out.append(section(PAGE, "trends", _("Over time"), trend_blocks(r, view)))
    return out


def limit_services(component: Any, cid: str, options: list[dict[str, str]]) -> bool:
    """Give the select `cid` inside `component` these options (the shared bar offers every
    service; this page only programmes). True when found."""
    if getattr(component, "id", None) == cid:
        component.options = options
        return True
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        return any(limit_services(c, cid, options) for c in children)
    return children is not None and not isinstance(children, str) and limit_services(children, cid, options)


def service_options(settings: Settings) -> list[dict[str, str]]:
    return [{"label": _("All programmes"), "value": ids.ALL}] + [
        {"label": value_label(settings, "service", s), "value": s} for s in programmes(settings)
    ]


def page(engine: Engine, settings: Settings, params: dict[str, Any], base: str) -> html.Div:
    """The whole page for the address's query parameters; `base` is the page's path."""
    r = Reader.of(engine, settings)
    view = filters.parse_view(params, settings, r.periods_fn())
    bar_view, _notes = programme_view(view, settings)
    link = filters.href(base, replace(bar_view, notices=()))
    bar = filters.filter_bar(PAGE, bar_view, settings, r.periods_fn(), link)
    limit_services(bar, ids.filter_id(PAGE, "service"), service_options(settings))
    return html.Div(
        [
            *header(
                engine,
                settings,
                _("Rights uptake"),
                _(
                    "Do the people entitled to a benefit receive it? Take-up and the estimated number of people "
                    "missing out, by programme, region and population group, with how applications are decided."
                ),
            ),
            *filters.notices(view),
            bar,
            html.Div(content(engine, settings, view), id=ids.content(PAGE)),
        ]
    )
