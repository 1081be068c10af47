"""The overview page's parts, built from the pure functions of `tiles` and `figures`.

The page layout and its callbacks call these, so the first render of a page and every later
update go through the same code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy import Engine

from dashboard import blocks, data, filters, ids, intervals
from dashboard.downloads import csv_href
from dashboard.figures import (
    complete_months,
    region_caption,
    region_figure,
    region_rows,
    region_table_rows,
    table_rows,
    trend_caption,
    trend_figure,
)
from dashboard.filters import View
from dashboard.formatting import format_count, format_day, format_time, format_value, period_label
from dashboard.i18n import _
from dashboard.labels import dim_label, metric_name, slice_label, value_label
from dashboard.tiles import YEAR_BACK, shift, target_for, tile_data
from metrics.catalogue import CATALOGUE
from metrics.changes import change_between
from metrics.config import Settings
from metrics.periods import period_last_day

STATUS_ICON = {"on_track": "\u2714", "at_risk": "\u25b2", "off_track": "\u2716"}  # ✔ ▲ ✖
DEFAULT_INDICATOR = "on_time_rate"
PAGE = ids.OVERVIEW


def indicator_options(settings: Settings) -> list[dict[str, str]]:
    order = list(dict.fromkeys([*settings.dashboard.headline, *CATALOGUE]))
    return [{"label": metric_name(m), "value": m} for m in order if not CATALOGUE[m].is_across]


def resolve_indicator(indicator: Any) -> tuple[str, list[str]]:
    """The indicator a link asks for, or the default with a notice."""
    if isinstance(indicator, list):
        indicator = indicator[-1] if indicator else None
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in CATALOGUE else next(iter(CATALOGUE))
    if indicator in (None, ""):
        return default, []
    if indicator not in CATALOGUE or CATALOGUE[indicator].is_across:
        return default, [_("{value!r} is not an indicator; showing {name}.").format(
            value=indicator, name=metric_name(default))]  # fmt: skip
    return str(indicator), []


# --- data as of ----------------------------------------------------------------------------


def _local(ts: Any, settings: Settings) -> dt.datetime:
    """A stored UTC time (naive) in the configured time zone."""
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(settings.tz).to_pydatetime()


def as_of_text(run: dict[str, Any] | None, settings: Settings) -> str:
    if run is None or run.get("as_of") is None:
        return _("No figures yet")
    return _("Data as of {day}").format(day=format_day(_local(run["as_of"], settings)))


def as_of_detail(run: dict[str, Any] | None, settings: Settings) -> str:
    if run is None or run.get("as_of") is None:
        return _("No figures yet: run `civic-metrics metrics refresh` to compute them.")
    as_of = _local(run["as_of"], settings)
    text = _("Data as of {day}, {time} ({zone})").format(day=format_day(as_of), time=format_time(as_of),
                                                       zone=settings.timezone)  # fmt: skip
    if run.get("finished_at") is not None:
        done = _local(run["finished_at"], settings)
        text += _("; figures computed on {day} from {n} cases").format(day=format_day(done),
                                                                       n=format_count(run["cases"]))  # fmt: skip
    return text + _(".")


def partial_period_notice(
    run: dict[str, Any] | None, settings: Settings, period: dt.date, grain: str = "month"
) -> str | None:
    """A notice when the period shown is not over at the data's as-of time."""
    if run is None or run.get("as_of") is None:
        return None
    # By day: data cut on a period's last day counts as covering it (a nightly export cut at
    # 23:51 covers the day; one cut in the morning of the last day does not, and is taken as
    # covering it too: the as-of line says when the data was cut).
    as_of = _local(run["as_of"], settings).date()
    last_day = pd.Timestamp(period_last_day(grain, pd.to_datetime([period]).values.astype("datetime64[D]"))[0]).date()
    if period <= as_of < last_day:
        return _("{period} is not over: its figures cover the data up to {day}.").format(
            period=period_label(period, grain), day=format_day(as_of))  # fmt: skip
    return None


