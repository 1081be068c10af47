"""The Briefings page: the monthly briefings the worker (or `civic-metrics report`) wrote,
newest first, each with a link to its file.

Files are served by one Flask route, `/briefings/file/<name>`, which answers only for a name
recorded in the store's `briefings` table and found inside `reports.folder`
(`dashboard.briefing.records.path_of`): no path, no `..`, no file the store does not know.
Who may see which briefings is for the roles of issue 6; today every reader of the dashboard may.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import Flask, Response, abort, send_file
from sqlalchemy import Engine

from dashboard import state
from dashboard.briefing.records import path_of, recorded
from dashboard.formatting import format_count, format_day, period_label
from dashboard.i18n import ENDONYMS, _
from metrics.config import Settings

PATH = "/briefings/file/"
MIMETYPES = {"pdf": "application/pdf", "html": "text/html"}


def _relative(path: str) -> str:
    try:
        return dash.get_relative_path(path)
    except AttributeError:  # no app running (pure tests)
        return path


def rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per recorded briefing, as the table shows it."""
    out = []
    for r in recorded(engine):
        out.append(
            {
                "month": period_label(r["period"], "month"),
                "language": ENDONYMS.get(r["lang"], r["lang"]),
                "format": r["format"].upper(),
                "pages": format_count(r["pages"]) if r["pages"] else "",
                "as_of": format_day(r["as_of"]) if r["as_of"] else _("Not known"),
                "written": format_day(r["created_at"]),
                "href": _relative(PATH + r["file_name"]),
                "file_name": r["file_name"],
            }
        )
    return out


def briefings_layout(engine: Engine, settings: Settings) -> dbc.Container:
    found = rows(engine)
    intro = html.P(
        _("The monthly briefing for ministers' offices: headline indicators against their targets, what really "
          "changed, equal-service gaps, rights uptake, backlog and a note on the data. The worker writes it on "
          "working day {n} of each month."
          ).format(n=settings.reports.working_day),
        className="lead",
    )  # fmt: skip
    if not found:
        body: Any = html.P(
            _("No briefing yet: write one with `civic-metrics report --period YYYY-MM`, or add the `report` step "
              "to a job of the worker."),
            className="text-muted",
        )  # fmt: skip
    else:
        heads = [_("Month"), _("Language"), _("Format"), _("Pages"), _("Data as of"), _("Written on"), _("File")]
        body = html.Table(
            [
                html.Caption(_("Briefings, newest month first")),
                html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Th(r["month"], scope="row"),
                                html.Td(r["language"]),
                                html.Td(r["format"]),
                                html.Td(r["pages"]),
                                html.Td(r["as_of"]),
                                html.Td(r["written"]),
                                html.Td(html.A(_("Download {name}").format(name=r["file_name"]), href=r["href"])),
                            ]
                        )
                        for r in found
                    ]
                ),
            ],
            className="table table-sm",
        )
    return dbc.Container([html.H1(_("Briefings"), className="h2 mt-3"), intro, body], fluid=True)


def briefing_file(name: str) -> Response:
    path = path_of(state.engine(), state.settings(), name)
    if path is None:
        abort(404)
    return send_file(path, mimetype=MIMETYPES[path.suffix.lstrip(".")], download_name=path.name)


def register(server: Flask) -> None:
    server.add_url_rule(PATH + "<path:name>", "briefing_file", briefing_file)
