"""What the briefing says, as plain data: every figure and sentence, in the current language.

Nothing here is a second implementation: the headline figures are the overview's tiles
(`dashboard.tiles.tile_data`), the changes are its sentences (`dashboard.views.change_sentences`,
statistically real changes only), the gaps against reference groups are the equal-service
page's (`reference_gaps`, `gap_sentences`), take-up and the people missing out are the rights
page's sentences, and every cell is read through `metrics.query` with suppression applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from dashboard import data
from dashboard.equal_service_view import Cell, Reader, at_period, gap_sentences, one_cell, reference_gaps
from dashboard.filters import View
from dashboard.formatting import add_months, format_count, format_day, format_value, period_label
from dashboard.i18n import N_, _, lang
from dashboard.labels import metric_name, value_label
from dashboard.tiles import tile_data
from dashboard.uptake_view import all_programmes, programmes, unclaimed_sentence, uptake_sentence
from dashboard.views import STATUS_ICON, as_of_detail, change_sentences, partial_period_notice
from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings

# The indicators whose gaps against the reference groups the briefing reports.
GAP_METRICS = ("on_time_rate", "coverage_per_1000")
# The trends drawn as charts (13 months to the briefing's month), when in the store.
CHART_METRICS = ("on_time_rate", "backlog_open")
TREND_MONTHS = 13
STATUS_ORDER = ("on_track", "at_risk", "off_track")
STATUS_COUNTS = {
    "on_track": N_("{n} on track"),
    "at_risk": N_("{n} at risk"),
    "off_track": N_("{n} off track"),
}


class NoFigures(LookupError):
    """The store holds no figures for the period asked for: nothing to brief on."""


@dataclass(frozen=True)
class Headline:
    metric: str
    name: str
    value_text: str
    state: str
    status: str | None
    icon: str
    status_text: str
    target_text: str
    change_month_text: str
    change_year_text: str
    n_text: str
    note: str


@dataclass(frozen=True)
class Table:
    head: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    metric: str
    title: str
    caption: str  # what the chart shows, in words: its text alternative
    figure: Any  # a Plotly figure (object or plain dict)


@dataclass
class Briefing:
    period: dt.date
    lang: str
    title: str
    subtitle: str
    as_of: str
    texts: dict[str, str]  # headings and fixed phrases of the template
    summary: str
    headlines: list[Headline]
    headline_head: list[str]
    changes: list[str]
    gaps: list[tuple[str, list[str]]]  # (indicator and attribute, sentences)
    regional: list[str]
    uptake: list[str]
    uptake_table: Table
    backlog: list[str]
    charts: list[Chart]
    data_note: list[str]
    missing: list[str]
    suppressed: int = 0
    as_of_utc: dt.datetime | None = None
    refresh_run_id: int | None = None
    # For a published month: when and which revision, its correction note, and whether
    # today's figures (which the briefing shows) differ from it.
    published: list[str] = field(default_factory=list)


def parse_period(text: str) -> dt.date:
    """ "2026-10" as the first day of that month; ValueError naming what was expected."""
    try:
        day = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"period {text!r} is not a month: expected YYYY-MM, e.g. 2026-10") from None
    return day


def check_period(engine: Engine, period: dt.date) -> None:
    """Raise NoFigures, saying which months there are, when `period` has no figures."""
    months = query.periods(engine, "month")
    if not months:
        raise NoFigures("the store has no figures yet: run `civic-metrics etl run` and `civic-metrics metrics refresh`")
    if period not in months:
        raise NoFigures(
            f"no figures for {period:%Y-%m}: the store has monthly figures from {months[0]:%Y-%m} to {months[-1]:%Y-%m}"
        )


def texts() -> dict[str, str]:
    """The template's headings and fixed words, in the current language."""
    return {
        "headline": _("Headline indicators against their targets"),
        "changes": _("What changed since last month and last year"),
        "equal": _("Equal service: groups against their reference group"),
        "uptake": _("Rights uptake: people who get what they are entitled to"),
        "backlog": _("Backlog"),
        "trends": _("Trends over 13 months"),
        "data_note": _("About these figures"),
        "missing": _("What is missing"),
        "status_key": _("Status: ✔ on track, ▲ at risk, ✖ off track; the word is always given beside the mark."),
        "page": _("Page"),
    }


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def headline(engine: Engine, settings: Settings, metric: str, view: View, version: int | None) -> Headline:
    t = tile_data(engine, settings, metric, view.end, version=version, view=view)  # type: ignore[arg-type]
    key = t["status"] or "none"
    status_text = t["status_text"] or (
        _("No target: neither higher nor lower is better") if t["direction"] == "neutral" else _("No target set")
    )
    return Headline(
        metric=metric,
        name=t["name"],
        value_text=t["value_text"] or "",
        state=t["state"],
        status=t["status"],
        icon=STATUS_ICON.get(key, ""),
        status_text=status_text,
        target_text=t["target_text"] or "",
        change_month_text=t["change_month_text"] or "",
        change_year_text=t["change_year_text"] or "",
        n_text=t["n_text"] or "",
        note=t["note"] or "",
    )


