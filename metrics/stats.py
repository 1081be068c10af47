"""Vectorised statistics used by the indicators: intervals and grouped Kaplan-Meier.

Pure numpy/scipy on arrays, no store access, so each function can be tested against an
independent computation (scipy.stats, brute force) in isolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

Z95 = float(special.ndtri(0.975))
# METRICS.md: compare S(t) with 0.5 (or 0.1) with this tolerance, so that floating-point
# products landing exactly on the threshold count as reaching it.
KM_TOLERANCE = 1e-9


def wilson(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval for k successes out of n (NaN where n == 0)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        low, high = centre - half, centre + half
    # Clamp rounding noise so the interval always holds the estimate (0 <= p <= 1).
    low = np.where(n > 0, np.minimum(np.clip(low, 0, 1), p), np.nan)
    high = np.where(n > 0, np.maximum(np.clip(high, 0, 1), p), np.nan)
    return low, high


def poisson_interval(k: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count k."""
    k = np.asarray(k, dtype=float)
    a = 1 - level
    low = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
    high = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
    return low, high


@dataclass(frozen=True)
class KMResult:
    """Per group: sizes and Kaplan-Meier quantiles (NaN where S never reaches the level)."""

    groups: np.ndarray  # group codes present, sorted
    n: np.ndarray
    events: np.ndarray
    median: np.ndarray
    median_low: np.ndarray
    median_high: np.ndarray
    p90: np.ndarray
    p90_low: np.ndarray
    p90_high: np.ndarray
    # S itself and its interval at the times `at` given to grouped_km, one row per group
    # and one column per time; NaN where S is unknown (past the group's last observation).
    curve: np.ndarray | None = None
    curve_low: np.ndarray | None = None
    curve_high: np.ndarray | None = None


