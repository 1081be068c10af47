"""Dash components built from the pure functions of `tiles` and `figures`.

Page layouts and callbacks call these, so the first render of a page and every later
update go through the same code.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html
from sqlalchemy import Engine

from dashboard import data, ids
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
from dashboard.formatting import (
    add_months,
    format_day,
    month_label,
    month_param,
    parse_month,
)
from dashboard.tiles import target_for, tile_data
from metrics.catalogue import CATALOGUE
from metrics.config import Settings

STATUS_ICON = {"on_track": "\u2714", "at_risk": "\u25b2", "off_track": "\u2716"}  # ✔ ▲ ✖
TREND_MONTHS = 36
DEFAULT_INDICATOR = "on_time_rate"
GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


# --- filters ---------------------------------------------------------------------------------


def _one(value: Any) -> str | None:
    """A query parameter given twice arrives as a list: the last one wins."""
    if isinstance(value, list):
        value = value[-1] if value else None
    return None if value in (None, "") else str(value)


def region_options(settings: Settings) -> list[dict[str, str]]:
    opts = [{"label": "All regions", "value": ids.ALL}]
    opts += [{"label": r.name.en if r.name else r.id, "value": r.id} for r in settings.regions]
    return opts


def indicator_options(settings: Settings) -> list[dict[str, str]]:
    order = list(dict.fromkeys([*settings.dashboard.headline, *CATALOGUE]))
    return [{"label": CATALOGUE[m].name.en, "value": m} for m in order]


def resolve_filters(
    months: tuple[dt.date, ...], settings: Settings, period: Any, region: Any, indicator: Any
) -> tuple[dt.date | None, str | None, str, list[str]]:
    """The view a URL asks for: (month, region or None for all, indicator, notices).

    Anything the store or the configuration does not know falls back to the default
    (newest month, all regions, on-time rate) with a notice saying so.
    """
    notices = []
    period_s, region_s, indicator_s = _one(period), _one(region), _one(indicator)
    month = None
    if period_s is not None:
        month = parse_month(period_s)
        if month not in months:
            notices.append(f"There are no figures for the month {period_s!r}; showing the latest month.")
            month = None
    if month is None and months:
        month = months[-1]
    regions = {r.id for r in settings.regions}
    if region_s in (None, ids.ALL):
        region_s = None
    elif region_s not in regions:
        notices.append(f"{region_s!r} is not a region of this ministry; showing all regions.")
        region_s = None
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in CATALOGUE else next(iter(CATALOGUE))
    if indicator_s is None:
        indicator_s = default
    elif indicator_s not in CATALOGUE:
        notices.append(f"{indicator_s!r} is not an indicator; showing {CATALOGUE[default].name.en}.")
        indicator_s = default
    return month, region_s, indicator_s, notices


def view_href(base: str, period: dt.date | None, region: str | None, indicator: str) -> str:
    """The link that reproduces a view."""
    params = {}
    if period is not None:
        params["period"] = month_param(period)
    params["region"] = region or ids.ALL
    params["indicator"] = indicator
    return f"{base}?{urlencode(params)}"


# --- data as of ----------------------------------------------------------------------------


def _local(ts: Any, settings: Settings) -> dt.datetime:
    """A stored UTC time (naive) in the configured time zone."""
    return pd.Timestamp(ts).tz_localize("UTC").tz_convert(settings.tz).to_pydatetime()


def as_of_text(run: dict[str, Any] | None, settings: Settings) -> str:
    if run is None or run.get("as_of") is None:
        return "No figures yet"
    return f"Data as of {format_day(_local(run['as_of'], settings))}"


def as_of_detail(run: dict[str, Any] | None, settings: Settings) -> str:
    if run is None or run.get("as_of") is None:
        return "No figures yet: run `civic-metrics metrics refresh` to compute them."
    as_of = _local(run["as_of"], settings)
    text = f"Data as of {format_day(as_of)}, {as_of:%H:%M} ({settings.timezone})"
    if run.get("finished_at") is not None:
        done = _local(run["finished_at"], settings)
        text += f"; figures computed on {format_day(done)} from {int(run['cases']):,} cases"
    return text + "."


def partial_month_notice(run: dict[str, Any] | None, settings: Settings, period: dt.date) -> str | None:
    """A notice when the month shown is not over at the data's as-of time."""
    if run is None or run.get("as_of") is None:
        return None
    as_of = _local(run["as_of"], settings).date()
    last_day = period.replace(day=calendar.monthrange(period.year, period.month)[1])
    if period <= as_of < last_day:
        return f"{month_label(period)} is not over: its figures cover the data up to {format_day(as_of)}."
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
        body.append(html.P("No target: neither higher nor lower is better", className="tile-target"))
    changes = [c for c in (t["change_month_text"], t["change_year_text"]) if c]
    if changes:
        body.append(html.Ul([html.Li(c) for c in changes], className="tile-changes"))
    if t["note"]:
        body.append(html.P(t["note"], className="tile-note"))
    body.append(html.Details([html.Summary("What this measures"), html.P(t["description"])], className="tile-about"))
    return html.Article(
        html.Div(body, className="card-body"),
        id=ids.tile(metric),
        className="card tile h-100",
        **{"aria-labelledby": heading_id},
    )


