"""Rights uptake: take-up of the entitlement programmes and the people missing out, by
programme, region and population group (built by `dashboard.uptake_view`).

The first render is built on the server from the address; the callback only rebuilds the
content for the filters' new values, through the same builder. The shared service filter
offers the programmes only.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Output, callback

from dashboard import equal_service_view, filters, ids, state, uptake_view
from dashboard.i18n import N_, page_title

PAGE = ids.UPTAKE
PATH = "/rights-uptake"

dash.register_page(__name__, path=PATH, name=N_("Rights uptake"), title=page_title("Rights uptake"), order=30)


def _periods() -> filters.Periods:
    return equal_service_view.Reader.of(state.engine(), state.settings()).periods_fn()


filters.register(PAGE, PATH, _periods, state.settings)


def layout(**params: Any) -> Any:
    return uptake_view.page(state.engine(), state.settings(), params, dash.get_relative_path(PATH))


@callback(Output(ids.content(PAGE), "children"), *filters.inputs(PAGE), prevent_initial_call=True)
def update(*values: Any) -> Any:
    engine, settings = state.engine(), state.settings()
    return uptake_view.content(engine, settings, equal_service_view.view_of(settings, engine, values))