def grouped_km(
    group: np.ndarray, t: np.ndarray, event: np.ndarray, at: np.ndarray | None = None, by_time: np.ndarray | None = None
) -> KMResult:
    """Kaplan-Meier estimates for many groups at once.

    group: integer code per observation; t: duration; event: True if the event (closure)
    was observed, False if censored. Textbook product-limit estimator; censored
    observations at an event time are still at risk at that time. The median's 95%
    interval is read off the pointwise log-log interval of S (Greenwood variance), the
    same interval as `scipy.stats.ecdf(...).sf.confidence_interval(method="log-log")`.

    With `at` (times), the curve S(a) and that interval at each time a are returned too
    (`curve`, `curve_low`, `curve_high`): 1 before a group's first event (where the
    interval has no width, as scipy's), and unknown (NaN) after the group's last observed
    time unless S has fallen to 0 by then, since no case of the group was followed that
    long and carrying the last value forward would claim what was never observed.

    `by_time`, if given, is `np.argsort(t, kind="stable")`: a caller estimating many
    groupings of the same durations sorts them once (metrics.cells.km_cells), and each call
    then only orders by group, a radix sort where the codes are small.
    """
    group = np.asarray(group, dtype=np.int64)
    t = np.asarray(t, dtype=float)
    event = np.asarray(event, dtype=bool)
    at = None if at is None else np.asarray(at, dtype=float)
    if group.size == 0:
        empty = np.array([], dtype=float)
        curve = None if at is None else np.empty((0, at.size))
        return KMResult(np.array([], dtype=np.int64), *([empty] * 8), curve, curve, curve)
    order = stable_group_order(group, np.argsort(t, kind="stable") if by_time is None else by_time)
    g, tt, ee = group[order], t[order], event[order]

    # The rows are sorted by group: each group's rows are one run, found in linear time.
    new_group = np.ones(g.size, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    start = np.flatnonzero(new_group)
    groups, sizes = g[start], np.diff(np.append(start, g.size))
    gi = np.cumsum(new_group) - 1
    pos = np.arange(g.size) - start[gi]

    # One row per distinct (group, time): at risk = group size - rows before it.
    new_run = new_group.copy()
    new_run[1:] |= tt[1:] != tt[:-1]
    run_start = np.flatnonzero(new_run)
    d = np.add.reduceat(ee.astype(np.int64), run_start)
    at_risk = sizes[gi[run_start]] - pos[run_start]
    rg, rt = gi[run_start], tt[run_start]

    has_event = d > 0
    rg, rt, d, at_risk = rg[has_event], rt[has_event], d[has_event], at_risk[has_event]
    factor = 1.0 - d / at_risk
    surv = _grouped_cumprod(rg, factor)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = _grouped_cumsum(rg, d / (at_risk * (at_risk - d)))
        log_s = np.log(surv)
        se = np.sqrt(greenwood / log_s**2)
        loglog = np.log(-log_s)
        s_low = np.exp(-np.exp(loglog + Z95 * se))
        s_high = np.exp(-np.exp(loglog - Z95 * se))
    # Where S is 0 the log-log bounds are undefined; the curve itself is certain there.
    s_low = np.where(surv <= 0, 0.0, np.nan_to_num(s_low, nan=0.0))
    s_high = np.where(surv <= 0, 0.0, np.nan_to_num(s_high, nan=1.0))

    k = groups.size
    events = np.add.reduceat(ee.astype(float), start)

    def first_time(mask: np.ndarray) -> np.ndarray:
        out = np.full(k, np.nan)
        idx = np.flatnonzero(mask)
        # rg is sorted: a group's first row in idx is where rg changes.
        first = np.ones(idx.size, dtype=bool)
        first[1:] = rg[idx[1:]] != rg[idx[:-1]]
        out[rg[idx[first]]] = rt[idx[first]]
        return out

    level = 0.5 + KM_TOLERANCE
    tenth = 0.1 + KM_TOLERANCE
    curve = curve_low = curve_high = None
    if at is not None:
        last_seen = tt[start + sizes - 1]  # times are sorted within each group
        curve, curve_low, curve_high = _curve_at(at, k, rg, rt, (surv, s_low, s_high), last_seen)
    return KMResult(
        groups=groups,
        n=sizes.astype(float),
        events=events,
        median=first_time(surv <= level),
        median_low=first_time(s_low <= level),
        median_high=first_time(s_high <= level),
        p90=first_time(surv <= tenth),
        p90_low=first_time(s_low <= tenth),
        p90_high=first_time(s_high <= tenth),
        curve=curve,
        curve_low=curve_low,
        curve_high=curve_high,
    )


def stable_group_order(group: np.ndarray, by_time: np.ndarray) -> np.ndarray:
    """The permutation sorting by group, then time, then position: `np.lexsort((t, group))`,
    from the time order. A stable sort by group keeps each group's times in order; numpy
    sorts integers of 16 bits or fewer stably by radix, in linear time."""
    keys = group[by_time]
    if keys.size and keys.min() >= 0 and keys.max() < 2**16:
        keys = keys.astype(np.uint16)
    return by_time[np.argsort(keys, kind="stable")]


def _curve_at(
    at: np.ndarray, k: int, rg: np.ndarray, rt: np.ndarray, steps: tuple[np.ndarray, ...], last_seen: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The step functions `steps` (S and its bounds, one value per event row `rg`, `rt`, sorted
    by group then time) read at the times `at`, per group: (k, len(at)) arrays each."""
    first_row = np.searchsorted(rg, np.arange(k), side="left")
    events_by_group = np.bincount(rg, minlength=k)
    # Where S reached 0 (everyone closed), it stays 0 whatever the time.
    ends_at_zero = np.zeros(k, dtype=bool)
    has_events = events_by_group > 0
    ends_at_zero[has_events] = steps[0][first_row[has_events] + events_by_group[has_events] - 1] <= 0
    out = [np.empty((k, at.size)) for _ in steps]
    for j, a in enumerate(at):  # loops over the few times asked for, not over cases
        passed = np.bincount(rg[rt <= a], minlength=k)
        row = np.maximum(first_row + passed - 1, 0)
        known = (a <= last_seen) | ends_at_zero
        for o, step in zip(out, steps, strict=True):
            values = step[row] if step.size else np.ones(k)
            o[:, j] = np.where(known, np.where(passed > 0, values, 1.0), np.nan)
    return tuple(out)


def _grouped_cumprod(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _grouped_running(g, x, np.cumprod)


def _grouped_cumsum(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Per group rather than one global cumsum minus offsets: an infinite Greenwood term
    # (everyone at risk closes) must not leak into the groups after it.
    return _grouped_running(g, x, np.cumsum)


def _grouped_running(g: np.ndarray, x: np.ndarray, running) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A running product or sum restarted at each group; groups are contiguous."""
    out = np.empty_like(x)
    if x.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], x.size]
    for s, e in zip(starts, ends, strict=True):  # loops over groups, not observations
        out[s:e] = running(x[s:e])
    return out
