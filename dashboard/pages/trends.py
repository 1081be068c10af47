"""Trends and audit: one indicator's whole series with control limits, events, before/after,
its definition versions and where the data came from (built by `dashboard.trends_view`)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback

from dashboard import data, filters, ids, state, trends_view
from dashboard.i18n import N_, page_title

PAGE = ids.TRENDS
PATH = "/trends"
dash.register_page(__name__, path=PATH, name=N_("Trends and audit"), title=page_title("Trends and audit"),
                   order=60)  # fmt: skip


def _periods() -> filters.Periods:
    engine = state.engine()
    return trends_view.periods_of(engine, data.data_version(engine))


def layout(**params: Any) -> object:
    return trends_view.trends_layout(state.engine(), state.settings(), dash.get_relative_path(PATH), params)


filters.register(PAGE, PATH, _periods, state.settings,
                 extra=[("indicator", trends_view.INDICATOR), ("event", trends_view.EVENT)])  # fmt: skip


@callback(
    Output(ids.content(PAGE), "children"),
    *filters.inputs(PAGE),
    Input(trends_view.INDICATOR, "value"),
    Input(trends_view.EVENT, "value"),
    prevent_initial_call=True,
)
def update(*values: Any) -> object:
    engine, settings = state.engine(), state.settings()
    version = data.data_version(engine)
    view = filters.view_from_controls(settings, trends_view.periods_of(engine, version), *values[:-2])
    if view.end is None:
        return dash.no_update
    metric, _n = trends_view.resolve_indicator(settings, values[-2])
    event, _n = trends_view.resolve_event(settings, values[-1])
    return trends_view.content(engine, settings, view, version, metric, event)
