"""Staying power: telling real change from noise in a long series.

XmR (individuals and moving range) charts as public-sector improvement teams use them:
the centre line and natural process limits come from a baseline stretch of the series,
limits = mean +- 2.66 x mean moving range. Signals follow the usual run rules. A
before/after view compares an equal number of periods either side of an annotated event.
Pure functions over a series of values; the query layer feeds them metric cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# 2.66 = 3 / d2 with d2 = 1.128 for moving ranges of two points.
XMR_FACTOR = 2.66
RUN_LENGTH = 8  # points in a row on one side of the centre line
TREND_LENGTH = 6  # points in a row all rising or all falling


@dataclass(frozen=True)
class Limits:
    centre: float
    mean_moving_range: float
    upper: float
    lower: float
    baseline_points: int


def xmr_limits(values: np.ndarray, baseline: int) -> Limits | None:
    """Limits from the first `baseline` known values (missing values are skipped);
    None when fewer than 2 are known."""
    x = np.asarray(values, dtype=float)
    known = x[~np.isnan(x)][:baseline]
    if known.size < 2:
        return None
    centre = float(known.mean())
    mr = float(np.abs(np.diff(known)).mean())
    return Limits(centre, mr, centre + XMR_FACTOR * mr, centre - XMR_FACTOR * mr, int(known.size))


def signals(values: np.ndarray, limits: Limits) -> list[list[str]]:
    """For each point, the run rules it takes part in: 'outside limits', 'run of 8',
    'trend of 6'. Missing points break runs and trends."""
    x = np.asarray(values, dtype=float)
    out: list[list[str]] = [[] for _ in x]
    for i, v in enumerate(x):
        if not np.isnan(v) and (v > limits.upper or v < limits.lower):
            out[i].append("outside limits")
    side = np.sign(x - limits.centre)  # 0 on the line breaks a run, as does NaN
    _mark_runs(out, [s if s != 0 and not np.isnan(s) else None for s in side], RUN_LENGTH, "run of 8")
    steps = np.sign(np.diff(x))
    direction = [None, *(s if s != 0 and not np.isnan(s) else None for s in steps)]
    # A trend of 6 points is 5 steps in one direction.
    _mark_runs(out, direction, TREND_LENGTH - 1, "trend of 6", include_previous=True)
    return out


def _mark_runs(out: list[list[str]], keys: list, length: int, label: str, include_previous: bool = False) -> None:
    start = 0
    for i in range(len(keys) + 1):
        if i == len(keys) or keys[i] is None or keys[i] != keys[start]:
            if start < len(keys) and keys[start] is not None and i - start >= length:
                first = start - 1 if include_previous else start
                for j in range(first, i):
                    if label not in out[j]:
                        out[j].append(label)
            start = i


@dataclass(frozen=True)
class BeforeAfter:
    periods: int
    before_mean: float
    after_mean: float
    difference: float
    ci_low: float | None
    ci_high: float | None
    real_change: bool | None


def before_after(values: np.ndarray, event_index: int, periods: int | None = None) -> BeforeAfter | None:
    """Mean of the `periods` points after the event (from `event_index` on) against the same
    number just before it, with a 95% Welch interval for the difference. Without
    `periods`, as many as both sides have. None when either side has fewer than 2 points."""
    x = np.asarray(values, dtype=float)
    k = min(event_index, len(x) - event_index) if periods is None else periods
    if k < 2 or event_index - k < 0 or event_index + k > len(x):
        return None
    before, after = x[event_index - k : event_index], x[event_index : event_index + k]
    before, after = before[~np.isnan(before)], after[~np.isnan(after)]
    if before.size < 2 or after.size < 2:
        return None
    diff = float(after.mean() - before.mean())
    res = stats.ttest_ind(after, before, equal_var=False)
    ci = res.confidence_interval(0.95)
    low, high = float(ci.low), float(ci.high)
    if np.isnan(low) or np.isnan(high):
        return BeforeAfter(k, float(before.mean()), float(after.mean()), diff, None, None, None)
    return BeforeAfter(k, float(before.mean()), float(after.mean()), diff, low, high, bool(low > 0 or high < 0))
