"""The Audit page and its CSV: the audit log, newest first, for auditors and admins (the
roles are enforced by `dashboard.auth`: the page by its path, the file by `/audit/`).

Read-only: the product has no way to change or remove an entry (see `metrics.audit`).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from flask import Flask, Response
from sqlalchemy import Engine

from dashboard import state
from dashboard.i18n import _
from dashboard.operations import section, table, when
from metrics import audit, query

PATH = "/audit/log.csv"
SHOWN = 200


def _relative(path: str) -> str:
    try:
        return dash.get_relative_path(path)
    except AttributeError:  # no app running (pure tests)
        return path


def audit_layout(engine: Engine) -> dbc.Container:
    log = audit.entries(engine, SHOWN)
    log["at"] = log["at"].map(when)
    heads = {"at": _("When"), "actor": _("Who"), "action": _("What"), "target": _("On what"),
             "outcome": _("Outcome"), "remote_addr": _("From address"), "detail": _("Details")}  # fmt: skip
    frame = log[list(heads)].fillna("").rename(columns=heads)
    return dbc.Container(
        [
            html.H1(_("Audit log"), className="h2 mt-3"),
            html.P(
                _("Every sign-in and failed sign-in, export, briefing download, change of an account and manual "
                  "data load, newest first. Nobody can change or remove an entry."),
                className="lead",
            ),
            html.P(html.A(_("Download the whole audit log (CSV)"), href=_relative(PATH))),
            section(_("Newest entries"), "audit-log", table(frame, _("Audit log, newest first"), _("No entry yet."))),
            section(_("Published figures"), "publications", publications_table(engine)),
        ],
        fluid=True,
    )


def publications_table(engine: Engine) -> object:
    """Every publication and revision (`civic-metrics publish`), newest first; `civic-metrics
    publish compare` lists what today's figures changed since."""
    pubs = query.publications(engine).iloc[::-1]
    frame = pd.DataFrame(
        {
            _("Month"): [f"{p:%Y-%m}" for p in pubs["period"]],
            _("Revision"): pubs["revision"].astype(str),
            _("Published on"): pubs["published_at"].map(when),
            _("Who"): pubs["published_by"],
            _("Figures"): pubs["figures"].map("{:,}".format),
            _("Data as of"): pubs["as_of"].map(when),
            _("Correction note"): pubs["note"].fillna(""),
        }
    )
    about = _(
        "Published months are frozen: a change of their figures makes a new revision with a correction note, and "
        "earlier revisions stay as they were. `civic-metrics publish compare --period YYYY-MM` lists the figures "
        "that differ from today's."
    )
    return html.Div([html.P(about), table(frame, _("Published figures, newest first"), _("No month published yet."))])


def audit_csv() -> Response:
    return Response(audit.csv_text(state.engine()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})  # fmt: skip


def register(server: Flask) -> None:
    server.add_url_rule(PATH, "audit_csv", audit_csv)
