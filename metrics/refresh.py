"""The metric refresh: compute every indicator for every grain and slice, suppress small
numbers, and replace the stored cells in one transaction with their lineage."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from metrics import incremental
from metrics.casedata import CaseData, load_case_data
from metrics.catalogue import CATALOGUE, MetricDefinition
from metrics.cells import CELL_COLUMNS, finish
from metrics.cells import dims_key as dims_key_of
from metrics.config import Settings
from metrics.store.bulk import insert_frame
from metrics.store.models import Case, CaseChange, EtlRun, MetricCell, RefreshRun, WorkerLock

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RefreshSummary:
    run_id: int
    as_of: dt.datetime
    cases: int
    cells: int
    seconds: float
    mode: str = "full"  # or "incremental"
    # Why a full refresh ran (None when incremental)
    reason: str | None = None
    periods: int | None = None  # (grain, period) pairs recomputed, incremental only


def with_requirements(metrics: list[MetricDefinition]) -> list[MetricDefinition]:
    """The indicators asked for and those their figures are computed from, bases first."""
    ids = {m.id for m in metrics} | {r for m in metrics for r in m.requires}
    return sorted((CATALOGUE[i] for i in ids), key=lambda m: (m.is_across, list(CATALOGUE).index(m.id)))


def compute_cells(data: CaseData, metrics: list[MetricDefinition]) -> pd.DataFrame:
    computed: dict[str, pd.DataFrame] = {}
    for m in with_requirements(metrics):
        df = m.compute(data, computed) if m.is_across else m.compute(data)
        computed[m.id] = finish(df)
    frames = []
    for m in metrics:
        df = computed[m.id]
        if df.empty:
            continue
        df = df.assign(across=df.get("across", "")).loc[:, [*CELL_COLUMNS, "across"]]
        df.insert(0, "metric", m.id)
        df.insert(1, "definition_version", m.version)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["metric", "definition_version", *CELL_COLUMNS, "across", "suppressed"])
    cells = pd.concat(frames, ignore_index=True)
    # Stored as computed: small numbers are suppressed where cells are read (metrics.query),
    # so every reader gets the same protection from one place.
    cells["suppressed"] = False
    return cells


def refresh(
    settings: Settings,
    engine: Engine,
    metric_ids: list[str] | None = None,
    progress: Progress | None = None,
    full: bool = False,
) -> RefreshSummary:
    """Recompute the indicators: only the periods touched by cases loaded since the last
    refresh where that gives the same figures (metrics.incremental), otherwise all of them."""
    say = progress or (lambda _msg: None)
    metrics = [CATALOGUE[m] for m in metric_ids] if metric_ids else list(CATALOGUE.values())
    started = time.perf_counter()
    with engine.begin() as conn:
        last_etl = conn.execute(select(func.max(EtlRun.id)).where(EtlRun.status == "succeeded")).scalar()
        last_run = _latest_run(conn)
        run_id = conn.execute(
            insert(RefreshRun).values(started_at=_now(), status="running", last_etl_run_id=last_etl)
        ).inserted_primary_key[0]
    try:
        reason = "asked for" if full else "only some indicators asked for" if metric_ids else None
        plan = None
        if reason is None:
            found = incremental.plan(settings, engine)
            plan, reason = (None, found) if isinstance(found, str) else (found, None)
        if plan is None:
            say(f"full refresh ({reason})")
            summary = _full(settings, engine, metrics, (run_id, last_run), all_metrics=not metric_ids, say=say)
        else:
            summary = _incremental(plan, engine, metrics, (run_id, last_run), say)
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(RefreshRun)
                .where(RefreshRun.id == run_id)
                .values(finished_at=_now(), status="failed", error=f"{type(exc).__name__}: {exc}")
            )
        raise
    return RefreshSummary(**{**summary, "run_id": run_id, "seconds": time.perf_counter() - started, "reason": reason})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _full(
    settings: Settings,
    engine: Engine,
    metrics: list[MetricDefinition],
    runs: tuple[int, int | None],
    all_metrics: bool,
    say: Progress,
) -> dict:
    run_id = runs[0]
    # Listed before the cases are read: a change committed later stays for the next refresh.
    seen_changes = incremental.change_ids(engine)
    say("reading cases")
    data = load_case_data(settings, engine)
    say(f"computing {len(metrics)} indicators over {len(data.cases):,} cases")
    cells = compute_cells(data, metrics)
    rows = cell_frame(cells, data.as_of.to_pydatetime(), run_id)
    # Only a refresh of every indicator is a basis later refreshes can build on.
    first = data.cases["opened_at"].min() if len(data.cases) else None
    basis = incremental.basis_of(data.settings, data.populations, data.eligible, first) if all_metrics else None
    say(f"writing {len(rows):,} cells")
    with engine.begin() as conn:
        _claim(conn, runs)
        for m in metrics:
            conn.execute(
                delete(MetricCell).where((MetricCell.metric == m.id) & (MetricCell.definition_version == m.version))
            )
        _insert(conn, rows)
        _finish(conn, run_id, seen_changes, as_of=data.as_of, cases=len(data.cases), cells=len(rows), mode="full",
                basis=basis, periods=None)  # fmt: skip
    return {"as_of": data.as_of.to_pydatetime(), "cases": len(data.cases), "cells": len(rows), "mode": "full"}


def _incremental(
    plan: incremental.Plan, engine: Engine, metrics: list[MetricDefinition], runs: tuple[int, int | None], say: Progress
) -> dict:
    run_id = runs[0]
    say(f"incremental refresh: {len(plan.change_ids):,} changed cases touch {plan.periods():,} periods")
    as_of = plan.as_of.to_pydatetime()
    readers = {
        "cohort": incremental.cohort_cases,
        "stock": incremental.stock_cases,
        "window": incremental.window_cases,
    }
    computed: dict[str, pd.DataFrame] = {}
    for fam, read in readers.items():
        members = [m for m in metrics if incremental.family(m) == fam]
        cases = read(plan, engine)
        say(f"{fam}: computing {len(members)} indicators over {len(cases):,} cases")
        if cases.empty:
            cases = _no_cases(plan, engine)
        if fam == "cohort":
            cells = pd.concat(
                [
                    compute_cells(incremental.data_for(plan, incremental.grain_cases(plan, cases, g), fam, g), members)
                    for g, starts in plan.touched[fam].items()
                    if len(starts)
                ]
                or [compute_cells(incremental.data_for(plan, cases.iloc[:0], fam), members)],
                ignore_index=True,
            )
        else:
            cells = compute_cells(incremental.data_for(plan, cases, fam), members)
        computed[fam] = incremental.keep_touched(cells, plan.touched[fam])
    zeros, gone = incremental.backlog_existence(engine, plan, computed["cohort"], computed["stock"])
    frames = [cell_frame(cells, as_of, run_id) for cells in computed.values()]
    if zeros:
        frames.append(pd.DataFrame([_zero_row(z, as_of, run_id) for z in zeros], columns=ROW_COLUMNS))
    # Written frame by frame: the zero rows' all-missing columns would give a concat's
    # columns another dtype.
    n_rows = sum(len(f) for f in frames)
    with engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(Case).where(Case.opened_at <= as_of)).scalar() or 0
    say(f"writing {n_rows:,} cells")
    with engine.begin() as conn:
        _claim(conn, runs)
        for m in metrics:
            for grain, starts in plan.touched[incremental.family(m)].items():
                days = [pd.Timestamp(s).date() for s in starts]
                for i in range(0, len(days), 500):
                    conn.execute(
                        delete(MetricCell).where(
                            (MetricCell.metric == m.id)
                            & (MetricCell.definition_version == m.version)
                            & (MetricCell.grain == grain)
                            & MetricCell.period.in_(days[i : i + 500])
                        )
                    )
        for g in gone:
            conn.execute(
                delete(MetricCell).where(
                    *(getattr(MetricCell, c) == g[c] for c in ("metric", "definition_version", "grain", "period")),
                    MetricCell.dim_names == g["dim_names"],
                    MetricCell.dims_key == g["dims_key"],
                )
            )
        _insert(conn, *frames)
        # Every kept figure is what a refresh at this as_of computes: stamp it so.
        current = or_(*((MetricCell.metric == m.id) & (MetricCell.definition_version == m.version) for m in metrics))
        conn.execute(update(MetricCell).where(current, MetricCell.as_of != as_of).values(as_of=as_of))
        _finish(conn, run_id, plan.change_ids, as_of=plan.as_of, cases=cases, cells=n_rows, mode="incremental",
                basis=plan.basis, periods=plan.periods())  # fmt: skip
    return {"as_of": as_of, "cases": cases, "cells": n_rows, "mode": "incremental", "periods": plan.periods()}


class RefreshConflict(Exception):
    """Another refresh finished while this one ran: its figures rest on newer data."""


WRITE_LOCK = "(metrics refresh)"


def _latest_run(conn: Connection) -> int | None:
    return conn.execute(select(func.max(RefreshRun.id)).where(RefreshRun.status == "succeeded")).scalar()


def _claim(conn: Connection, runs: tuple[int, int | None]) -> None:
    """Begin writing: take the store's write lock for refreshes (a row that another
    refresh's transaction waits on until this one commits), then make sure no refresh
    finished since this one started. Two refreshes at once (a manual one beside the
    worker's) would otherwise let the older data overwrite the newer, and the changes the
    newer one took in would never be recomputed."""
    run_id, last_run = runs
    t = _now()
    # Never committed: _finish deletes it in the same transaction.
    conn.execute(insert(WorkerLock).values(name=WRITE_LOCK, holder=f"refresh {run_id}", acquired_at=t, expires_at=t))
    latest = _latest_run(conn)
    if latest != last_run:
        raise RefreshConflict(
            f"refresh {latest} finished while this one ran and rests on newer data: this one wrote nothing "
            "(run `civic-metrics metrics refresh` again to take in anything loaded since)"
        )


def _no_cases(plan: incremental.Plan, engine: Engine) -> pd.DataFrame:
    return incremental.read_cases_in(engine, plan.settings, plan.as_of, Case.case_key, [])


def _insert(conn: Connection, *frames: pd.DataFrame) -> None:
    for rows in frames:
        insert_frame(conn, MetricCell.__table__, rows)


def _finish(conn: Connection, run_id: int, change_ids: list[int], as_of: pd.Timestamp, **values: object) -> None:
    """Mark the run done and let go of the changes it took in, in the cells' transaction."""
    conn.execute(delete(WorkerLock).where(WorkerLock.name == WRITE_LOCK))
    for i in range(0, len(change_ids), 500):
        conn.execute(delete(CaseChange).where(CaseChange.id.in_(change_ids[i : i + 500])))
    conn.execute(
        update(RefreshRun)
        .where(RefreshRun.id == run_id)
        .values(finished_at=_now(), status="succeeded", as_of=pd.Timestamp(as_of).to_pydatetime(), **values)
    )


ROW_COLUMNS = [
    "metric", "definition_version", "grain", "period", "dim_names", "dims_key", "across", "suppressed", "note",
    "as_of", "refresh_run_id", "value", "n", "numerator", "denominator", "ci_low", "ci_high",
]  # fmt: skip


def _zero_row(z: dict, as_of: dt.datetime, run_id: int) -> dict:
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(z, suppressed=False, as_of=as_of, refresh_run_id=run_id)
    return row


def cell_frame(cells: pd.DataFrame, as_of: dt.datetime, run_id: int) -> pd.DataFrame:
    """Computed cells as rows of the metric_cells table (ROW_COLUMNS)."""
    df = cells
    dims_key = [dims_key_of(d, str(v)) for d, v in zip(df["dim"], df["dim_value"], strict=True)]
    out = pd.DataFrame(
        {
            "metric": df["metric"],
            "definition_version": df["definition_version"].astype(int),
            "grain": df["grain"],
            "period": pd.to_datetime(df["period"]).dt.date,
            "dim_names": df["dim"],
            "dims_key": dims_key,
            "across": df["across"].fillna("").astype(str),
            "suppressed": df["suppressed"].astype(bool),
            "note": df["note"],
            "as_of": as_of,
            "refresh_run_id": run_id,
        }
    )
    for col in ("value", "n", "numerator", "denominator", "ci_low", "ci_high"):
        out[col] = df[col].astype(float)
    out["n"] = out["n"].round()
    return out.reset_index(drop=True)


def to_rows(cells: pd.DataFrame, as_of: dt.datetime, run_id: int) -> list[dict]:
    """`cell_frame` as dicts of plain values (None where missing), as the store reads back."""
    out = cell_frame(cells, as_of, run_id)
    # Column lists zipped into dicts: DataFrame.to_dict boxes every value one by one.
    columns = []
    for col in out.columns:
        values = out[col].tolist()
        missing = out[col].isna().to_numpy()
        if missing.any():
            values = [None if m else v for v, m in zip(values, missing.tolist(), strict=True)]
        if col == "n":
            values = [None if v is None else int(v) for v in values]
        columns.append(values)
    names = list(out.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
