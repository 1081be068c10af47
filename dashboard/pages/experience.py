"""Citizen experience and joined-up working: residents who have to come back, cases settled
at the first contact or reopened, what residents say in the satisfaction survey, and how
often cases pass between departments and what that costs.

The layout is a function of the address (the shared filters), so a link reproduces the
view; the callback only parses the controls and calls the same builder,
`dashboard.experience_view.content`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback

from dashboard import experience_view, filters, ids, state, timeliness_view
from dashboard.i18n import N_, page_title

PAGE = ids.EXPERIENCE
PATH = "/experience"

dash.register_page(__name__, path=PATH, name=N_("Experience and joined-up working"),
                   title=page_title("Experience and joined-up working"), order=40)  # fmt: skip


def _periods() -> filters.Periods:
    return timeliness_view.periods_of(state.engine())


filters.register(PAGE, PATH, _periods, state.settings)


def layout(**params: Any) -> object:
    return experience_view.layout(state.engine(), state.settings(), dash.get_relative_path(PATH), params)


@callback(Output(ids.content(PAGE), "children"), *filters.inputs(PAGE), prevent_initial_call=True)
def update(*values: Any) -> object:
    settings = state.settings()
    view = filters.view_from_controls(settings, _periods(), *values)
    return experience_view.content(state.engine(), settings, view)
