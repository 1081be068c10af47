"""What the ETL did: the run log, the quarantined rows and the worker's job log, for
operators and auditors."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from sqlalchemy import Engine, inspect, select, text

from metrics.store.models import EtlRun, JobRun, QuarantinedRow


def run_log(engine: Engine, limit: int = 20, job: str | None = None) -> pd.DataFrame:
    """The newest runs first, with their counts, duration and error."""
    q = select(EtlRun.__table__).order_by(EtlRun.id.desc()).limit(limit)
    if job:
        q = q.where(EtlRun.job == job)
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    for col in ("started_at", "finished_at"):
        df[col] = pd.to_datetime(df[col])
    df["seconds"] = (df["finished_at"] - df["started_at"]).dt.total_seconds()
    return df


def quarantined(engine: Engine, job: str | None = None, run_id: int | None = None) -> pd.DataFrame:
    """Quarantined rows: run, job, source row number, reason and the row as read (a dict)."""
    q = select(QuarantinedRow.__table__).order_by(QuarantinedRow.id)
    if job:
        q = q.where(QuarantinedRow.job == job)
    if run_id is not None:
        q = q.where(QuarantinedRow.etl_run_id == run_id)
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    df["raw"] = df["raw"].map(json.loads)
    return df


def fixable_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The quarantined rows as the source file had them (its own columns, in its order),
    followed by where each came from and why it was refused: fix the cells, drop the last
    four columns or keep them (a mapping reads only its own columns), and load the file."""
    if rows.empty:
        return pd.DataFrame(columns=["quarantine_run", "quarantine_batch", "quarantine_row", "quarantine_reason"])
    source = pd.DataFrame(list(rows["raw"]))
    source["quarantine_run"] = rows["etl_run_id"].to_numpy()
    source["quarantine_batch"] = rows["batch"].fillna("").to_numpy()
    source["quarantine_row"] = rows["row_number"].to_numpy()
    source["quarantine_reason"] = rows["reason"].to_numpy()
    return source


def job_log(engine: Engine, limit: int = 20, job: str | None = None) -> pd.DataFrame:
    """The worker's job runs, newest first."""
    q = select(JobRun.__table__).order_by(JobRun.id.desc()).limit(limit)
    if job:
        q = q.where(JobRun.job == job)
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    for col in ("started_at", "finished_at", "scheduled_for"):
        df[col] = pd.to_datetime(df[col])
    df["transient"] = df["transient"].astype(object).where(df["transient"].notna(), None)
    return df


def next_runs(engine: Engine) -> dict[str, str]:
    """When the worker will next run each job (from its job store; empty before it started)."""
    if not inspect(engine).has_table("apscheduler_jobs"):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    return {
        r.id: f"{dt.datetime.fromtimestamp(r.next_run_time, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        for r in rows
        if r.next_run_time is not None
    }
