"""Running an ETL job: extract, map, validate, load, record; batch by batch, all or nothing.

A source yields batches (etl.batches): a file, a page window of an API, a slice of a CRM
table. Each batch loads in one transaction together with the source's new state (its
high-water mark, or the file's name and checksum), so a failure or a crash at any moment
leaves the store at a batch boundary, and the next run goes on from there without loading
anything twice. The run itself is recorded before and after, in transactions of its own,
so a failed run is still listed with its error; a run left 'running' by a killed process
is marked 'interrupted' when the job runs next.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from etl.batches import Batch
from etl.errors import TerminalError, UnknownJob
from etl.files import CaseFileParts, file_batches
from etl.mapping import map_cases
from etl.privacy import key_fingerprint, pseudonym_key
from etl.reference import map_reference
from metrics.config import CaseMapping, CasesCsvSource, LookupCsvSource, ReferenceCsvSource, Settings
from metrics.incremental import slice_signatures
from metrics.store.bulk import insert_frame
from metrics.store.indexes import built_after
from metrics.store.models import (
    AnnotationRow,
    CalendarDay,
    Case,
    CaseChange,
    CaseGroup,
    EligiblePopulation,
    EtlRun,
    LoadedFile,
    Population,
    QuarantinedRow,
    SourceState,
    TargetRow,
)

Progress = Callable[[str], None]
CHUNK = 100_000
# Stay under every database's limit on bound parameters in one IN (...) list.
IN_CHUNK = 900


@dataclass
class RunSummary:
    run_id: int
    job: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_new: int = 0
    rows_changed: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    sha256s: list[str | None] = field(default_factory=list)

    def add(self, counts: tuple[int, int, int, int, int]) -> None:
        read, loaded, new, changed, quarantined = counts
        if read != loaded + quarantined:  # the promise of every batch; never expected to fail
            raise TerminalError(f"{self.job}: rows read {read} != loaded {loaded} + quarantined {quarantined}")
        self.rows_read += read
        self.rows_loaded += loaded
        self.rows_new += new
        self.rows_changed += changed
        self.rows_quarantined += quarantined

    def line(self) -> str:
        text = (
            f"{self.job}: read {self.rows_read:,} = loaded {self.rows_loaded:,} "
            f"(new {self.rows_new:,}, changed {self.rows_changed:,}, unchanged "
            f"{self.rows_loaded - self.rows_new - self.rows_changed:,}) + quarantined "
            f"{self.rows_quarantined:,} in {self.seconds:.1f} s"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) already loaded, skipped"
        return text


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_job(
    settings: Settings, engine: Engine, job: str, progress: Progress | None = None, reload: bool = False
) -> RunSummary:
    """Load every batch the source has that is not loaded yet. `reload` loads files again
    even where the same name and checksum were loaded before."""
    say = progress or (lambda _msg: None)
    if job not in settings.etl.sources:
        raise UnknownJob(f"no ETL source named {job!r}; config.yaml defines {sorted(settings.etl.sources)}")
    src = settings.etl.sources[job]
    started = time.perf_counter()
    with engine.begin() as conn:
        # This job cannot be running now (the worker holds a lease per job; the CLI runs in
        # the foreground): a 'running' record of it is a process that was killed.
        conn.execute(
            update(EtlRun)
            .where(EtlRun.job == job, EtlRun.status == "running")
            .values(status="interrupted", error="the process stopped before the run ended; loaded batches are kept")
        )
        run_id = conn.execute(
            insert(EtlRun).values(
                job=job, kind=src.kind, started_at=now(), status="running", file=describe(settings, src)
            )
        ).inserted_primary_key[0]
    summary = RunSummary(run_id, job)
    try:
        # Checked before anything is read: cases with citizen ids load only with their key.
        key = pseudonym_key(job, src) if isinstance(src, CaseMapping) else None
        pseudonyms = key_fingerprint(key)
        if isinstance(src, CasesCsvSource) and _pseudonym_key_changed(engine, job, pseudonyms):
            say(f"{job}: the pseudonym key changed since its files were loaded; reading every file again")
            _forget_files(engine, job, pseudonyms, run_id)
        for batch in batches(settings, engine, job, src, say, reload, summary, pseudonyms):
            size = "in parts" if isinstance(batch.rows, CaseFileParts) else f"{len(batch.rows):,} rows"
            say(f"{job}: {batch.label}: mapping and validating {size}")
            if isinstance(src, CaseMapping):
                counts = _load_cases(settings, engine, job, src, batch, run_id, say, key)
            elif isinstance(src, LookupCsvSource):
                counts = _load_lookup(engine, job, src, batch, run_id)
            else:
                counts = _load_reference(settings, engine, job, src, batch, run_id)
            summary.add(counts)
            summary.sha256s.append(batch.sha256)
        with engine.begin() as conn:
            conn.execute(
                update(EtlRun)
                .where(EtlRun.id == run_id)
                .values(
                    status="succeeded",
                    finished_at=now(),
                    # One file read: its checksum; several files are listed in loaded_files.
                    file_sha256=summary.sha256s[0] if len(summary.sha256s) == 1 else None,
                    rows_read=summary.rows_read,
                    rows_loaded=summary.rows_loaded,
                    rows_new=summary.rows_new,
                    rows_changed=summary.rows_changed,
                    rows_quarantined=summary.rows_quarantined,
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
                    rows_read=summary.rows_read,
                    rows_loaded=summary.rows_loaded,
                    rows_new=summary.rows_new,
                    rows_changed=summary.rows_changed,
                    rows_quarantined=summary.rows_quarantined,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
        raise
    summary.seconds = time.perf_counter() - started
    return summary


def describe(settings: Settings, src: object) -> str:
    """Where a source reads from, for the run log (never with a password)."""
    if hasattr(src, "path"):
        return str(settings.resolve(src.path))  # type: ignore[attr-defined]
    if hasattr(src, "endpoint"):
        from etl.open311 import redact

        return redact(src.endpoint)  # type: ignore[attr-defined]
    from sqlalchemy.engine import make_url

    return make_url(src.url).render_as_string(hide_password=True)  # type: ignore[attr-defined]


def batches(
    settings: Settings,
    engine: Engine,
    job: str,
    src: object,
    say: Progress,
    reload: bool,
    summary: RunSummary,
    pseudonyms: str | None = None,
) -> Iterator[Batch]:
    if isinstance(src, CasesCsvSource | ReferenceCsvSource | LookupCsvSource):
        loaded = set() if reload else loaded_files(engine, job)
        for batch in file_batches(settings, src, loaded, say, summary.skipped):
            # Each file lands with the fingerprint of the key its pseudonyms were made with.
            state = {"pseudonyms": pseudonyms} if pseudonyms is not None else {}
            yield Batch(batch.label, batch.rows, state, batch.sha256)
        return
    from etl.sources import remote_batches

    yield from remote_batches(settings, job, src, stored_state(engine, job), say, pseudonyms)


def _pseudonym_key_changed(engine: Engine, job: str, pseudonyms: str | None) -> bool:
    """Whether a file source's cases were loaded under another key (or before citizen ids
    were pseudonymised): then its files are all read again, or old and new cases of one
    person would carry different pseudonyms."""
    if pseudonyms is None:
        return False
    return stored_state(engine, job).get("pseudonyms") != pseudonyms and bool(loaded_files(engine, job))


def _forget_files(engine: Engine, job: str, pseudonyms: str, run_id: int) -> None:
    """Forget which files were loaded and remember the new key: every file is then loaded
    again, and a run cut short goes on with the files not yet loaded under this key."""
    with engine.begin() as conn:
        conn.execute(delete(LoadedFile).where(LoadedFile.job == job))
        _store_state(conn, job, {"pseudonyms": pseudonyms}, run_id)


def stored_state(engine: Engine, job: str) -> dict:
    with engine.connect() as conn:
        text = conn.execute(select(SourceState.state).where(SourceState.job == job)).scalar()
    return json.loads(text) if text else {}


def loaded_files(engine: Engine, job: str) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(LoadedFile.name, LoadedFile.sha256).where(LoadedFile.job == job)).all()
    return {(r.name, r.sha256) for r in rows}


def _commit_position(conn: Connection, job: str, batch: Batch, run_id: int, rows: int) -> None:
    """The source's position moves in the same transaction as the batch's rows."""
    if batch.sha256 is not None:
        conn.execute(delete(LoadedFile).where(LoadedFile.job == job, LoadedFile.name == batch.label))
        conn.execute(
            insert(LoadedFile).values(
                job=job, name=batch.label, sha256=batch.sha256, etl_run_id=run_id, loaded_at=now(), rows=rows
            )
        )
    if batch.state:
        _store_state(conn, job, batch.state, run_id)


def _store_state(conn: Connection, job: str, state: dict, run_id: int) -> None:
    conn.execute(delete(SourceState).where(SourceState.job == job))
    conn.execute(insert(SourceState).values(job=job, state=json.dumps(state), etl_run_id=run_id, updated_at=now()))


def _load_cases(
    settings: Settings,
    engine: Engine,
    job: str,
    src: CaseMapping,
    batch: Batch,
    run_id: int,
    say: Progress,
    key: bytes | None = None,
) -> tuple[int, int, int, int, int]:
    """A batch of cases in one transaction: a data frame, or a large file's parts
    (etl.files.CaseFileParts) mapped and written one after the other."""
    parts = batch.rows if isinstance(batch.rows, CaseFileParts) else [(batch.rows, None)]
    totals = [0, 0, 0, 0, 0]
    with engine.begin() as conn:
        # What the source had before this batch: a later part's cases are never among what
        # the earlier parts wrote (a repeated id is quarantined), so a first load looks up nothing.
        stored = conn.execute(select(func.count()).select_from(Case).where(Case.source == job)).scalar() or 0
        with built_after(conn, (Case.__tablename__, CaseGroup.__tablename__)) as deferred:
            for raw, repeated in parts:
                # Written by earlier parts (new + changed): the change list's limit is per batch.
                before = totals[2] + totals[3]
                counts = _load_part(
                    settings, conn, job, src, batch.label, raw, repeated, run_id, say, key, stored, before
                )
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
                if isinstance(batch.rows, CaseFileParts):
                    say(f"{job}: {batch.label}: {totals[0]:,} rows read, {totals[1]:,} loaded")
            if deferred:
                say(f"{job}: building the indexes {', '.join(deferred)}")
        _commit_position(conn, job, batch, run_id, totals[0])
    return totals[0], totals[1], totals[2], totals[3], totals[4]


def _load_part(
    settings: Settings,
    conn: Connection,
    job: str,
    src: CaseMapping,
    label: str,
    raw: pd.DataFrame,
    repeated: np.ndarray | None,
    run_id: int,
    say: Progress,
    key: bytes | None,
    stored: int,
    written_before: int = 0,
) -> tuple[int, int, int, int, int]:
    mapped = map_cases(raw, job, src, settings, key, repeated)
    cases = mapped.cases
    old_hash = cases["case_key"].map(_stored_hashes(conn, job, cases["case_key"], stored))
    is_new = old_hash.isna()
    changed = ~is_new & (old_hash != cases["row_hash"])
    write = cases[is_new | changed]
    changed_keys = cases.loc[changed, "case_key"].tolist()
    _list_changes(conn, run_id, write["case_key"].tolist(), changed_keys, written_before)
    for i in range(0, len(changed_keys), IN_CHUNK):
        part = changed_keys[i : i + IN_CHUNK]
        conn.execute(delete(CaseGroup).where(CaseGroup.case_key.in_(part)))
        conn.execute(delete(Case).where(Case.case_key.in_(part)))
    rows = write.assign(etl_run_id=run_id)
    groups = mapped.groups[mapped.groups["case_key"].isin(set(write["case_key"]))]
    total = len(rows) + len(groups)
    done = 0
    for table, frame in ((Case, rows), (CaseGroup, groups)):
        for i in range(0, len(frame), CHUNK):
            done += insert_frame(conn, table.__table__, frame.iloc[i : i + CHUNK])
            say(f"{job}: writing {done:,}/{total:,} rows ({done * 100 // max(total, 1)}%)")
    _quarantine(conn, mapped.quarantined, job, run_id, label)
    return len(raw), len(cases), int(is_new.sum()), int(changed.sum()), len(mapped.quarantined)


def _stored_hashes(conn: Connection, job: str, keys: pd.Series, stored: int) -> pd.Series:
    """The stored digest of each of `keys` the store has (indexed by case key), `stored`
    being how many cases the source had. A day's delta looks its keys up by primary key, so
    its cost follows the delta, not the history; a batch about as large as what the source
    already has reads the source's digests whole, one scan instead of many lookups."""
    if stored == 0:
        return pd.Series([], dtype=object)
    if stored <= 20 * len(keys):
        query = select(Case.case_key, Case.row_hash).where(Case.source == job)
        found = conn.execute(query).all()
    else:
        wanted = keys.tolist()
        found = []
        for i in range(0, len(wanted), IN_CHUNK):
            found += conn.execute(
                select(Case.case_key, Case.row_hash).where(Case.case_key.in_(wanted[i : i + IN_CHUNK]))
            ).all()
    return pd.Series([r[1] for r in found], index=[r[0] for r in found], dtype=object)