def summary_sentence(headlines: list[Headline]) -> str:
    counts = {s: sum(h.status == s for h in headlines) for s in STATUS_ORDER}
    judged = sum(counts.values())
    if not judged:
        return _("No headline indicator could be set against a target this month.")
    parts = _(", ").join(_(STATUS_COUNTS[s]).format(n=format_count(counts[s])) for s in STATUS_ORDER)
    return _("Of the {n} headline indicators with a target and a figure: {parts}.").format(
        n=format_count(judged), parts=parts
    )


def gap_section(r: Reader, view: View) -> list[tuple[str, list[str]]]:
    """For each gap indicator and group attribute: which groups differ from the reference group."""
    assert view.end is not None
    out = []
    for metric in GAP_METRICS:
        if metric not in CATALOGUE:
            continue
        unit = CATALOGUE[metric].unit
        for attr, group in r.settings.groups.items():
            df = r.cells(metric, view, breakdown=(attr,))
            if df is None or group.reference is None:
                continue
            gaps = reference_gaps(at_period(df, view.end), attr, group.reference, unit, r.settings, r.min_cell_size)
            sentences = gap_sentences(gaps, value_label(r.settings, attr, group.reference))
            if sentences:
                heading = _("{indicator}, by {attribute}").format(
                    indicator=metric_name(metric), attribute=group.label.get(lang())
                )
                out.append((heading, sentences))
    return out


def regional_sentences(r: Reader, view: View) -> tuple[list[str], int]:
    """The spread between regions, from the indicators computed across them, and how many
    of those figures are suppressed."""
    assert view.end is not None
    out, suppressed = [], 0
    for metric in ("service_standard_gap", "coverage_disparity_ratio"):
        if metric not in CATALOGUE:
            continue
        df = r.cells(metric, view, across="region")
        cell = one_cell(df, view.end, CATALOGUE[metric].unit, r.min_cell_size)
        if cell.shown and cell.low is not None and cell.high is not None:
            out.append(
                _("{name} between regions: {value} (95% interval {interval}).").format(
                    name=metric_name(metric), value=cell.text, interval=cell.interval
                )
            )
        elif cell.shown:
            out.append(_("{name} between regions: {value}.").format(name=metric_name(metric), value=cell.text))
        else:
            out.append(_("{name} between regions: {reason}").format(name=metric_name(metric), reason=cell.text))
        suppressed += cell.state == "suppressed"
    return out, suppressed


