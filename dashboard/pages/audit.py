"""The audit log, for auditors and admins (built by `dashboard.audit_view`)."""

from __future__ import annotations

import dash

from dashboard import audit_view, state
from dashboard.i18n import N_, page_title

dash.register_page(__name__, path="/audit", name=N_("Audit log"), title=page_title("Audit log"), order=95)


def layout(**_query: object) -> object:
    return audit_view.audit_layout(state.engine())
