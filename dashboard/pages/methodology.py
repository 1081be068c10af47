"""Methodology: every indicator of the catalogue in plain words (built by
`dashboard.methodology_view`). No period filters: it describes definitions, not figures."""

from __future__ import annotations

import dash

from dashboard import methodology_view
from dashboard.i18n import N_, page_title

dash.register_page(__name__, path="/methodology", name=N_("Methodology"), title=page_title("Methodology"),
                   order=80)  # fmt: skip


def layout(**_params: object) -> object:
    return methodology_view.methodology_layout()