def uptake_section(r: Reader, view: View) -> tuple[list[str], Table, int]:
    assert view.end is not None
    cells: dict[str, Cell] = {}
    for metric in ("unclaimed_estimate", "uptake_rate"):
        df = r.cells(metric, view)
        cells[metric] = one_cell(df, view.end, CATALOGUE[metric].unit, r.min_cell_size)
    sentences = [unclaimed_sentence(r.settings, view, cells["unclaimed_estimate"]),
                 uptake_sentence(cells["uptake_rate"], all_programmes(r.settings, view))]  # fmt: skip
    head = [_("Programme"), _("Take-up"), _("Interval or range"), _("People eligible"), _("Estimated missing out")]
    rows, suppressed = [], 0
    for programme in programmes(r.settings):
        pv = View("month", view.end, view.end, service=programme)
        rate = one_cell(r.cells("uptake_rate", pv), view.end, "proportion", r.min_cell_size)
        missing = one_cell(r.cells("unclaimed_estimate", pv), view.end, "count", r.min_cell_size)
        rows.append([value_label(r.settings, "service", programme), rate.text, rate.interval, rate.n_text,
                     missing.text])  # fmt: skip
        suppressed += (rate.state == "suppressed") + (missing.state == "suppressed")
    return sentences, Table(head, rows), suppressed


def backlog_sentences(engine: Engine, settings: Settings, view: View, version: int | None) -> list[str]:
    assert view.end is not None
    if "backlog_open" not in CATALOGUE:
        return []
    open_ = tile_data(engine, settings, "backlog_open", view.end, version=version, view=view)
    period = period_label(view.end, "month")
    if open_["state"] != "value":
        return [_("Open cases at the end of {period}: {reason}").format(period=period, reason=open_["value_text"])]
    out = [_("At the end of {period}, {n} cases were open.").format(period=period, n=open_["value_text"])]
    if "backlog_overdue" in CATALOGUE:
        overdue = tile_data(engine, settings, "backlog_overdue", view.end, version=version, view=view)
        if overdue["state"] == "value" and open_["value"]:
            share = format_value(overdue["value"] / open_["value"], "proportion")
            out.append(_("{n} of them ({share}) were past their deadline.").format(n=overdue["value_text"],
                                                                                   share=share))  # fmt: skip
        else:
            out.append(_("Cases past their deadline: {reason}").format(reason=overdue["value_text"]))
    changes = [c for c in (open_["change_month_text"], open_["change_year_text"]) if c]
    if changes:
        out.append(_("Open cases: {changes}.").format(changes=_("; ").join(changes)))
    target = open_["target_text"]
    if target:
        out.append(_("{target}: {status}.").format(target=target, status=open_["status_text"]))
    return [s for s in out if s]


def trend_charts(r: Reader, view: View) -> list[Chart]:
    """The 13-month trends of `CHART_METRICS` for everyone, drawn by the overview's own chart code."""
    from dashboard.figures import complete_months, trend_caption, trend_figure
    from dashboard.tiles import target_for

    assert view.end is not None
    start = add_months(view.end, -(TREND_MONTHS - 1))
    trend = View("month", start, view.end)
    months = data.periods(r.engine, "month", r.version)
    out = []
    for metric in CHART_METRICS:
        if metric not in CATALOGUE:
            continue
        df = r.cells(metric, trend)
        if df is None:
            continue
        df = complete_months(df, start, view.end, months)
        definition = CATALOGUE[metric]
        target = target_for(r.settings, metric, by_region=False)
        where = _("Everyone")
        figure = trend_figure(df, definition, target, "month")
        title = _("{name}, {first} to {last}").format(
            name=metric_name(metric), first=period_label(start, "month"), last=period_label(view.end, "month")
        )
        out.append(Chart(metric, title, trend_caption(df, definition, where, target, "month"), figure))
    return out


def versions_line(metrics: list[str]) -> str:
    parts = [_("{name} (version {v})").format(name=metric_name(m), v=CATALOGUE[m].version) for m in metrics]
    return _("Definitions used: {list}.").format(list=_("; ").join(parts))


