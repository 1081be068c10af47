"""Running an ETL job: extract, map, validate, load, record; all or nothing.

The whole load of a file happens in one transaction, so a failure or a crash leaves the
store exactly as it was. The run itself is recorded before and after, in transactions of
its own, so a failed run is still listed with its error.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select, update

from etl.csv_source import read_csv, sha256
from etl.errors import TerminalError, UnknownJob
from etl.mapping import map_cases
from etl.reference import map_reference
from etl.tables import read_reference_table
from metrics.config import CasesCsvSource, ReferenceCsvSource, Settings
from metrics.store.models import (
    Case,
    CaseGroup,
    EligiblePopulation,
    EtlRun,
    Population,
    QuarantinedRow,
)

Progress = Callable[[str], None]
CHUNK = 20_000
# Stay under every database's limit on bound parameters in one IN (...) list.
IN_CHUNK = 900


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    job: str
    rows_read: int
    rows_loaded: int
    rows_new: int
    rows_changed: int
    rows_quarantined: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.job}: read {self.rows_read:,} = loaded {self.rows_loaded:,} "
            f"(new {self.rows_new:,}, changed {self.rows_changed:,}, unchanged "
            f"{self.rows_loaded - self.rows_new - self.rows_changed:,}) + quarantined "
            f"{self.rows_quarantined:,} in {self.seconds:.1f} s"
        )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_job(settings: Settings, engine: Engine, job: str, progress: Progress | None = None) -> RunSummary:
    say = progress or (lambda _msg: None)
    if job not in settings.etl.sources:
        raise UnknownJob(f"no ETL source named {job!r}; config.yaml defines {sorted(settings.etl.sources)}")
    src = settings.etl.sources[job]
    path = settings.resolve(src.path)
    started = time.perf_counter()
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(EtlRun).values(
                job=job,
                kind=src.kind,
                started_at=now(),
                status="running",
                file=str(path),
            )
        ).inserted_primary_key[0]
    try:
        say(f"{job}: reading {path}")
        if isinstance(src, CasesCsvSource):
            needed = dict(src.columns) | {f"group {a}": c for a, c in src.groups.items()}
            raw = read_csv(path, src.encoding, src.delimiter, needed)
            say(f"{job}: mapping and validating {len(raw):,} rows")
            counts = _load_cases(settings, engine, job, src, raw, run_id, say)
        else:
            raw = read_reference_table(path, src)
            counts = _load_reference(settings, engine, job, src, raw, run_id)
        read, loaded, new, changed, quarantined = counts
        if read != loaded + quarantined:  # the promise of every run; never expected to fail
            raise TerminalError(f"{job}: rows read {read} != loaded {loaded} + quarantined {quarantined}")
        with engine.begin() as conn:
            conn.execute(
                update(EtlRun)
                .where(EtlRun.id == run_id)
                .values(
                    status="succeeded",
                    finished_at=now(),
                    file_sha256=sha256(path),
                    rows_read=read,
                    rows_loaded=loaded,
                    rows_new=new,
                    rows_changed=changed,
                    rows_quarantined=quarantined,
                )
            )
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(EtlRun)
                .where(EtlRun.id == run_id)
                .values(
                    status="failed",
                    finished_at=now(),
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
        raise
    return RunSummary(run_id, job, read, loaded, new, changed, quarantined, time.perf_counter() - started)


def _load_cases(
    settings: Settings, engine: Engine, job: str, src: CasesCsvSource, raw: pd.DataFrame, run_id: int, say: Progress
) -> tuple[int, int, int, int, int]:
    mapped = map_cases(raw, job, src, settings)
    cases = mapped.cases
    with engine.begin() as conn:
        existing = pd.read_sql(select(Case.case_key, Case.row_hash).where(Case.source == job), conn).set_index(
            "case_key"
        )["row_hash"]
        old_hash = cases["case_key"].map(existing)
        is_new = old_hash.isna()
        changed = ~is_new & (old_hash != cases["row_hash"])
        write = cases[is_new | changed]
        changed_keys = cases.loc[changed, "case_key"].tolist()
        for i in range(0, len(changed_keys), IN_CHUNK):
            part = changed_keys[i : i + IN_CHUNK]
            conn.execute(delete(CaseGroup).where(CaseGroup.case_key.in_(part)))
            conn.execute(delete(Case).where(Case.case_key.in_(part)))
        rows = _records(write.assign(etl_run_id=run_id))
        groups = mapped.groups[mapped.groups["case_key"].isin(set(write["case_key"]))]
        group_rows = _records(groups)
        total = len(rows) + len(group_rows)
        done = 0
        for table, batch in ((Case, rows), (CaseGroup, group_rows)):
            for i in range(0, len(batch), CHUNK):
                conn.execute(insert(table), batch[i : i + CHUNK])
                done += len(batch[i : i + CHUNK])
                say(f"{job}: writing {done:,}/{total:,} rows ({done * 100 // max(total, 1)}%)")
        _quarantine(conn, mapped.quarantined, job, run_id)
    return len(raw), len(cases), int(is_new.sum()), int(changed.sum()), len(mapped.quarantined)


def _load_reference(
    settings: Settings, engine: Engine, job: str, src: ReferenceCsvSource, raw: pd.DataFrame, run_id: int
) -> tuple[int, int, int, int, int]:
    rows, quarantined = map_reference(raw, src, settings)
    model = Population if src.kind == "population_csv" else EligiblePopulation
    # A newly published table replaces what it covers: its years, programmes and breakdowns
    # (a table by family type leaves the same programme's table by entitlement alone).
    scope = [c for c in ("year", "programme", "attribute") if c in rows]
    covered = rows[scope].drop_duplicates().to_dict("records")
    key = [c for c in ("year", "programme", "region", "attribute", "group_value") if c in rows]
    fields = [c for c in rows.columns if c not in key and c != "parts"]
    with engine.begin() as conn:
        before = []
        for part in covered:
            match = [getattr(model, c) == v for c, v in part.items()]
            before.append(pd.read_sql(select(*(getattr(model, c) for c in key + fields)).where(*match), conn))
            conn.execute(delete(model).where(*match))
        records = _records(rows.drop(columns="parts").assign(etl_run_id=run_id))
        for i in range(0, len(records), CHUNK):
            conn.execute(insert(model), records[i : i + CHUNK])
        _quarantine(conn, quarantined, job, run_id)
    # A crosswalk sums several source rows into one stored row: each of them was loaded.
    loaded = int(rows["parts"].sum())
    new, changed = _compare(rows[key + fields], pd.concat(before, ignore_index=True) if before else None, key)
    return len(raw), loaded, new, changed, len(quarantined)


def _compare(now: pd.DataFrame, before: pd.DataFrame | None, key: list[str]) -> tuple[int, int]:
    """Stored rows that are new, and that existed with other figures (a revised table)."""
    if before is None or before.empty:
        return len(now), 0
    merged = now.merge(before, on=key, how="left", suffixes=("", "_before"), indicator=True)
    is_new = merged["_merge"] == "left_only"
    differs = pd.Series(False, index=merged.index)
    for col in (c for c in now.columns if c not in key):
        a, b = merged[col].astype(float), merged[f"{col}_before"].astype(float)
        differs |= ~((a == b) | (a.isna() & b.isna()))
    return int(is_new.sum()), int((differs & ~is_new).sum())


def _quarantine(conn: Connection, q: pd.DataFrame, job: str, run_id: int) -> None:
    if q.empty:
        return
    conn.execute(
        insert(QuarantinedRow),
        [
            {"etl_run_id": run_id, "job": job, "row_number": int(r), "reason": reason, "raw": raw}
            for r, reason, raw in zip(q["_row"], q["reason"], q["raw"], strict=True)
        ],
    )


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, with None for every kind of missing."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def run_jobs(
    settings: Settings, engine: Engine, jobs: list[str] | None, progress: Progress | None = None
) -> list[RunSummary]:
    """Run the named jobs, or every source, reference tables first."""
    names = jobs or sorted(settings.etl.sources, key=lambda n: settings.etl.sources[n].kind == "cases_csv")
    return [run_job(settings, engine, name, progress) for name in names]


def forget_source(engine: Engine, job: str) -> int:
    """Delete every case a source loaded (the demo starts afresh); returns how many."""
    keys = select(Case.case_key).where(Case.source == job)
    with engine.begin() as conn:
        conn.execute(delete(CaseGroup).where(CaseGroup.case_key.in_(keys)))
        return conn.execute(delete(Case).where(Case.source == job)).rowcount