def tiles_grid(
    engine: Engine, settings: Settings, period: dt.date, region: str | None, version: int | None
) -> list[Any]:
    cards = [
        dbc.Col(
            tile_card(tile_data(engine, settings, m, period, region, version=version)),
            xs=12,
            sm=6,
            lg=3,
            className="mb-3",
        )
        for m in settings.dashboard.headline
    ]
    if not cards:
        return [html.P("No headline indicators are configured (dashboard.headline in config.yaml).")]
    return [dbc.Row(cards)]


# --- indicator in detail -------------------------------------------------------------------


def _figure_block(
    heading: str,
    graph_id: str,
    figure: Any,
    caption: str,
    table: list[dict[str, str]],
    table_head: list[str],
    first_col: str,
) -> list[Any]:
    rows = [
        html.Tr([html.Th(r[first_col], scope="row"), *[html.Td(r[k]) for k in ("value", "n", "interval")]])
        for r in table
    ]
    return [
        html.H3(heading, className="h5 mt-4"),
        html.Figure(
            [
                dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG),
                html.Figcaption(caption, className="chart-caption"),
            ],
            className="chart",
        ),
        html.Details(
            [
                html.Summary("Figures as a table"),
                dbc.Table(
                    [html.Thead(html.Tr([html.Th(h, scope="col") for h in table_head])), html.Tbody(rows)],
                    size="sm",
                    striped=True,
                    className="mt-2",
                ),
            ],
            className="chart-table",
        ),
    ]


def trend_block(
    engine: Engine, settings: Settings, metric: str, period: dt.date, region: str | None, version: int | None
) -> list[Any]:
    definition = CATALOGUE[metric]
    where = region or "all regions"
    heading = f"Trend, {where}: {TREND_MONTHS} months to {month_label(period)}"
    if region and "region" not in data.breakdowns(engine, metric, version):
        return [html.H3(heading, className="h5 mt-4"), html.P(f"{definition.name.en} is not broken down by region.")]
    by: tuple[str, ...] = ("region",) if region else ()
    df = data.slice_cells(data.monthly_cells(engine, metric, by, version, settings.privacy.min_cell_size), region)
    start = add_months(period, -(TREND_MONTHS - 1))
    df = df[(df["period"] >= start) & (df["period"] <= period)]
    df = complete_months(df, start, period, data.months(engine, version))
    target = target_for(settings, metric, by_region=region is not None)
    return _figure_block(
        heading,
        ids.OV_TREND_GRAPH,
        trend_figure(df, definition, target),
        trend_caption(df, definition, where, target),
        table_rows(df, definition, settings.privacy.min_cell_size),
        ["Month", "Value", definition.n_means.capitalize(), "95% interval"],
        "month",
    )


def regions_block(
    engine: Engine, settings: Settings, metric: str, period: dt.date, region: str | None, version: int | None
) -> list[Any]:
    definition = CATALOGUE[metric]
    heading = f"By region, {month_label(period)}"
    if "region" not in data.breakdowns(engine, metric, version):
        return [html.H3(heading, className="h5 mt-4"), html.P(f"{definition.name.en} is not broken down by region.")]
    df = data.monthly_cells(engine, metric, ("region",), version, settings.privacy.min_cell_size)
    df = df[df["period"] == period]
    rows = region_rows(df, [r.id for r in settings.regions], settings.privacy.min_cell_size)
    # Regions are compared with the target, else with the figure for all regions; neither
    # applies to a count, whose total is the sum of the regions.
    target = target_for(settings, metric, by_region=True)
    overall = None
    if definition.unit != "count":
        cell = data.cell_at(data.monthly_cells(engine, metric, (), version, settings.privacy.min_cell_size), period)
        overall = cell["value"] if cell and not cell["suppressed"] else None
    return _figure_block(
        heading,
        ids.OV_REGIONS_GRAPH,
        region_figure(rows, definition, region, target, overall),
        region_caption(rows, definition, period, target, overall),
        region_table_rows(rows, definition),
        ["Region", "Value", definition.n_means.capitalize(), "95% interval"],
        "region",
    )


