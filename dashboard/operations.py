"""Data operations: what the ETL and the worker did, for operators and auditors.

The run log of every load (rows read = loaded + quarantined, outcome, error), the worker's
scheduled runs (succeeded, failed, missed, skipped), where each source stands, and the
reasons rows were refused. Read-only, and small: the newest runs and grouped counts.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html
from sqlalchemy import Engine

from dashboard import ids
from dashboard.i18n import _
from etl.operations import job_log, quarantine_counts, run_log, source_positions

RUNS = 50


def operations_layout(engine: Engine) -> object:
    return dbc.Container(
        [
            html.H1(_("Data operations"), className="h2 mt-3"),
            html.P(
                _("Every load and scheduled job, newest first. A load keeps its promise when rows read equal rows "
                  "loaded plus rows quarantined; refused rows are listed with their reasons under Quarantine."),
                className="lead",
            ),
            section(_("Loads (ETL runs)"), ids.OPS_ETL_RUNS, etl_table(run_log(engine, RUNS))),
            section(_("Scheduled jobs (worker)"), ids.OPS_JOB_RUNS, jobs_table(job_log(engine, RUNS))),
            section(_("Where each source stands"), ids.OPS_SOURCES, sources_table(source_positions(engine))),
            section(
                _("Quarantine: refused rows by reason"), ids.OPS_QUARANTINE, quarantine_table(quarantine_counts(engine))
            ),
        ],
        fluid=True,
    )


def section(title: str, id_: str, body: object) -> html.Section:
    return html.Section([html.H2(title, className="h4 mt-4"), body], id=id_, **{"aria-label": title})


def table(frame: pd.DataFrame, caption: str, empty: str) -> object:
    if frame.empty:
        return html.P(empty, className="text-muted")
    head = html.Thead(html.Tr([html.Th(c, scope="col") for c in frame.columns]))
    body = html.Tbody([html.Tr([html.Td(v) for v in row]) for row in frame.itertuples(index=False)])
    return dbc.Table([html.Caption(caption), head, body], striped=True, bordered=False, hover=True, size="sm",
                     responsive=True)  # fmt: skip


def when(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S} UTC"


def etl_table(runs: pd.DataFrame) -> object:
    frame = pd.DataFrame(
        {
            _("Started"): runs["started_at"].map(when),
            _("Source"): runs["job"],
            _("Outcome"): runs["status"],
            _("Read"): runs["rows_read"].map("{:,}".format),
            _("Loaded"): runs["rows_loaded"].map("{:,}".format),
            _("Quarantined"): runs["rows_quarantined"].map("{:,}".format),
            _("Seconds"): runs["seconds"].map(lambda s: "" if pd.isna(s) else f"{s:.1f}"),
            _("Error"): runs["error"].fillna(""),
        }
    )
    return table(frame, _("The newest {n} loads.").format(n=RUNS), _("No load has run yet."))


def jobs_table(runs: pd.DataFrame) -> object:
    kind = runs["transient"].map(lambda t: "" if t is None else (_("transient") if t else _("terminal")))
    frame = pd.DataFrame(
        {
            _("Started"): runs["started_at"].map(when),
            _("Job"): runs["job"],
            _("Outcome"): runs["status"],
            _("Failure kind"): kind,
            _("Attempt"): runs["attempt"],
            _("Worker"): runs["worker"],
            _("Error"): runs["error"].fillna(""),
        }
    )
    return table(frame, _("The newest {n} scheduled runs.").format(n=RUNS), _("The worker has not run a job yet."))


def sources_table(positions: pd.DataFrame) -> object:
    frame = pd.DataFrame(
        {
            _("Source"): positions["job"],
            _("Position"): positions["position"],
            _("Since"): positions["updated"].map(when),
        }
    )
    return table(
        frame, _("Files loaded, or the high-water mark of incremental sources."), _("No source has loaded yet.")
    )


def quarantine_table(counts: pd.DataFrame) -> object:
    frame = pd.DataFrame(
        {_("Source"): counts["job"], _("Rule"): counts["rule"], _("Rows"): counts["rows"].map("{:,}".format)}
    )
    return table(frame, _("Export the rows to fix them: civic-metrics etl quarantine --format csv."),
                 _("No row has been refused."))  # fmt: skip
