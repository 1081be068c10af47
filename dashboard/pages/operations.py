"""Data operations: what the ETL and the worker did, for operators and auditors (the
content is built by `dashboard.operations`)."""

from __future__ import annotations

import dash

from dashboard import operations, state
from dashboard.i18n import N_, page_title

dash.register_page(__name__, path="/operations", name=N_("Data operations"), title=page_title("Data operations"),
                   order=90)  # fmt: skip


def layout(**_query: object) -> object:
    return operations.operations_layout(state.engine())
