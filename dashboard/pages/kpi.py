"""KPI tracker: every indicator against its target for programme managers, with a drill-down
and alerts (the content is built by `dashboard.kpi_view`)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, clientside_callback

from dashboard import data, filters, ids, kpi_view, state
from dashboard.i18n import N_, page_title

PAGE = ids.KPI
PATH = "/kpi"
dash.register_page(__name__, path=PATH, name=N_("KPI tracker"), title=page_title("KPI tracker"), order=50)


def _periods() -> filters.Periods:
    engine = state.engine()
    return kpi_view.periods_of(engine, data.data_version(engine))


def layout(**params: Any) -> object:
    return kpi_view.kpi_layout(state.engine(), state.settings(), dash.get_relative_path(PATH), params)


filters.register(PAGE, PATH, _periods, state.settings,
                 extra=[("indicator", kpi_view.INDICATOR), ("drill", kpi_view.DRILL)])  # fmt: skip


def _view(values: tuple[Any, ...]) -> tuple[Any, ...]:
    engine, settings = state.engine(), state.settings()
    version = data.data_version(engine)
    view = filters.view_from_controls(settings, kpi_view.periods_of(engine, version), *values)
    return engine, settings, version, view


@callback(
    Output(ids.content(PAGE), "children"),
    *filters.inputs(PAGE),
    State(kpi_view.INDICATOR, "value"),
    State(kpi_view.DRILL, "value"),
    prevent_initial_call=True,
)
def update(*values: Any) -> object:
    engine, settings, version, view = _view(values[:-2])
    if view.end is None:
        return dash.no_update
    metric, _n = kpi_view.resolve_indicator(settings, values[-2])
    dim, _n = kpi_view.resolve_dim(settings, values[-1])
    return kpi_view.content(engine, settings, view, version, metric, dim)


@callback(
    Output(kpi_view.DRILL_BLOCK, "children"),
    Output(kpi_view.GRID, "selectedRows"),
    Input(kpi_view.INDICATOR, "value"),
    Input(kpi_view.DRILL, "value"),
    *[State(i.component_id, i.component_property) for i in filters.inputs(PAGE)],
    prevent_initial_call=True,
)
def update_drill(indicator: str, dim: str, *values: Any) -> object:
    engine, settings, version, view = _view(values)
    if view.end is None:
        return dash.no_update, dash.no_update
    metric, _n = kpi_view.resolve_indicator(settings, indicator)
    dim, _n = kpi_view.resolve_dim(settings, dim)
    return kpi_view.drill_block(engine, settings, view, version, metric, dim), {"ids": [metric]}


@callback(
    Output(kpi_view.INDICATOR, "value"),
    Input(kpi_view.GRID, "selectedRows"),
    State(kpi_view.INDICATOR, "value"),
    prevent_initial_call=True,
)
def row_chosen(rows: Any, current: str) -> object:
    """A row chosen in the grid (by click, or Space on the keyboard) is the indicator broken down."""
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return dash.no_update
    metric = rows[0].get("metric")
    if not metric or metric == current:
        return dash.no_update
    return metric


# AG Grid gives its grid element no name: name it by the heading of its section, once drawn.
clientside_callback(
    """
    function(_rows) {
        const apply = function(tries) {
            const wrap = document.getElementById("WRAP_ID");
            const grid = wrap && wrap.querySelector('[role="grid"], [role="treegrid"]');
            if (grid) {
                grid.setAttribute("aria-labelledby", wrap.dataset.labelledby);
                return;
            }
            if (tries > 0) { setTimeout(function() { apply(tries - 1); }, 100); }
        };
        apply(100);
        return window.dash_clientside.no_update;
    }
    """.replace("WRAP_ID", kpi_view.GRID_WRAP),
    Output(ids.block(PAGE, "grid-named"), "data"),
    Input(kpi_view.GRID, "rowData"),
)
