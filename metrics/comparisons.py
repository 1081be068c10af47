"""Every group's figure against the configured reference group: ratio and difference with 95% intervals.

METRICS.md ("Equal service"): every equity figure is also shown against a reference group chosen in
config (`GroupAttribute.reference`), as ratio and difference, as disaggregated public statistics do.
A gap is flagged as *real* only when its 95% interval excludes equality (difference 0, ratio 1).
"Not stated" is a group of its own: it is compared with the reference like any other group.

Pure functions on `metrics.query.read_cells` frames; no store access.

Method: MOVER, the method of variance estimates recovery (Zou & Donner 2008, "Construction of
confidence limits about effect measures: a general approach", Stat Med 27:1693-1702). It builds the
interval of a difference or ratio from each cell's own 95% interval `[l, u]` around its value `v`, so
it works the same for every unit whose cells carry an interval: Wilson for proportions (the
difference is then Newcombe's 1998 method 10), exact Poisson for rates per 1,000, normal for mean
scores, Kaplan-Meier for medians in days or hours. The two cells must be independent, which holds for
the disjoint categories of one dimension. With group 1 (compared) and group 2 (reference):

Difference d = v1 - v2 (in the unit of the indicator: fractions for proportions, not points):

    L = d - sqrt((v1 - l1)^2 + (u2 - v2)^2)
    U = d + sqrt((u1 - v1)^2 + (v2 - l2)^2)

Ratio r = v1 / v2, MOVER-R (Donner & Zou 2012, Stat Methods Med Res 21:347-359), only when
v1, v2, l1, l2 > 0. L and U are the roots in R of the MOVER limits of v1 - R v2 reaching 0,

    (v1 - L v2)^2 = (v1 - l1)^2 + L^2 (u2 - v2)^2,   v1 - L v2 >= 0
    (v1 - U v2)^2 = (u1 - v1)^2 + U^2 (v2 - l2)^2,   v1 - U v2 <= 0

whose closed form (written in the rationalised form, stable also when u2 = 2 v2) is

    L = l1 (2 v1 - l1) / (v1 v2 + sqrt((v1 v2)^2 - l1 (2 v1 - l1) u2 (2 v2 - u2)))
    U = (v1 v2 + sqrt((v1 v2)^2 - u1 (2 v1 - u1) l2 (2 v2 - l2))) / (l2 (2 v2 - l2))

Rates per 1,000 use the same MOVER limits from the cells' exact (Garwood) Poisson intervals, with the
population taken as known, not the exact conditional (binomial) method for a ratio of Poisson rates:
that way ratio and difference rest on the same per-cell intervals and cannot disagree on `real_gap`.

`real_gap` is True when the difference interval excludes 0. Whenever the ratio interval exists, it
excludes 1 exactly when the difference interval excludes 0: `f(R) = (v1 - R v2) - sqrt((v1 - l1)^2 +
R^2 (u2 - v2)^2)` is strictly decreasing for R > 0 with f(L) = 0, so L > 1 iff f(1) > 0 iff the
difference's lower limit is > 0; likewise `g(R) = (v1 - R v2) + sqrt((u1 - v1)^2 + R^2 (v2 - l2)^2)`
is strictly decreasing (its slope is at most -l2 < 0) with g(U) = 0, so U < 1 iff the difference's
upper limit is < 0. The two can differ only in floating-point rounding when a limit lies on equality
itself; `real_gap` follows the difference interval.

Nulls, never zeros: when either cell is suppressed or has no value, or the reference group has no
cell for the same grain and period, every comparison column is NaN and `real_gap` None. A cell
without an interval (e.g. counts, a median whose upper limit is not reached) still gets ratio and
difference, but null intervals and `real_gap` None: the gap cannot be tested. The reference row
itself gets ratio 1 and difference 0, null intervals and `real_gap` None (it is not compared with
anything, so no gap is tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

# Units whose values may be compared between groups: a level of service each resident of the
# group gets. Not `count`: groups differ in size, so a count twice the reference's says nothing
# about the service a resident gets. Not the units of the figures computed *across* the groups of
# a dimension (`ratio`, `index`, `points`: disparity ratio, Gini/Theil, standard gap): they have
# no cell per group; compare the per-group figures they summarise instead.
COMPARABLE_UNITS = frozenset({"per_1000", "days", "hours", "proportion", "score"})
NOT_COMPARABLE_UNITS = frozenset({"count", "ratio", "index", "points"})
KNOWN_UNITS = COMPARABLE_UNITS | NOT_COMPARABLE_UNITS

COMPARISON_COLUMNS = (
    "reference",
    "ref_ratio",
    "ref_ratio_low",
    "ref_ratio_high",
    "ref_difference",
    "ref_difference_low",
    "ref_difference_high",
    "real_gap",
    "ref_note",
)

NOTE_REFERENCE = "reference group"
NOTE_SUPPRESSED = "suppressed: no comparison"
NOTE_REFERENCE_SUPPRESSED = "reference group suppressed: no comparison"
NOTE_NO_VALUE = "no value: no comparison"
NOTE_REFERENCE_NO_VALUE = "reference group has no value: no comparison"
NOTE_NO_REFERENCE = "no reference-group figure for this period: no comparison"
NOTE_NO_INTERVAL = "no interval for this group or the reference group: gap not tested"


def comparable(unit: str) -> bool:
    """Whether figures in `unit` may be compared with the reference group (not counts, nor the
    across-group summaries); raises ValueError for a unit it does not know, so that a new unit
    is classified here before it is used."""
    if unit not in KNOWN_UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {sorted(KNOWN_UNITS)}")
    return unit in COMPARABLE_UNITS


def mover_difference(
    v1: np.ndarray, l1: np.ndarray, u1: np.ndarray, v2: np.ndarray, l2: np.ndarray, u2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """v1 - v2 with its MOVER limits (Newcombe's method 10 when the intervals are Wilson's)."""
    v1, l1, u1, v2, l2, u2 = (np.asarray(x, dtype=float) for x in (v1, l1, u1, v2, l2, u2))
    d = v1 - v2
    return d, d - np.hypot(v1 - l1, u2 - v2), d + np.hypot(u1 - v1, v2 - l2)


def mover_ratio(
    v1: np.ndarray, l1: np.ndarray, u1: np.ndarray, v2: np.ndarray, l2: np.ndarray, u2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """v1 / v2 with its MOVER-R limits; NaN limits unless v1, v2, l1, l2 are all positive."""
    v1, l1, u1, v2, l2, u2 = (np.asarray(x, dtype=float) for x in (v1, l1, u1, v2, l2, u2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(v2 > 0, v1 / v2, np.nan)
        ok = (v1 > 0) & (v2 > 0) & (l1 > 0) & (l2 > 0)
        p = v1 * v2
        c_low = l1 * (2 * v1 - l1)
        low = c_low / (p + np.sqrt(np.maximum(p * p - c_low * u2 * (2 * v2 - u2), 0.0)))
        a_high = l2 * (2 * v2 - l2)
        high = (p + np.sqrt(np.maximum(p * p - u1 * (2 * v1 - u1) * a_high, 0.0))) / a_high
    # Clamp rounding noise so the interval always holds the estimate.
    low = np.where(ok, np.minimum(low, r), np.nan)
    high = np.where(ok, np.maximum(high, r), np.nan)
    return r, low, high


def compare_with_reference(cells: pd.DataFrame, dim: str, reference: str, unit: str) -> pd.DataFrame:
    """A copy of `cells` (a `read_cells` frame broken down by `dim`, already suppressed) with each
    row compared with the `reference` category's cell of the same grain and period.

    Added columns: `reference` (the reference category), `ref_ratio`, `ref_ratio_low`,
    `ref_ratio_high`, `ref_difference`, `ref_difference_low`, `ref_difference_high` (floats, NaN
    when undefined), `real_gap` (True/False, None when not tested) and `ref_note` (why a comparison
    is missing or untested, None otherwise). See the module docstring for the formulas and rules.

    Read the cells without a `values` filter that drops the reference category (filter after
    comparing), or every row comes back without a comparison. If the frame is broken down by
    further dimensions too, a row is compared with the reference
    cell that has the same values of those. Raises ValueError for a unit that is not comparable
    (see `comparable`), a row without `dim`, or two reference cells for one period.
    """
    if not comparable(unit):
        raise ValueError(f"figures in unit {unit!r} are not compared with a reference group (see comparable)")
    df = cells.copy()
    n = len(df)
    df["reference"] = reference
    for col in COMPARISON_COLUMNS[1:7]:
        df[col] = np.full(n, np.nan)
    df["real_gap"] = pd.Series([None] * n, index=df.index, dtype=object)
    df["ref_note"] = pd.Series([None] * n, index=df.index, dtype=object)
    if n == 0:
        return df

    dims = df["dims"].tolist()
    lacking = [i for i, d in enumerate(dims) if not isinstance(d, Mapping) or dim not in d]
    if lacking:
        raise ValueError(
            f"cells are not broken down by {dim!r} (row {lacking[0]} has dims {dims[lacking[0]]!r}); "
            f"read them with by=({dim!r},)"
        )
    group = np.array([str(d[dim]) for d in dims], dtype=object)
    others = ["|".join(f"{k}={v}" for k, v in sorted(d.items()) if k != dim) for d in dims]
    key_cols = [c for c in ("metric", "definition_version", "grain") if c in df]
    keys = pd.DataFrame({c: df[c].to_numpy() for c in key_cols})
    keys["period"] = df["period"].to_numpy()
    keys["others"] = others
    on = [*key_cols, "period", "others"]

    value = df["value"].to_numpy(dtype=float)
    low = df["ci_low"].to_numpy(dtype=float)
    high = df["ci_high"].to_numpy(dtype=float)
    suppressed = df["suppressed"].eq(True).to_numpy(dtype=bool) if "suppressed" in df else np.zeros(n, bool)

    is_ref = group == reference
    ref = keys[is_ref].assign(_v=value[is_ref], _l=low[is_ref], _u=high[is_ref], _s=suppressed[is_ref])
    dup = ref.duplicated(on, keep=False)
    if dup.any():
        first = ref[dup].iloc[0]
        raise ValueError(f"more than one {dim}={reference!r} cell for {dict(first[on])}")
    matched = keys.merge(ref, on=on, how="left", validate="many_to_one", indicator=True)
    has_ref = (matched["_merge"] == "both").to_numpy()
    v2 = matched["_v"].to_numpy(dtype=float)
    l2 = matched["_l"].to_numpy(dtype=float)
    u2 = matched["_u"].to_numpy(dtype=float)
    s2 = matched["_s"].eq(True).to_numpy(dtype=bool)

    valid1 = ~suppressed & np.isfinite(value)
    valid2 = has_ref & ~s2 & np.isfinite(v2)
    ok = valid1 & valid2
    ci_ok = ok & _interval_ok(value, low, high) & _interval_ok(v2, l2, u2) & ~is_ref

    d, d_low, d_high = mover_difference(value, low, high, v2, l2, u2)
    r, r_low, r_high = mover_ratio(value, low, high, v2, l2, u2)
    ratio_defined = ok & (v2 > 0) & (value >= 0)
    df["ref_difference"] = np.where(ok, np.where(is_ref, 0.0, d), np.nan)
    df["ref_ratio"] = np.where(ratio_defined, np.where(is_ref, 1.0, r), np.nan)
    df["ref_difference_low"] = np.where(ci_ok, d_low, np.nan)
    df["ref_difference_high"] = np.where(ci_ok, d_high, np.nan)
    df["ref_ratio_low"] = np.where(ci_ok & ratio_defined, r_low, np.nan)
    df["ref_ratio_high"] = np.where(ci_ok & ratio_defined, r_high, np.nan)
    gap = (d_low > 0) | (d_high < 0)
    df["real_gap"] = pd.Series(
        [bool(g) if c else None for g, c in zip(gap, ci_ok, strict=True)], index=df.index, dtype=object
    )

    notes = np.full(n, None, dtype=object)
    notes[~ci_ok] = NOTE_NO_INTERVAL
    notes[~has_ref] = NOTE_NO_REFERENCE
    notes[has_ref & ~s2 & ~np.isfinite(v2)] = NOTE_REFERENCE_NO_VALUE
    notes[has_ref & s2] = NOTE_REFERENCE_SUPPRESSED
    notes[~suppressed & ~np.isfinite(value)] = NOTE_NO_VALUE
    notes[suppressed] = NOTE_SUPPRESSED
    notes[is_ref & valid1] = NOTE_REFERENCE
    df["ref_note"] = pd.Series(list(notes), index=df.index, dtype=object)
    return df


def _interval_ok(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi) & (lo <= v) & (v <= hi)


def vs_reference_record(row: Any) -> dict[str, Any] | None:
    """The export's `vs_reference` object for one row of a `compare_with_reference` frame (a
    pandas Series, a mapping or an `itertuples` row); None when the row carries no comparison."""
    get = row.get if hasattr(row, "get") else (lambda key: getattr(row, key, None))
    group = get("reference")
    if group is None or (isinstance(group, float) and math.isnan(group)):
        return None
    gap = get("real_gap")
    if gap is pd.NA or (isinstance(gap, float) and math.isnan(gap)):
        gap = None
    note = get("ref_note")
    rec: dict[str, Any] = {
        "group": group,
        "ratio": _number(get("ref_ratio")),
        "ratio_ci": [_number(get("ref_ratio_low")), _number(get("ref_ratio_high"))],
        "difference": _number(get("ref_difference")),
        "difference_ci": [_number(get("ref_difference_low")), _number(get("ref_difference_high"))],
        "real_gap": None if gap is None else bool(gap),
    }
    if isinstance(note, str) and note:
        rec["note"] = note
    return rec


def _number(x: Any) -> float | None:
    if x is None or x is pd.NA:
        return None
    x = float(x)
    return None if math.isnan(x) else x
