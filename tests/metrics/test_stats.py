"""The statistics against independent computations: scipy, numpy, the textbook formulas."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metrics.config import CalendarSettings
from metrics.stats import grouped_km, poisson_interval, wilson
from metrics.workdays import WorkingCalendar

durations = st.lists(st.tuples(st.integers(0, 40).map(lambda x: x / 4), st.booleans()), min_size=1, max_size=60)


def scipy_km(t: np.ndarray, e: np.ndarray) -> tuple[float, ...]:
    """Median and p90 with their log-log intervals, read off scipy.stats.ecdf."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e]))
        ci = res.sf.confidence_interval(method="log-log")
    q, p = res.sf.quantiles, res.sf.probabilities
    low = np.nan_to_num(ci.low.probabilities, nan=0.0)
    high = np.nan_to_num(ci.high.probabilities, nan=1.0)
    # The log-log interval is undefined where S is 0 or 1; the curve is certain there.
    low = np.where(p <= 0, 0.0, np.where(p >= 1, 1.0, low))
    high = np.where(p <= 0, 0.0, np.where(p >= 1, 1.0, high))

    def first(s: np.ndarray, level: float) -> float:
        hit = np.flatnonzero(s <= level + 1e-9)
        return float(q[hit[0]]) if hit.size else np.nan

    return first(p, 0.5), first(low, 0.5), first(high, 0.5), first(p, 0.1), first(low, 0.1), first(high, 0.1)


@settings(max_examples=150, deadline=None)
@given(st.lists(durations, min_size=1, max_size=4))
def test_grouped_km_matches_scipy_for_every_group(groups: list[list[tuple[float, bool]]]) -> None:
    g = np.concatenate([np.full(len(rows), i) for i, rows in enumerate(groups)])
    t = np.array([d for rows in groups for d, _ in rows])
    e = np.array([ev for rows in groups for _, ev in rows])
    r = grouped_km(g, t, e)
    assert r.groups.tolist() == list(range(len(groups)))
    for i, rows in enumerate(groups):
        ti = np.array([d for d, _ in rows])
        ei = np.array([ev for _, ev in rows])
        assert r.n[i] == len(rows) and r.events[i] == ei.sum()
        if not ei.any():
            assert np.isnan(r.median[i])
            continue
        want = scipy_km(ti, ei)
        got = [r.median[i], r.median_low[i], r.median_high[i], r.p90[i], r.p90_low[i], r.p90_high[i]]
        np.testing.assert_equal(got, want)
        median = want[0]
        if not np.isnan(median):
            assert r.median_low[i] <= median and (np.isnan(r.median_high[i]) or median <= r.median_high[i])


def test_km_median_not_reached_when_fewer_than_half_close() -> None:
    r = grouped_km(np.zeros(4, int), np.array([1.0, 2, 3, 4]), np.array([True, False, False, False]))
    assert np.isnan(r.median[0])


def test_km_median_lands_exactly_on_one_half() -> None:
    # S = 0.5 after the second of four closes: the median is that time, not the next.
    r = grouped_km(np.zeros(4, int), np.array([1.0, 2, 3, 4]), np.array([True, True, True, True]))
    assert r.median[0] == 2.0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_is_the_root_pair_of_the_score_equation(kn: tuple[int, int]) -> None:
    k, n = kn
    z = stats.norm.ppf(0.975)
    p_hat = k / n
    # |p_hat - p| = z sqrt(p (1 - p) / n)  <=>  a p^2 + b p + c = 0
    a = 1 + z * z / n
    b = -(2 * p_hat + z * z / n)
    c = p_hat * p_hat
    roots = np.sort(np.roots([a, b, c]).real)
    low, high = wilson(np.array([k]), np.array([n]))
    assert low[0] == pytest.approx(max(roots[0], 0), abs=1e-9)
    assert high[0] == pytest.approx(min(roots[1], 1), abs=1e-9)
    assert low[0] <= p_hat <= high[0]


def test_poisson_interval_is_garwood() -> None:
    low, high = poisson_interval(np.array([0, 1, 10, 250]))
    for k, lo, hi in zip([0, 1, 10, 250], low, high, strict=True):
        # Exact: P(X >= k | lo) = 0.025 and P(X <= k | hi) = 0.025.
        if k:
            assert stats.poisson.sf(k - 1, lo) == pytest.approx(0.025, rel=1e-6)
        else:
            assert lo == 0
        assert stats.poisson.cdf(k, hi) == pytest.approx(0.025, rel=1e-6)


def test_due_dates_follow_numpy_busday_offset_without_extra_working_days() -> None:
    cal = WorkingCalendar(
        CalendarSettings(holiday_country="GB", holiday_subdivision="ENG"), dt.date(2023, 1, 1), dt.date(2026, 12, 31)
    )
    opened = np.arange(np.datetime64("2024-01-01"), np.datetime64("2025-12-01"), dtype="datetime64[D]")
    for n in (0, 1, 3, 10, 20):
        want = np.busday_offset(opened, n, roll="forward", holidays=cal.holidays)
        got = cal.due_dates(opened, np.full(opened.size, n))
        np.testing.assert_array_equal(got, want)


def test_extra_working_days_count_as_working_days() -> None:
    saturday = dt.date(2025, 3, 8)
    cal = WorkingCalendar(
        CalendarSettings(holiday_country=None, extra_working_days=(saturday,)),
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
    )
    assert cal.is_working_day(saturday) and not cal.is_working_day(dt.date(2025, 3, 9))
    # Opened on Friday 7 March, 1 working day later is the make-up Saturday.
    assert cal.due_dates(np.array(["2025-03-07"], dtype="datetime64[D]"), np.array([1]))[0] == np.datetime64(saturday)
    # A negative deadline means none is known.
    assert np.isnat(cal.due_dates(np.array(["2025-03-07"], dtype="datetime64[D]"), np.array([-1]))[0])