# Beyond this many cases written in one batch (a first load, a reload) listing them costs
# more than it saves: the next refresh is a full one.
MAX_LISTED_CHANGES = 50_000


def _list_changes(
    conn: Connection, run_id: int, written: list[str], changed: list[str], written_before: int = 0
) -> None:
    """Record the cases this batch writes, with the version each changed one replaces, in
    the same transaction as the cases (metrics.incremental reads them). `written_before`:
    cases earlier parts of the same batch wrote; past the limit, one row says so, once."""
    if not written:
        return
    total = written_before + len(written)
    if total > MAX_LISTED_CHANGES:
        if written_before <= MAX_LISTED_CHANGES:  # the part that crosses the limit
            reason = f"more than {MAX_LISTED_CHANGES:,} cases written in one batch"
            conn.execute(insert(CaseChange).values(etl_run_id=run_id, reason=reason))
        return
    old: dict[str, dict] = {}
    cols = (Case.case_key, Case.opened_at, Case.closed_at, Case.first_response_at, Case.service, Case.citizen_key)
    for i in range(0, len(changed), IN_CHUNK):
        for row in conn.execute(select(*cols).where(Case.case_key.in_(changed[i : i + IN_CHUNK]))):
            old[row.case_key] = {
                "old_opened_at": row.opened_at,
                "old_closed_at": row.closed_at,
                "old_first_response_at": row.first_response_at,
                "old_service": row.service,
                "old_citizen_key": row.citizen_key,
            }
    for key, sig in slice_signatures(conn, changed).items():
        old[key]["old_slice"] = sig
    blank = dict.fromkeys(
        ("old_opened_at", "old_closed_at", "old_first_response_at", "old_service", "old_citizen_key", "old_slice")
    )
    records = [{"etl_run_id": run_id, "case_key": k, "reason": None, **old.get(k, blank)} for k in written]
    for i in range(0, len(records), CHUNK):
        conn.execute(insert(CaseChange), records[i : i + CHUNK])


