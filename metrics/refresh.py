"""The metric refresh: compute every indicator for every grain and slice, suppress small
numbers, and replace the stored cells in one transaction with their lineage."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, update

from metrics.casedata import CaseData, load_case_data
from metrics.catalogue import CATALOGUE, MetricDefinition
from metrics.cells import CELL_COLUMNS, finish
from metrics.cells import dims_key as dims_key_of
from metrics.config import Settings
from metrics.store.models import EtlRun, MetricCell, RefreshRun

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RefreshSummary:
    run_id: int
    as_of: dt.datetime
    cases: int
    cells: int
    seconds: float


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
    cells = pd.concat(frames, ignore_index=True)
    # Stored as computed: small numbers are suppressed where cells are read (metrics.query),
    # so every reader gets the same protection from one place.
    cells["suppressed"] = False
    return cells


def refresh(
    settings: Settings, engine: Engine, metric_ids: list[str] | None = None, progress: Progress | None = None
) -> RefreshSummary:
    say = progress or (lambda _msg: None)
    metrics = [CATALOGUE[m] for m in metric_ids] if metric_ids else list(CATALOGUE.values())
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        last_etl = conn.execute(select(func.max(EtlRun.id)).where(EtlRun.status == "succeeded")).scalar()
        run_id = conn.execute(
            insert(RefreshRun).values(started_at=now, status="running", last_etl_run_id=last_etl)
        ).inserted_primary_key[0]
    try:
        say("reading cases")
        data = load_case_data(settings, engine)
        say(f"computing {len(metrics)} indicators over {len(data.cases):,} cases")
        cells = compute_cells(data, metrics)
        rows = to_rows(cells, data.as_of.to_pydatetime(), run_id)
        say(f"writing {len(rows):,} cells")
        with engine.begin() as conn:
            for m in metrics:
                conn.execute(
                    delete(MetricCell).where((MetricCell.metric == m.id) & (MetricCell.definition_version == m.version))
                )
            for chunk in range(0, len(rows), 20_000):
                conn.execute(insert(MetricCell), rows[chunk : chunk + 20_000])
            conn.execute(
                update(RefreshRun)
                .where(RefreshRun.id == run_id)
                .values(
                    finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    status="succeeded",
                    as_of=data.as_of.to_pydatetime(),
                    cases=len(data.cases),
                    cells=len(rows),
                )
            )
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(RefreshRun)
                .where(RefreshRun.id == run_id)
                .values(
                    finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
        raise
    return RefreshSummary(run_id, data.as_of.to_pydatetime(), len(data.cases), len(rows), time.perf_counter() - started)


def to_rows(cells: pd.DataFrame, as_of: dt.datetime, run_id: int) -> list[dict]:
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
    # Column lists zipped into dicts: DataFrame.to_dict boxes every value one by one, which
    # cost as much as the insert itself once combined slices doubled the cells.
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