# --- tiles -------------------------------------------------------------------------------


def tile_card(t: dict[str, Any]) -> html.Article:
    metric = t["metric"]
    heading_id = f"{ids.tile(metric)}-name"
    body: list[Any] = [
        html.H3(t["name"], id=heading_id, className="h6 tile-name"),
        html.P(t["value_text"], id=ids.tile_value(metric), className=f"tile-value tile-value-{t['state']}"),
    ]
    if t["n_text"]:
        body.append(html.P(t["n_text"], className="tile-n"))
    if t["status_text"]:
        key = t["status"] or "none"
        icon = STATUS_ICON.get(key)
        body.append(
            html.P(
                [html.Span(icon, className="status-icon", **{"aria-hidden": "true"}), t["status_text"]]
                if icon
                else t["status_text"],
                className=f"tile-status status-{key}",
            )
        )
    if t["target_text"]:
        body.append(html.P(t["target_text"], className="tile-target"))
    elif t["direction"] == "neutral":
        body.append(html.P(_("No target: neither higher nor lower is better"), className="tile-target"))
    changes = [c for c in (t["change_month_text"], t["change_year_text"]) if c]
    if changes:
        body.append(html.Ul([html.Li(c) for c in changes], className="tile-changes"))
    if t["note"]:
        body.append(html.P(t["note"], className="tile-note"))
    body.append(html.Details([html.Summary(_("What this measures")), html.P(t["description"])], className="tile-about"))
    return html.Article(
        html.Div(body, className="card-body"),
        id=ids.tile(metric),
        className="card tile h-100",
        **{"aria-labelledby": heading_id},
    )


def tiles_grid(engine: Engine, settings: Settings, view: View, version: int | None) -> list[Any]:
    cards = [
        dbc.Col(tile_card(tile_data(engine, settings, m, view.end, version=version, view=view)),
                xs=12, sm=6, lg=3, className="mb-3")
        for m in settings.dashboard.headline
    ]
    if not cards:
        return [html.P(_("No headline indicators are configured (dashboard.headline in config.yaml)."))]
    return [dbc.Row(cards)]


# --- what changed, in words ----------------------------------------------------------------


def change_sentences(engine: Engine, settings: Settings, view: View, version: int | None) -> list[str]:
    """Plain sentences on the headline figures that really changed since the period before
    and since a year earlier: only changes whose 95% interval excludes no change
    (`metrics.changes`), in neutral words ("higher than", "lower than"). What could not be
    judged (no interval, a range rather than an interval, a provisional figure, a volume of
    a period not over) is named, so "nothing changed" is never claimed for it."""
    assert view.end is not None
    out: list[str] = []
    unjudged: list[str] = []
    # Volumes of a period that is not over are not comparable with whole periods.
    partial = partial_period_notice(data.refresh_run(engine), settings, view.end, view.grain) is not None
    for metric in settings.dashboard.headline:
        unit = CATALOGUE[metric].unit
        if partial and unit in ("count", "per_1000"):
            unjudged.append(metric_name(metric))
            continue
        t = tile_data(engine, settings, metric, view.end, version=version, view=view)
        if t["state"] != "value":
            continue
        judged = False
        for key, back in (("previous", 1), ("year_ago", YEAR_BACK[view.grain])):
            change = change_between(t["cell"], t[key])
            if change is None:
                continue
            if change.real is None:
                continue
            judged = True
            if not change.real:
                continue
            then = shift(view.end, view.grain, -back)
            text = (_("{name} was {value} in {period}, higher than in {then} ({before}).")
                    if change.direction == "up" else
                    _("{name} was {value} in {period}, lower than in {then} ({before})."))  # fmt: skip
            sentence = text.format(name=metric_name(metric), value=format_value(t["value"], unit),
                                   period=period_label(view.end, view.grain), then=period_label(then, view.grain),
                                   before=format_value(t[key]["value"], unit))  # fmt: skip
            if t["note"]:
                sentence = _("{sentence} ({note})").format(sentence=sentence, note=t["note"])
            out.append(sentence)
        if not judged and (t["previous"] is not None or t["year_ago"] is not None):
            unjudged.append(metric_name(metric))
    before = period_label(shift(view.end, view.grain, -1), view.grain)
    if not out:
        out.append(_("No headline figure changed since {previous} or since a year earlier by more than chance "
                     "would explain.").format(previous=before))  # fmt: skip
    else:
        out.append(_("Other changes are within what chance would explain, so they are not described."))
    if unjudged:
        out.append(_("Not judged (no 95% interval to test by, a range rather than an interval, a provisional "
                     "figure, or a period not over): {names}.").format(names=_(", ").join(unjudged)))  # fmt: skip
    return out