def publication_lines(engine: Engine, settings: Settings, period: dt.date) -> list[str]:
    """What a reader of a published month must know: that it was published (when, which
    revision), the correction note of a revision, and how many of its figures today's
    recomputation has changed since."""
    from metrics import publish

    pub = query.publication(engine, period)
    if pub is None:
        return []
    day = pd.Timestamp(pub["published_at"]).tz_localize("UTC").tz_convert(settings.tz).to_pydatetime()
    out = [_("Published on {day} (revision {n}).").format(day=format_day(day), n=format_count(pub["revision"]))]
    if pub["revision"] > 1 and pub["note"]:
        out.append(_("Correction note: {note}").format(note=pub["note"]))
    changed = len(publish.compare(engine, period, min_cell_size=settings.privacy.min_cell_size)[1])
    if changed:
        out.append(
            _("Since then {n} figures of this month have changed in the store; this briefing shows today's "
              "figures (`civic-metrics publish compare` lists the differences).").format(n=format_count(changed))
        )  # fmt: skip
    return out


def build(engine: Engine, settings: Settings, period: dt.date) -> Briefing:
    """The briefing for the month starting `period`, in the current language (`i18n.use`).
    Raises NoFigures when the store holds none for that month."""
    from metrics.lookups import with_store_lookups

    check_period(engine, period)
    settings = with_store_lookups(settings, engine)
    run = data.refresh_run(engine)
    version = data.version_of(run)
    view = View("month", period, period)
    r = Reader(engine, settings, version)
    metrics = [m for m in settings.dashboard.headline if m in CATALOGUE] or [
        m for m in ("on_time_rate", "resolution_days_median", "backlog_open", "uptake_rate") if m in CATALOGUE
    ]
    # change_sentences reads the headline list: the same indicators as the table.
    board = settings.dashboard.model_copy(update={"headline": tuple(metrics)})
    settings = settings.model_copy(update={"dashboard": board})
    headlines = [headline(engine, settings, m, view, version) for m in metrics]
    missing = [
        _("{name}: {reason}").format(name=h.name, reason=h.value_text) for h in headlines if h.state != "value"
    ]
    suppressed = sum(h.state == "suppressed" for h in headlines)
    partial = partial_period_notice(run, settings, period, "month")
    uptake, uptake_table, hidden = uptake_section(r, view)
    regional, hidden_regional = regional_sentences(r, view)
    suppressed += hidden + hidden_regional
    note = [
        as_of_detail(run, settings),
        _("Figures resting on fewer than {n} cases are suppressed, and so are figures from which one could be "
          "worked out; they are marked as suppressed, never shown as zero. Suppressed among the headline "
          "figures, regional gaps and programmes here: {k}.").format(n=format_count(settings.privacy.min_cell_size),
                                                      k=format_count(suppressed)),
        _("A change is described only where its 95% interval excludes no change; groups are compared with "
          "their reference group in the same way."),
        versions_line([*metrics, *[m for m in GAP_METRICS if m not in metrics and m in CATALOGUE]]),
        _("Definitions and methods: docs/methodology.md, or `civic-metrics metrics list`."),
    ]  # fmt: skip
    if partial:
        missing.insert(0, partial)
    if not missing:
        missing.append(_("Every headline indicator has a figure for this month."))
    as_of = run.get("as_of") if run else None
    return Briefing(
        period=period,
        lang=lang(),
        title=_("Monthly briefing: {period}").format(period=period_label(period, "month")),
        subtitle=_("Public services: equal service, timeliness and rights uptake"),
        as_of=as_of_detail(run, settings),
        texts=texts(),
        summary=summary_sentence(headlines),
        headlines=headlines,
        headline_head=[_("Indicator"), _("Value"), _("Status"), _("Target"), _("Since last month"),
                       _("Since a year earlier")],
        changes=change_sentences(engine, settings, view, version),
        gaps=gap_section(r, view),
        regional=regional,
        uptake=uptake,
        uptake_table=uptake_table,
        backlog=backlog_sentences(engine, settings, view, version),
        charts=trend_charts(r, view),
        data_note=note,
        missing=missing,
        suppressed=suppressed,
        as_of_utc=pd.Timestamp(as_of).to_pydatetime() if as_of is not None else None,
        refresh_run_id=version,
        published=publication_lines(engine, settings, period),
    )
