"""What the ETL did: the run log, the quarantined rows and the worker's job log, for
operators and auditors."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

import pandas as pd
from sqlalchemy import Engine, func, inspect, select, text

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


def quarantine_counts(engine: Engine) -> pd.DataFrame:
    """Refused rows by source and reason (each reason of a row counted), most frequent
    first: what an operator fixes first. Reasons differ by their quoted values, so counts
    are kept per field and rule, the text before the first quote.

    The dashboard shows these on two pages, to every reader: counted once per state of the
    quarantine, which only grows (rows are added by committed loads, never changed or
    deleted, so its newest id names its state), not on every request. On ten million cases
    the 10,000 refused rows made every view of those pages read and split all their reasons."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(QuarantinedRow.id))).scalar()
    return _quarantine_counts(engine, newest).copy()


@lru_cache(maxsize=8)
def _quarantine_counts(engine: Engine, newest: int | None) -> pd.DataFrame:
    q = select(QuarantinedRow.job, QuarantinedRow.reason).where(QuarantinedRow.id <= (newest or 0))
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    if df.empty:
        return pd.DataFrame(columns=["job", "rule", "rows"])
    df["rule"] = df["reason"].str.split("; ")
    df = df.explode("rule")
    df["rule"] = df["rule"].str.split("'").str[0].str.rstrip(" :")
    out = df.groupby(["job", "rule"]).size().rename("rows").reset_index()
    return out.sort_values(["rows", "job"], ascending=[False, True]).reset_index(drop=True)


def source_positions(engine: Engine) -> pd.DataFrame:
    """Where each source stands: files loaded (and the latest), or its high-water mark."""
    from metrics.store.models import LoadedFile, SourceState

    with engine.connect() as conn:
        files = pd.read_sql(select(LoadedFile.__table__), conn)
        states = pd.read_sql(select(SourceState.__table__), conn)
    rows = []
    for job, group in files.groupby("job"):
        latest = group.sort_values("loaded_at").iloc[-1]
        rows.append({"job": job, "position": f"{len(group)} file(s); latest {latest['name']}",
                     "updated": pd.to_datetime(latest["loaded_at"])})  # fmt: skip
    for r in states.itertuples():
        if r.job in set(files["job"]):  # a file source keeps only its pseudonym key's fingerprint
            continue
        mark = json.loads(r.state).get("high_water_mark", "")
        rows.append({"job": r.job, "position": f"high-water mark {mark}", "updated": pd.to_datetime(r.updated_at)})
    return pd.DataFrame(rows, columns=["job", "position", "updated"])
