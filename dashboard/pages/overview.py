"""Overview: the page a minister's office opens.

The layout is a function of the URL's query parameters (the shared filters and the
indicator shown in detail), so a link reproduces the view. Callbacks only parse their inputs
and call `dashboard.views`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback

from dashboard import data, filters, ids, state, views
from dashboard.i18n import N_, page_title

PAGE = ids.OVERVIEW
dash.register_page(__name__, path="/", name=N_("Overview"), title=page_title("Overview"), order=0)


def _periods() -> filters.Periods:
    engine = state.engine()
    return views.periods_of(engine, data.data_version(engine))


def layout(**params: Any) -> object:
    return views.overview_layout(state.engine(), state.settings(), dash.get_relative_path("/"), params)


filters.register(PAGE, "/", _periods, state.settings,
                 extra=[("indicator", ids.OV_INDICATOR)])  # fmt: skip


@callback(
    Output(ids.content(PAGE), "children"),
    *filters.inputs(PAGE),
    Input(ids.OV_INDICATOR, "value"),
    prevent_initial_call=True,
)
def update(*values: Any) -> object:
    engine, settings = state.engine(), state.settings()
    version = data.data_version(engine)
    view = filters.view_from_controls(settings, views.periods_of(engine, version), *values[:-1])
    metric, _notices = views.resolve_indicator(values[-1])
    if view.end is None:
        return dash.no_update
    return views.content(engine, settings, view, metric, version)
