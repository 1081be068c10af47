"""Equal service: coverage per 1,000 residents by region and population group, each group
against the reference group, and inequality over time (built by `dashboard.equal_service_view`).

The first render is built on the server from the address; the callback only rebuilds the
content for the filters' new values, through the same builder.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback

from dashboard import equal_service_view, filters, ids, state
from dashboard.i18n import N_, page_title

PAGE = ids.EQUAL
PATH = "/equal-service"

dash.register_page(__name__, path=PATH, name=N_("Equal service"), title=page_title("Equal service"), order=10)


def _periods() -> filters.Periods:
    return equal_service_view.Reader.of(state.engine(), state.settings()).periods_fn()


filters.register(PAGE, PATH, _periods, state.settings)


def layout(**params: Any) -> Any:
    return equal_service_view.page(state.engine(), state.settings(), params, dash.get_relative_path(PATH))


@callback(Output(ids.content(PAGE), "children"), *filters.inputs(PAGE), prevent_initial_call=True)
def update(*values: Any) -> Any:
    engine, settings = state.engine(), state.settings()
    return equal_service_view.content(engine, settings, equal_service_view.view_of(settings, engine, values))
