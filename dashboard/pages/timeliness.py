"""Timeliness: how long cases take (Kaplan-Meier median and 90th percentile), how many are
settled within their statutory deadline, first responses, the backlog and its age, and the
slices of one dimension side by side.

The layout is a function of the address (the shared filters and `by`, the dimension to
compare by), so a link reproduces the view; the callback only parses the controls and calls
the same builder, `dashboard.timeliness_view.content`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback

from dashboard import filters, ids, state, timeliness_view
from dashboard.i18n import N_, page_title

PAGE = ids.TIMELY
PATH = "/timeliness"

dash.register_page(__name__, path=PATH, name=N_("Timeliness"), title=page_title("Timeliness"), order=20)


def _periods() -> filters.Periods:
    return timeliness_view.periods_of(state.engine())


filters.register(PAGE, PATH, _periods, state.settings, extra=[("by", ids.control(PAGE, "by"))])


def layout(**params: Any) -> object:
    return timeliness_view.layout(state.engine(), state.settings(), dash.get_relative_path(PATH), params)


@callback(
    Output(ids.content(PAGE), "children"),
    *filters.inputs(PAGE),
    Input(ids.control(PAGE, "by"), "value"),
    prevent_initial_call=True,
)
def update(*values: Any) -> object:
    settings = state.settings()
    view = filters.view_from_controls(settings, _periods(), *values[: len(filters.CONTROLS)])
    by, _notices = timeliness_view.parse_by(values[-1])
    return timeliness_view.content(state.engine(), settings, view, by)