# --- one indicator in detail ---------------------------------------------------------------


def trend_block(engine: Engine, settings: Settings, metric: str, view: View, version: int | None) -> Any:
    definition = CATALOGUE[metric]
    where = slice_label(settings, view.slice())
    assert view.start is not None and view.end is not None
    heading = _("Trend, {where}: {first} to {last}").format(
        where=where, first=period_label(view.start, view.grain), last=period_label(view.end, view.grain))
    df = data.view_cells(engine, metric, view, version, settings.privacy.min_cell_size)
    if df is None:
        return blocks.text_block(PAGE, "trend", heading, [html.P(not_computed(settings, metric, view.by()))])
    df = complete_months(df, view.start, view.end, data.periods(engine, view.grain, version))
    target = target_for(settings, metric, by_region=bool(view.slice()))
    rows = table_rows(df, definition, settings.privacy.min_cell_size, view.grain)
    return blocks.chart_block(
        PAGE, "trend", heading,
        trend_figure(df, definition, target, view.grain),
        trend_caption(df, definition, where, target, view.grain),
        [_("Period"), _("Value"), _(definition.n_means).capitalize(), intervals.heading(data.records(df))],
        [[r["month"], r["value"], r["n"], r["interval"]] for r in rows],
        csv=csv_href(metric, view),
    )  # fmt: skip


def not_computed(settings: Settings, metric: str, by: tuple[str, ...]) -> str:
    return _("{name} is not computed for {dims} together (see metrics.combinations in config.yaml).").format(
        name=metric_name(metric), dims=" × ".join(dim_label(settings, d) for d in by))


def regions_block(engine: Engine, settings: Settings, metric: str, view: View, version: int | None) -> Any:
    definition = CATALOGUE[metric]
    assert view.end is not None
    heading = _("By region, {period}").format(period=period_label(view.end, view.grain))
    others = replace(view, region=None, start=view.end)
    df = data.view_cells(engine, metric, others, version, settings.privacy.min_cell_size, breakdown=("region",))
    if df is None:
        reason = not_computed(settings, metric, others.by("region"))
        return blocks.text_block(PAGE, "regions", heading, [html.P(reason)])
    rows = region_rows(df, [r.id for r in settings.regions], settings.privacy.min_cell_size,
                       names={r.id: value_label(settings, "region", r.id) for r in settings.regions})  # fmt: skip
    # Regions are compared with the target, else with the figure for everyone; neither
    # applies to a count, whose total is the sum of the regions.
    target = target_for(settings, metric, by_region=True)
    overall = None
    if definition.unit != "count":
        whole = data.view_cells(engine, metric, others, version, settings.privacy.min_cell_size)
        cell = None if whole is None or whole.empty else whole.iloc[0].to_dict()
        overall = cell["value"] if cell and not cell["suppressed"] else None
    table = region_table_rows(rows, definition)
    return blocks.chart_block(
        PAGE, "regions", heading,
        region_figure(rows, definition, view.region, target, overall),
        region_caption(rows, definition, view.end, target, overall, view.grain),
        [_("Region"), _("Value"), _(definition.n_means).capitalize(), intervals.heading(rows["shown"])],
        [[r["region"], r["value"], r["n"], r["interval"]] for r in table],
        csv=csv_href(metric, others, ("region",)),
    )  # fmt: skip