def _load_reference(
    settings: Settings, engine: Engine, job: str, src: ReferenceCsvSource, batch: Batch, run_id: int
) -> tuple[int, int, int, int, int]:
    raw = batch.rows
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
        _quarantine(conn, quarantined, job, run_id, batch.label)
        _commit_position(conn, job, batch, run_id, len(raw))
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
        a, b = merged[col], merged[f"{col}_before"]
        # Counts come back from the store as floats where a column has nulls: compare numbers
        # as numbers, text as text; two nulls are the same figure.
        na, nb = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        same = (na == nb) | (a.isna() & b.isna()) | (na.isna() & nb.isna() & (a.astype(str) == b.astype(str)))
        differs |= ~same
    return int(is_new.sum()), int((differs & ~is_new).sum())


def _load_lookup(
    engine: Engine, job: str, src: LookupCsvSource, batch: Batch, run_id: int
) -> tuple[int, int, int, int, int]:
    """A targets, holidays or events table replaces what this source loaded before; a key
    another source also gives takes this (newer) table's row."""
    from etl.lookups import map_lookup

    model = {"targets_csv": TargetRow, "holidays_csv": CalendarDay, "annotations_csv": AnnotationRow}[src.kind]
    rows, quarantined = map_lookup(batch.rows, src)
    key = [c.name for c in model.__table__.primary_key.columns]
    with engine.begin() as conn:
        before = pd.read_sql(select(model.__table__).where(model.job == job), conn)
        conn.execute(delete(model).where(model.job == job))
        for values in rows[key].to_dict("records"):
            conn.execute(delete(model).where(*(getattr(model, k) == v for k, v in values.items())))
        records = _records(rows.assign(job=job, etl_run_id=run_id))
        if records:
            conn.execute(insert(model), records)
        _quarantine(conn, quarantined, job, run_id, batch.label)
        _commit_position(conn, job, batch, run_id, len(batch.rows))
    old = before.drop(columns=["job", "etl_run_id"])
    if "day" in old:
        old["day"] = pd.to_datetime(old["day"]).dt.date
    new, changed = _compare(rows, old, key)
    return len(batch.rows), len(rows), new, changed, len(quarantined)


