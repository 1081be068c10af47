"""The one read path over metric cells: the dashboard, exports and reports all use it.

It reads metric cells, never a case's values, so every reader is fast and can leak no
person's record, and everyone sees the same numbers. Small numbers are suppressed here, over
the whole family of tables related to the one read (metrics.suppression): the store keeps
every cell as computed, a change of `min_cell_size` needs no recompute, and every reader
gets the same protection. Then the reader's scope applies (`metrics.access`): a programme
manager logged in to the dashboard gets only the cells of their own services and departments,
whatever a request asks for. The one thing read beside the cells is structure: which
department each service belongs to (distinct pairs of the cases table), because a
department's figures add up from its services'.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Integer, String, and_, case, func, or_, select, type_coerce

from metrics import access
from metrics.catalogue import CATALOGUE
from metrics.comparisons import comparable, compare_with_reference, vs_reference_record
from metrics.control import BeforeAfter, Limits, before_after, signals, xmr_limits
from metrics.store.models import Case, MetricCell, Publication, PublishedFigure, RefreshRun
from metrics.suppression import Decision, Nesting, apply, decide, family

COLUMNS = [
    "metric",
    "definition_version",
    "grain",
    "period",
    "dim_names",
    "dims_key",
    "across",
    "value",
    "n",
    "numerator",
    "denominator",
    "ci_low",
    "ci_high",
    "suppressed",
    "note",
    "as_of",
    "refresh_run_id",
]


# The export contract's fields, in order (METRICS.md); `across` and `note` only where set.
EXPORT_FIELDS = (
    "metric", "period", "grain", "dims", "value", "n", "numerator", "denominator", "ci_low", "ci_high",
    "suppressed", "note", "as_of", "definition_version",
)  # fmt: skip


ACROSS_IDS = sorted(m.id for m in CATALOGUE.values() if m.is_across)


class QueryError(ValueError):
    pass


def dim_names(by: tuple[str, ...] | list[str]) -> str:
    return ",".join(sorted(by))


def parse_dims(dims_key: str) -> dict[str, str]:
    if not dims_key:
        return {}
    return dict(part.split("=", 1) for part in dims_key.split("|"))


def read_cells(
    engine: Engine,
    metric: str,
    by: tuple[str, ...] | list[str] = (),
    grain: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    values: dict[str, list[str]] | None = None,
    *,
    min_cell_size: int,
    across: str = "",
    scope: access.Scope | None = None,
) -> pd.DataFrame:
    """Cells of one indicator (its newest definition version) for one breakdown, with small
    numbers suppressed (primary and secondary, see metrics.suppression), of the slices that
    `scope` (default: the reader's, `metrics.access.current()`) admits.

    Which cells to hide is decided once per store state, family of related indicators and
    `min_cell_size` over every grain, breakdown and related indicator (`suppression_decision`)
    and applied to the table read, so a figure hidden in one table cannot be recovered from
    another. `start`, `end` and `values` filter after suppression, so a filtered view hides
    what the whole view hides.
    """
    if metric not in CATALOGUE:
        raise QueryError(f"unknown indicator {metric!r}; expected one of {sorted(CATALOGUE)}")
    version = CATALOGUE[metric].version
    t = MetricCell.__table__
    q = select(*(t.c[c] for c in COLUMNS)).where(
        t.c.metric == metric,
        t.c.definition_version == version,
        t.c.grain == grain,
        t.c.dim_names == dim_names(by),
        t.c.across == across,
    )
    if start is not None:
        q = q.where(t.c.period >= start)
    if end is not None:
        q = q.where(t.c.period <= end)
    q = q.order_by(t.c.period, t.c.dims_key)
    with engine.connect() as conn:
        df = pd.read_sql(q, conn)
    df["period"] = pd.to_datetime(df["period"]).dt.date
    df = apply(df, suppression_decision(engine, metric, min_cell_size).pattern(df), min_cell_size)
    df["dims"] = df["dims_key"].map(parse_dims)
    if values:
        for dim, allowed in values.items():
            if dim in by and allowed:
                df = df[df["dims"].map(lambda d, dim=dim, allowed=allowed: d.get(dim) in allowed).astype(bool)]
    return access.restrict(df, scope).reset_index(drop=True)


def read_period(
    engine: Engine, period: dt.date, grain: str = "month", *, min_cell_size: int, scope: access.Scope | None = None
) -> pd.DataFrame:  # fmt: skip
    """Every cell of one period (every indicator at its newest definition version, every
    breakdown and index across categories), suppressed as `read_cells` suppresses each of its
    tables, of the slices `scope` (default: the reader's) admits: what the export of every
    table for that period gives, in one read (a publication's snapshot, `metrics.publish`).
    Each family of indicators gets its hidden cells from the same decision `read_cells` takes
    them from; suppression decides cell by cell from it, so reading the tables together
    hides exactly what reading them one by one hides."""
    t = MetricCell.__table__
    current = or_(*(and_(t.c.metric == m, t.c.definition_version == d.version) for m, d in CATALOGUE.items()))
    q = select(*(t.c[c] for c in COLUMNS)).where(current, t.c.grain == grain, t.c.period == period)
    with engine.connect() as conn:
        df = pd.read_sql(q.order_by(t.c.metric, t.c.dim_names, t.c.across, t.c.dims_key), conn)
    df["period"] = pd.to_datetime(df["period"]).dt.date
    parts = []
    for members in dict.fromkeys(family(m) for m in df["metric"].unique()):
        part = df[df["metric"].isin(members)].reset_index(drop=True)
        decision = _decision(engine, members, min_cell_size, store_state(engine))
        parts.append(apply(part, decision.pattern(part), min_cell_size))
    df = pd.concat(parts, ignore_index=True) if parts else df.iloc[0:0]
    df["dims"] = df["dims_key"].map(parse_dims)
    return access.restrict(df, scope).reset_index(drop=True)


def suppression_decision(engine: Engine, metric: str, min_cell_size: int) -> Decision:
    """The hidden counts of `metric`'s family in the store as it is now (cached until the
    store changes: a new refresh run or new cells)."""
    return _decision(engine, family(metric), min_cell_size, store_state(engine))


def warm(engine: Engine, metrics: list[str] | tuple[str, ...], min_cell_size: int) -> None:
    """Work out the suppression of these indicators' families now (a second or so for the
    largest), so the first person to open the dashboard does not wait for it."""
    for members in dict.fromkeys(family(m) for m in metrics):
        _decision(engine, members, min_cell_size, store_state(engine))


def store_state(engine: Engine) -> tuple[int | None, int | None]:
    """What identifies the store's cells: the newest successful refresh run and the newest
    cell id (a refresh replaces cells by inserting new rows, so a change moves the latter
    even when cells are written without a refresh run, as tests do)."""
    with engine.connect() as conn:
        run = conn.execute(select(func.max(RefreshRun.id)).where(RefreshRun.status == "succeeded")).scalar()
        cell = conn.execute(select(func.max(MetricCell.id))).scalar()
    return run, cell


@lru_cache(maxsize=64)
def _decision(
    engine: Engine, metrics: tuple[str, ...], min_cell_size: int, state: tuple[int | None, int | None]
) -> Decision:
    """`state` only keys the cache."""
    return decide(_family_cells(engine, metrics), min_cell_size, _nesting(engine, state))


def _family_cells(engine: Engine, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Every stored cell of `metrics` (current versions), with what the decision reads: the
    value only of the indicators others are computed across (it tells which categories they
    used), and period and flag as stored (no conversion per row: this is the largest read
    the dashboard makes, up to a second for 90,000 cells)."""
    t = MetricCell.__table__
    current = or_(*(and_(t.c.metric == m, t.c.definition_version == CATALOGUE[m].version) for m in metrics))
    required = sorted({CATALOGUE[m].requires[0] for m in metrics if CATALOGUE[m].is_across})
    cols = (
        t.c.metric, t.c.grain, type_coerce(t.c.period, String), t.c.dims_key, t.c.across,
        case((t.c.metric.in_(required), t.c.value), else_=None), t.c.n, type_coerce(t.c.suppressed, Integer),
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(current)).all()
    names = ["metric", "grain", "period", "dims_key", "across", "value", "n", "suppressed"]
    return pd.DataFrame(rows, columns=names).astype({"value": float, "n": float})


@lru_cache(maxsize=8)
def _nesting(engine: Engine, state: tuple[int | None, int | None]) -> Nesting:
    return nesting(engine)


def nesting(engine: Engine) -> Nesting:
    """Services nested in departments: each service whose cases all belong to one department.
    A service split between departments nests in none (its cases then split the departments)."""
    with engine.connect() as conn:
        pairs = conn.execute(select(Case.service, Case.department).distinct()).all()
    departments: dict[str, set[str]] = {}
    for service, department in pairs:
        departments.setdefault(service, set()).add(department)
    return {("service", "department"): {s: next(iter(d)) for s, d in departments.items() if len(d) == 1}}


def breakdowns(engine: Engine, metric: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(MetricCell.dim_names).where(MetricCell.metric == metric).distinct()).scalars().all()
    return sorted(rows)


def tables(engine: Engine) -> list[tuple[str, str, tuple[str, ...], str]]:
    """Every table of cells the store holds for the catalogue's current definitions:
    (metric, grain, breakdown, across)."""
    t = MetricCell.__table__
    q = select(t.c.metric, t.c.grain, t.c.dim_names, t.c.across, t.c.definition_version).distinct()
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return sorted(
        (m, g, tuple(d.split(",")) if d else (), a)
        for m, g, d, a, v in rows
        if m in CATALOGUE and CATALOGUE[m].version == v
    )


def latest_refresh(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(RefreshRun.__table__)
                .where(RefreshRun.status == "succeeded")
                .order_by(RefreshRun.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return None if row is None else dict(row)


def periods(engine: Engine, grain: str = "month") -> list[dt.date]:
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(MetricCell.period)
                .where(MetricCell.metric == "cases_opened", MetricCell.grain == grain, MetricCell.dim_names == "")
                .distinct()
                .order_by(MetricCell.period)
            )
            .scalars()
            .all()
        )
    return [pd.Timestamp(r).date() for r in rows]


def _num(x: Any) -> float | int | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    # Counts stored as floats read back as whole numbers.
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Cells in the export contract's shape (METRICS.md)."""
    out = []
    compared = "reference" in df.columns
    for r in df.itertuples(index=False):
        n = _num(r.n)
        rec: dict[str, Any] = {
            "metric": r.metric,
            "period": r.period.isoformat(),
            "grain": r.grain,
            "dims": r.dims,
            "value": _num(r.value),
            "n": None if n is None else int(n),
            "numerator": _num(r.numerator),
            "denominator": _num(r.denominator),
            "ci_low": _num(r.ci_low),
            "ci_high": _num(r.ci_high),
            "suppressed": bool(r.suppressed),
            "as_of": pd.Timestamp(r.as_of).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "definition_version": int(r.definition_version),
        }
        if r.across:
            rec["across"] = r.across
        if isinstance(r.note, str) and r.note:
            rec["note"] = r.note
        if compared:
            rec["vs_reference"] = vs_reference_record(r)
        out.append(rec)
    return out


def records_csv(records: list[dict]) -> str:
    """The export as CSV: one column per dimension in place of `dims`."""
    fields = list(EXPORT_FIELDS)
    dims = sorted({d for r in records for d in r["dims"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*fields[:3], *dims, *fields[4:]])
    for r in records:
        row = [r["metric"], r["period"], r["grain"], *[r["dims"].get(d, "") for d in dims]]
        row += ["" if r.get(f) is None else r.get(f) for f in fields[4:]]
        w.writerow(row)
    return buf.getvalue().rstrip("\n")


def export_records(
    engine: Engine,
    metric: str,
    by: tuple[str, ...] = (),
    grain: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    min_cell_size: int,
    across: str | None = None,
    references: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Records in the export contract; an indicator computed across the categories of a
    dimension runs across `across` (default region). Broken down by one population-group
    attribute with a reference group in `references`, each record also carries
    `vs_reference`: ratio and difference against the reference group with 95% intervals."""
    definition = CATALOGUE.get(metric)
    if definition is not None and definition.is_across:
        across = across or "region"
    elif across:
        raise QueryError(f"{metric} is not computed across categories; --across applies to {ACROSS_IDS}")
    df = read_cells(engine, metric, by, grain, start, end, min_cell_size=min_cell_size, across=across or "")
    if df.empty and across:
        with engine.connect() as conn:
            known_across = sorted(
                conn.execute(select(MetricCell.across).where(MetricCell.metric == metric).distinct()).scalars()
            )
        if known_across and across not in known_across:
            raise QueryError(f"{metric} is not computed across {across}; it is across {known_across}")
    if df.empty:
        known = breakdowns(engine, metric)
        # An indicator with no cells at all has no data (e.g. no ratings): an empty export.
        if known and dim_names(by) not in known:
            shown = [k or "(whole population)" for k in known]
            raise QueryError(
                f"{metric} is not computed by {dim_names(by) or '(whole population)'}; "
                f"breakdowns in the store: {shown or 'none (run civic-metrics metrics refresh)'}"
            )
    if definition is not None and len(by) == 1 and by[0] in (references or {}) and comparable(definition.unit):
        df = compare_with_reference(df, by[0], references[by[0]], definition.unit)  # type: ignore[index]
    return to_records(df)


def series(
    engine: Engine, metric: str, grain: str = "month", dim: str | None = None, value: str | None = None, *,
    min_cell_size: int,
) -> pd.DataFrame:  # fmt: skip
    """One slice's series, suppressed, one row per period in order."""
    by = (dim,) if dim else ()
    df = read_cells(engine, metric, by, grain, min_cell_size=min_cell_size,
                    values={dim: [value]} if dim and value else None)  # fmt: skip
    if dim and not value:
        raise QueryError(f"name the {dim} whose series you want")
    return df.sort_values("period").reset_index(drop=True)


def control_chart(
    engine: Engine, metric: str, grain: str = "month", dim: str | None = None, value: str | None = None, *,
    baseline: int, min_cell_size: int,
) -> tuple[pd.DataFrame, Limits | None]:  # fmt: skip
    """The series with XmR limits from its first `baseline` known points and the run-rule
    signals of each point (suppressed points are gaps)."""
    df = series(engine, metric, grain, dim, value, min_cell_size=min_cell_size)
    limits = xmr_limits(df["value"].to_numpy(dtype=float), baseline)
    df["signals"] = signals(df["value"].to_numpy(dtype=float), limits) if limits else [[] for _ in range(len(df))]
    return df, limits


def compare_before_after(
    engine: Engine, metric: str, event: dt.date, grain: str = "month", dim: str | None = None,
    value: str | None = None, periods: int | None = None, *, min_cell_size: int,
) -> BeforeAfter | None:  # fmt: skip
    """An equal number of periods either side of the period holding `event`."""
    df = series(engine, metric, grain, dim, value, min_cell_size=min_cell_size)
    after = [i for i, p in enumerate(df["period"]) if p >= event]
    if not after:
        raise QueryError(f"no {grain} of {metric} on or after {event}")
    # The period holding the event starts the "after" side.
    index = after[0] - 1 if after[0] > 0 and df["period"].iloc[after[0]] > event else after[0]
    return before_after(df["value"].to_numpy(dtype=float), index, periods)


# --- published figures (frozen monthly sets, see metrics.publish) --------------------------

PUBLICATION_COLUMNS = ("id", "period", "revision", "published_at", "published_by", "note", "as_of",
                       "refresh_run_id", "min_cell_size", "figures", "definitions", "digest")  # fmt: skip


def publications(engine: Engine, period: dt.date | None = None) -> pd.DataFrame:
    """Every publication (of `period`, or of every month), by month then revision."""
    t = Publication.__table__
    q = select(*(t.c[c] for c in PUBLICATION_COLUMNS)).order_by(t.c.period, t.c.revision)
    if period is not None:
        q = q.where(t.c.period == period)
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).all(), columns=list(PUBLICATION_COLUMNS))
    df["period"] = pd.to_datetime(df["period"]).dt.date
    return df


def publication(engine: Engine, period: dt.date, revision: int | None = None) -> dict[str, Any] | None:
    """One revision of a month's publication (default: the latest), or None."""
    df = publications(engine, period)
    if revision is not None:
        df = df[df["revision"] == revision]
    return None if df.empty else df.iloc[-1].to_dict()


def published_cells(
    engine: Engine, period: dt.date, revision: int | None = None, *, scope: access.Scope | None = None
) -> pd.DataFrame:
    """The figures of a month as published (revision `revision`, default the latest), in
    `read_cells`' shape (suppression as it was applied when published), of the slices `scope`
    (default: the reader's) admits. Empty when the month is not published."""
    pub = publication(engine, period, revision)
    columns = [*COLUMNS, "dims", "publication_id", "revision"]
    if pub is None:
        return pd.DataFrame(columns=columns)
    t = PublishedFigure.__table__
    names = [c for c in COLUMNS if c not in ("grain", "period")]
    q = select(*(t.c[c] for c in names)).where(t.c.publication_id == int(pub["id"]))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q.order_by(t.c.metric, t.c.dim_names, t.c.across, t.c.dims_key)).all(),
                          columns=names)  # fmt: skip
    df["suppressed"] = df["suppressed"].astype(bool)
    df["grain"], df["period"] = "month", period
    df["dims"] = df["dims_key"].map(parse_dims)
    df["publication_id"], df["revision"] = int(pub["id"]), int(pub["revision"])
    return access.restrict(df[columns], scope).reset_index(drop=True)