def detail_blocks(engine: Engine, settings: Settings, metric: str, view: View, version: int | None) -> list[Any]:
    return [
        dbc.Row(
            [
                dbc.Col(trend_block(engine, settings, metric, view, version), xs=12, xl=7),
                dbc.Col(regions_block(engine, settings, metric, view, version), xs=12, xl=5),
            ]
        )
    ]


# --- the page -------------------------------------------------------------------------------


def periods_of(engine: Engine, version: int | None) -> filters.Periods:
    return lambda grain: data.periods(engine, grain, version)


def content(engine: Engine, settings: Settings, view: View, metric: str, version: int | None) -> list[Any]:
    """What the filters redraw: notices, headline tiles, sentences, the indicator in detail."""
    assert view.end is not None
    partial = partial_period_notice(data.refresh_run(engine), settings, view.end, view.grain)
    return [
        html.Div(filters.notices(view, [partial] if partial else []), id=ids.OV_NOTICE, role="status"),
        html.Section(
            [
                html.H2(_("Headline indicators, {period}").format(period=period_label(view.end, view.grain)),
                        id="headline-heading", className="h4"),
                html.P(_("For: {slice}").format(slice=slice_label(settings, view.slice())), className="slice-line"),
                html.Div(tiles_grid(engine, settings, view, version), id=ids.OV_TILES),
            ],
            **{"aria-labelledby": "headline-heading"},
        ),
        html.Section(
            [
                html.H2(_("What changed"), id="changes-heading", className="h4 mt-3"),
                html.Ul([html.Li(s) for s in change_sentences(engine, settings, view, version)], id=ids.OV_CHANGES),
            ],
            **{"aria-labelledby": "changes-heading"},
        ),
        html.Section(
            [
                html.H2(_("{name} in detail").format(name=metric_name(metric)), id="detail-heading",
                        className="h4 mt-3"),
                html.Div(detail_blocks(engine, settings, metric, view, version), id=ids.OV_DETAIL),
            ],
            **{"aria-labelledby": "detail-heading"},
        ),
    ]


def overview_layout(engine: Engine, settings: Settings, base: str, params: dict[str, Any] | None = None) -> html.Div:
    params = dict(params or {})
    if "period" in params and "to" not in params:  # links from before the shared filters
        params["to"] = params.pop("period")
    run = data.refresh_run(engine)
    version = data.version_of(run)
    periods = periods_of(engine, version)
    view = filters.parse_view(params, settings, periods)
    metric, more = resolve_indicator(params.get("indicator"))
    if more:
        view = replace(view, notices=(*view.notices, *more))
    header = [
        html.H1(_("Overview"), className="h3 mb-1"),
        html.P(as_of_detail(run, settings), id=ids.OV_AS_OF, className="text-body-secondary"),
    ]
    if view.end is None:
        return html.Div([*header, blocks.no_figures()])
    indicator = dbc.Col(
        [
            dbc.Label(_("Indicator in detail"), html_for=ids.OV_INDICATOR, className="small mb-1"),
            dbc.Select(id=ids.OV_INDICATOR, value=metric, options=indicator_options(settings)),
        ],
        xs=12, md=6, xl=3, className="filter",
    )  # fmt: skip
    link = filters.href(base, replace(view, notices=()), {"indicator": metric})
    return html.Div(
        [
            *header,
            filters.filter_bar(PAGE, view, settings, periods, link, extra=[indicator]),
            html.Div(content(engine, settings, view, metric, version), id=ids.content(PAGE)),
        ]
    )
