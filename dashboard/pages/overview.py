"""Overview: the page a minister's office opens.

The layout is a function of the URL's query parameters (period, region, indicator), so a
link reproduces the view. Callbacks only parse their inputs and call `dashboard.views`.
"""

from __future__ import annotations

import datetime as dt

import dash
from dash import Input, Output, callback, clientside_callback
from sqlalchemy import Engine

from dashboard import data, ids, state, views
from dashboard.i18n import N_, page_title
from metrics.config import Settings

dash.register_page(__name__, path="/", name=N_("Overview"), title=page_title("Overview"), order=0)


def layout(
    period: str | None = None, region: str | None = None, indicator: str | None = None, **_other: object
) -> object:
    return views.overview_layout(
        state.engine(), state.settings(), dash.get_relative_path("/"), period, region, indicator
    )


def _view(
    period: str | None, region: str | None, indicator: str | None
) -> tuple[Engine, Settings, int | None, dt.date | None, str | None, str]:
    """The store, settings, data version and the filters the inputs ask for."""
    engine, settings = state.engine(), state.settings()
    run = data.refresh_run(engine)
    version = data.version_of(run)
    month, region_id, metric, _ = views.resolve_filters(
        data.months(engine, version), settings, period, region, indicator
    )
    return engine, settings, version, month, region_id, metric


@callback(
    Output(ids.OV_TILES, "children"),
    Input(ids.OV_PERIOD, "value"),
    Input(ids.OV_REGION, "value"),
    prevent_initial_call=True,
)
def update_tiles(period: str, region: str) -> object:
    engine, settings, version, month, region_id, _ = _view(period, region, None)
    if month is None:
        return dash.no_update
    return views.tiles_grid(engine, settings, month, region_id, version)


@callback(
    Output(ids.OV_TREND, "children"),
    Output(ids.OV_REGIONS, "children"),
    Input(ids.OV_PERIOD, "value"),
    Input(ids.OV_REGION, "value"),
    Input(ids.OV_INDICATOR, "value"),
    prevent_initial_call=True,
)
def update_detail(period: str, region: str, indicator: str) -> object:
    engine, settings, version, month, region_id, metric = _view(period, region, indicator)
    if month is None:
        return dash.no_update, dash.no_update
    return views.detail_blocks(engine, settings, metric, month, region_id, version)


@callback(
    Output(ids.OV_LINK, "href"),
    Input(ids.OV_PERIOD, "value"),
    Input(ids.OV_REGION, "value"),
    Input(ids.OV_INDICATOR, "value"),
    prevent_initial_call=True,
)
def update_link(period: str, region: str, indicator: str) -> str:
    _, _, _, month, region_id, metric = _view(period, region, indicator)
    return views.view_href(dash.get_relative_path("/"), month, region_id, metric)


# Keep the address bar in step with the filters, without reloading the page, so a copied
# address reproduces the view.
clientside_callback(
    """
    function(href) {
        if (href && window.location.pathname + window.location.search !== href) {
            window.history.replaceState(window.history.state, "", href);
        }
        return href;
    }
    """,
    Output(ids.OV_URL_SYNC, "data"),
    Input(ids.OV_LINK, "href"),
    prevent_initial_call=True,
)