def detail_blocks(
    engine: Engine, settings: Settings, metric: str, period: dt.date, region: str | None, version: int | None
) -> tuple[list[Any], list[Any]]:
    return (
        trend_block(engine, settings, metric, period, region, version),
        regions_block(engine, settings, metric, period, region, version),
    )


# --- the page -------------------------------------------------------------------------------


def notices(messages: list[str]) -> list[Any]:
    return [dbc.Alert(m, color="info", className="py-2 mb-2") for m in messages]


def overview_layout(
    engine: Engine, settings: Settings, base: str, period: Any = None, region: Any = None, indicator: Any = None
) -> html.Div:
    run = data.refresh_run(engine)
    version = data.version_of(run)
    months = data.months(engine, version)
    month, region_id, metric, messages = resolve_filters(months, settings, period, region, indicator)
    header = [
        html.H1("Overview", className="h3 mb-1"),
        html.P(as_of_detail(run, settings), id=ids.OV_AS_OF, className="text-body-secondary"),
    ]
    if month is None:
        return html.Div(
            [
                *header,
                dbc.Alert(
                    "There are no monthly figures in the store yet. Load data with `civic-metrics etl run` "
                    "and compute the indicators with `civic-metrics metrics refresh`.",
                    color="warning",
                ),
            ]
        )
    partial = partial_month_notice(run, settings, month)
    if partial:
        messages.append(partial)
    filters = html.Section(
        [
            html.H2("Choose the month and region", className="visually-hidden"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Month", html_for=ids.OV_PERIOD),
                            dbc.Select(
                                id=ids.OV_PERIOD,
                                value=month_param(month),
                                options=[{"label": month_label(m), "value": month_param(m)} for m in reversed(months)],
                            ),
                        ],
                        xs=12,
                        sm=6,
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Region", html_for=ids.OV_REGION),
                            dbc.Select(id=ids.OV_REGION, value=region_id or ids.ALL, options=region_options(settings)),
                        ],
                        xs=12,
                        sm=6,
                        md=3,
                    ),
                    dbc.Col(
                        html.A(
                            "Link to this view",
                            id=ids.OV_LINK,
                            href=view_href(base, month, region_id, metric),
                            className="view-link",
                        ),
                        xs=12,
                        md=6,
                        className="d-flex align-items-end justify-content-md-end mt-2",
                    ),
                ],
                className="g-3 align-items-end",
            ),
            dcc.Store(id=ids.OV_URL_SYNC),
        ],
        className="filters mb-3",
        **{"aria-label": "Filters"},
    )
    trend, regions = detail_blocks(engine, settings, metric, month, region_id, version)
    return html.Div(
        [
            *header,
            html.Div(notices(messages), id=ids.OV_NOTICE, role="status"),
            filters,
            html.Section(
                [
                    html.H2("Headline indicators", id="headline-heading", className="h4"),
                    html.Div(tiles_grid(engine, settings, month, region_id, version), id=ids.OV_TILES),
                ],
                **{"aria-labelledby": "headline-heading"},
            ),
            html.Section(
                [
                    html.H2("One indicator in detail", id="detail-heading", className="h4 mt-3"),
                    dbc.Row(
                        dbc.Col(
                            [
                                dbc.Label("Indicator", html_for=ids.OV_INDICATOR),
                                dbc.Select(id=ids.OV_INDICATOR, value=metric, options=indicator_options(settings)),
                            ],
                            xs=12,
                            md=6,
                        )
                    ),
                    dbc.Row(
                        [
                            dbc.Col(html.Div(trend, id=ids.OV_TREND), xs=12, xl=7),
                            dbc.Col(html.Div(regions, id=ids.OV_REGIONS), xs=12, xl=5),
                        ]
                    ),
                ],
                **{"aria-labelledby": "detail-heading"},
            ),
        ]
    )
