"""The monthly briefings, for download (the content is built by `dashboard.briefings_view`)."""

from __future__ import annotations

import dash

from dashboard import briefings_view, state
from dashboard.i18n import N_, page_title

dash.register_page(__name__, path="/briefings", name=N_("Briefings"), title=page_title("Briefings"), order=85)


def layout(**_query: object) -> object:
    return briefings_view.briefings_layout(state.engine(), state.settings())
