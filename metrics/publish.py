"""Published figures: a month's figure set frozen as the export gave it, with revisions.

`civic-metrics publish --period YYYY-MM` (`metrics.cli_publish`) snapshots every monthly
figure of the month: every indicator at its current definition version, every breakdown and
every index across categories, exactly as `metrics export` gives it, suppression applied (a
suppressed figure is null with its flag). What a minister announced is what the export
showed; and a cell the store keeps unsuppressed but hides when read must not become
readable by being published.

Publishing again when nothing changed adds nothing. When figures changed since the latest
revision (late or corrected cases, a new definition version, another suppression threshold),
the next revision needs a correction note, and earlier revisions stay as they were: the store
refuses UPDATE and DELETE on both tables (migration 0008). Only the figures count as a
change (value, n, numerator, denominator, interval, suppression, note, definition version): a
later refresh that moves `as_of` or the refresh run but leaves every figure of the month as
it was makes no revision. Every publication, refusal and no-op is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from metrics import access, audit, query
from metrics.store.models import Publication, PublishedFigure

FIGURES = ("value", "n", "numerator", "denominator", "ci_low", "ci_high")
# What makes a figure different from its published self.
COMPARED = (*FIGURES, "suppressed", "definition_version", "note")
KEY = ("metric", "dim_names", "dims_key", "across")
STORED = ("metric", "definition_version", "dim_names", "dims_key", "across", *FIGURES, "suppressed", "note",
          "as_of", "refresh_run_id")  # fmt: skip
# Floating noise is no change (a full refresh may add up in another order).
RTOL, ATOL = 1e-9, 1e-12


class PublishError(ValueError):
    """Nothing was published, for the reason given."""


class NoteRequired(PublishError):
    """The figures changed since the latest revision: a new revision needs a correction note."""

    def __init__(self, latest: dict[str, Any], differences: pd.DataFrame):
        self.latest, self.differences = latest, differences
        super().__init__(
            f"{len(differences):,} figures of {latest['period']:%Y-%m} differ from revision {latest['revision']} "
            f"(published {latest['published_at']:%Y-%m-%d}): revision {latest['revision'] + 1} needs a "
            "correction note saying why (--note TEXT); `civic-metrics publish compare` lists them"
        )


@dataclass(frozen=True)
class Outcome:
    publication: dict[str, Any]  # the latest revision after the call
    created: bool  # False: nothing changed since it, nothing published
    differences: pd.DataFrame  # against the revision before (empty for revision 1 and for no-ops)


def snapshot(engine: Engine, period: dt.date, *, min_cell_size: int) -> pd.DataFrame:
    """Every monthly figure of `period` as `metrics export` gives it now (all slices, no
    reader's scope: `query.read_period`), one row per figure. Read again if a refresh changed
    the store meanwhile, so the set is of one store state."""
    for _attempt in range(3):
        before = query.store_state(engine)
        df = query.read_period(engine, period, "month", min_cell_size=min_cell_size, scope=access.EVERYTHING)
        if query.store_state(engine) == before:
            return df.sort_values(list(KEY)).reset_index(drop=True)
    raise PublishError("the store kept changing while its figures were read (a refresh running?): try again later")


def differences(published: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The figures that differ between two sets (published, current): one row each with its
    slice, `change` (changed, new: only in `current`, gone: only in `published`), the
    `fields` that differ, and `published_*` and `current_*` of every compared field."""
    cols = [*KEY, *COMPARED]
    m = published[cols].merge(current[cols], on=list(KEY), how="outer", suffixes=("_published", "_current"),
                              indicator=True)  # fmt: skip
    differ = {}
    for f in COMPARED:
        a, b = m[f"{f}_published"], m[f"{f}_current"]
        if f == "note":
            differ[f] = a.fillna("").astype(str).to_numpy() != b.fillna("").astype(str).to_numpy()
            continue
        x, y = _floats(a), _floats(b)
        with np.errstate(invalid="ignore"):
            same = np.isclose(x, y, rtol=RTOL, atol=ATOL) | (np.isnan(x) & np.isnan(y))
        differ[f] = ~same
    flags = pd.DataFrame(differ, index=m.index)
    m["change"] = m["_merge"].map({"both": "changed", "right_only": "new", "left_only": "gone"}).astype(str)
    m["fields"] = flags.apply(lambda r: [f for f in COMPARED if r[f]], axis=1) if len(m) else []
    out = m[(m["_merge"] != "both") | flags.any(axis=1)].drop(columns="_merge")
    return out.sort_values(list(KEY)).reset_index(drop=True)


def _floats(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s.map(lambda v: None if v is None or v is pd.NA else float(v)), errors="coerce").to_numpy(
        dtype=float
    )


def digest(figures: pd.DataFrame) -> str:
    """SHA-256 of a figure set written canonically (its slices and compared fields in order):
    the same figures give the same digest, on either database."""
    rows = []
    for r in figures.sort_values(list(KEY)).itertuples(index=False):
        rows.append([*(getattr(r, k) for k in KEY), *(_plain(getattr(r, f)) for f in COMPARED)])
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _plain(v: Any) -> Any:
    """A value as JSON and the store take it: None for missing, Python numbers and bools."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def publish(
    engine: Engine, period: dt.date, *, actor: str, min_cell_size: int, note: str | None = None
) -> Outcome:  # fmt: skip
    """Publish the month starting `period`: revision 1, or the next revision when figures
    changed since the latest (then `note` is required), or nothing when none changed."""
    note = (note or "").strip() or None
    target = f"{period:%Y-%m}"
    current = snapshot(engine, period, min_cell_size=min_cell_size)
    if current.empty:
        raise PublishError(f"no monthly figures for {target} in the store: nothing to publish")
    latest = query.publication(engine, period)
    diff = pd.DataFrame(columns=[*KEY, "change", "fields"])
    if latest is not None:
        diff = differences(query.published_cells(engine, period, scope=access.EVERYTHING), current)
        if diff.empty:
            audit.record(engine, "publish", actor=actor, target=target,
                         detail={"unchanged": True, "revision": int(latest["revision"])})  # fmt: skip
            return Outcome(latest, False, diff)
        if note is None:
            refusal = NoteRequired(latest, diff)
            audit.record(engine, "publish", actor=actor, target=target, outcome="refused",
                         detail={"changed": len(diff), "error": str(refusal)[:500]})  # fmt: skip
            raise refusal
    revision = 1 if latest is None else int(latest["revision"]) + 1
    fingerprint = digest(current)
    versions = current.groupby("metric")["definition_version"].max()
    row = {
        "period": period, "revision": revision, "published_at": audit.now(), "published_by": actor, "note": note,
        "as_of": _plain(pd.Timestamp(current["as_of"].max())), "refresh_run_id": int(current["refresh_run_id"].max()),
        "min_cell_size": min_cell_size, "figures": len(current), "digest": fingerprint,
        "definitions": json.dumps({m: int(v) for m, v in versions.items()}, sort_keys=True),
    }  # fmt: skip
    rows = current[list(STORED)].itertuples(index=False)
    figures = [{c: _plain(v) for c, v in zip(STORED, r, strict=True)} for r in rows]
    try:
        with engine.begin() as conn:
            pub_id = conn.execute(insert(Publication).values(**row)).inserted_primary_key[0]
            conn.execute(insert(PublishedFigure), [{**f, "publication_id": pub_id} for f in figures])
    except IntegrityError:
        raise PublishError(f"another publication of {target} was made at the same moment: run again") from None
    audit.record(engine, "publish", actor=actor, target=target,
                 detail={"revision": revision, "figures": len(current), "changed": len(diff), "digest": fingerprint,
                         **({"note": note[:300]} if note else {})})  # fmt: skip
    published = query.publication(engine, period, revision)
    assert published is not None
    return Outcome(published, True, diff)


def compare(
    engine: Engine, period: dt.date, revision: int | None = None, *, min_cell_size: int
) -> tuple[dict[str, Any], pd.DataFrame]:  # fmt: skip
    """A revision of the month (default the latest) and its figures that differ from today's
    recomputation (`differences`, published against current)."""
    pub = query.publication(engine, period, revision)
    if pub is None:
        which = f"revision {revision} of " if revision is not None else ""
        raise PublishError(f"{which}{period:%Y-%m} is not published (see `civic-metrics publish list`)")
    published = query.published_cells(engine, period, int(pub["revision"]), scope=access.EVERYTHING)
    return pub, differences(published, snapshot(engine, period, min_cell_size=min_cell_size))


def difference_records(diff: pd.DataFrame) -> list[dict[str, Any]]:
    """Differences as plain records: the slice, what changed, and both sides' figures."""
    out = []
    for r in diff.to_dict("records"):
        rec: dict[str, Any] = {"metric": r["metric"], "dims": query.parse_dims(r["dims_key"]), "change": r["change"],
                               "fields": list(r["fields"])}  # fmt: skip
        if r["across"]:
            rec["across"] = r["across"]
        for side in ("published", "current"):
            rec[side] = {f: _record_value(f, r[f"{f}_{side}"]) for f in COMPARED}
        out.append(rec)
    return out


def _record_value(field: str, v: Any) -> Any:
    v = _plain(v)
    if v is None:
        return None
    if field == "suppressed":
        return bool(v)
    if field in ("n", "definition_version"):
        return int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v