def _quarantine(conn: Connection, q: pd.DataFrame, job: str, run_id: int, batch: str) -> None:
    if q.empty:
        return
    conn.execute(
        insert(QuarantinedRow),
        [
            {"etl_run_id": run_id, "job": job, "row_number": int(r), "reason": reason, "raw": raw, "batch": batch}
            for r, reason, raw in zip(q["_row"], q["reason"], q["raw"], strict=True)
        ],
    )


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, with None for every kind of missing."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


def run_jobs(
    settings: Settings,
    engine: Engine,
    jobs: list[str] | None,
    progress: Progress | None = None,
    reload: bool = False,
) -> list[RunSummary]:
    """Run the named jobs, or every source, reference tables first."""
    sources = settings.etl.sources
    # Reference tables first: a refresh after a failed case load still has them.
    names = jobs or sorted(sources, key=lambda n: isinstance(sources[n], CaseMapping))
    return [run_job(settings, engine, name, progress, reload) for name in names]


def forget_source(engine: Engine, job: str) -> int:
    """Delete every case a source loaded and what it remembers of its position (the demo
    starts afresh); returns how many cases."""
    keys = select(Case.case_key).where(Case.source == job)
    with engine.begin() as conn:
        conn.execute(insert(CaseChange).values(etl_run_id=0, reason=f"cases of {job} deleted"))
        conn.execute(delete(CaseGroup).where(CaseGroup.case_key.in_(keys)))
        conn.execute(delete(LoadedFile).where(LoadedFile.job == job))
        conn.execute(delete(SourceState).where(SourceState.job == job))
        return conn.execute(delete(Case).where(Case.source == job)).rowcount
