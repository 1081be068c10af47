"""The statistics against independent computations: scipy, numpy, the textbook formulas."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metrics.cells import selected_order, time_order
from metrics.config import CalendarSettings
from metrics.stats import grouped_km, poisson_interval, stable_group_order, wilson
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


def flat(groups: list[list[tuple[float, bool]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group codes, durations and events of groups of (duration, closed) rows."""
    g = np.concatenate([np.full(len(rows), i) for i, rows in enumerate(groups)])
    return g, np.array([d for rows in groups for d, _ in rows]), np.array([ev for rows in groups for _, ev in rows])


@settings(max_examples=150, deadline=None)
@given(st.lists(durations, min_size=1, max_size=4))
def test_grouped_km_matches_scipy_for_every_group(groups: list[list[tuple[float, bool]]]) -> None:
    r = grouped_km(*flat(groups))
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


def product_limit(t: list[float], e: list[bool], at: float) -> float | None:
    """S(at) the slow, textbook way: the product over event times u <= at of 1 - d(u) / r(u),
    r(u) counting everyone with a time >= u (censored at u included); None past the last
    observed time unless S is 0 by then."""
    s = 1.0
    for u in sorted({ti for ti, ei in zip(t, e, strict=True) if ei and ti <= at}):
        at_risk = sum(1 for ti in t if ti >= u)
        closed = sum(1 for ti, ei in zip(t, e, strict=True) if ei and ti == u)
        s *= 1 - closed / at_risk
    return s if at <= max(t) or s == 0 else None


AT = np.array([0.0, 0.5, 1, 2, 3, 5, 7.25, 10, 12])


@settings(max_examples=150, deadline=None)
@given(st.lists(durations, min_size=1, max_size=4))
def test_grouped_km_curve_is_the_product_limit_estimate_and_scipys(groups: list[list[tuple[float, bool]]]) -> None:
    """Quarter days from 0 to 10 make many ties, between closures and with censored cases."""
    r = grouped_km(*flat(groups), at=AT)
    assert r.curve is not None and r.curve_low is not None and r.curve_high is not None
    assert r.curve.shape == (len(groups), AT.size)
    for i, rows in enumerate(groups):
        ti, ei = [d for d, _ in rows], [ev for _, ev in rows]
        want = [product_limit(ti, ei, a) for a in AT]
        got = r.curve[i]
        assert [x is None for x in want] == np.isnan(got).tolist()
        np.testing.assert_allclose([np.nan if x is None else x for x in want], got, rtol=0, atol=1e-12)
        if not any(ei):  # scipy needs a closure; the curve is 1 wherever it is known
            assert np.all(got[~np.isnan(got)] == 1.0)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tt, ee = np.array(ti), np.array(ei)
            res = stats.ecdf(stats.CensoredData(uncensored=tt[ee], right=tt[~ee]))
            ci = res.sf.confidence_interval(method="log-log")
        known = ~np.isnan(got)
        np.testing.assert_allclose(got[known], res.sf.evaluate(AT[known]), rtol=0, atol=1e-12)
        # scipy's interval; it is undefined (NaN) where S is 0 or 1, where the curve is certain.
        low, high = ci.low.evaluate(AT[known]), ci.high.evaluate(AT[known])
        assert np.all(np.isin(got[known][np.isnan(low) | np.isnan(high)], [0.0, 1.0]))
        for bound, theirs in ((r.curve_low, low), (r.curve_high, high)):
            np.testing.assert_allclose(bound[i][known], np.where(np.isnan(theirs), got[known], theirs), atol=1e-9)
        assert np.all(r.curve_low[i][known] <= got[known] + 1e-12)
        assert np.all(got[known] <= r.curve_high[i][known] + 1e-12)
        assert np.all(np.isnan(r.curve_low[i][~known]) & np.isnan(r.curve_high[i][~known]))
        # The median is where this curve falls to 0.5: at or below it from the median on.
        if not np.isnan(r.median[i]):
            from_median = AT >= r.median[i]  # noqa: SIM300 (the days read against the median)
            assert np.all(got[known & from_median] <= 0.5 + 1e-9) and np.all(got[known & ~from_median] > 0.5 + 1e-9)


@given(
    st.lists(st.tuples(st.integers(0, 70_000), st.sampled_from([0.0, 0.5, 1.0, 2.25, np.nan])), max_size=80),
    st.lists(st.booleans(), min_size=80, max_size=80),
)
def test_the_shared_time_order_sorts_as_lexsort(rows: list[tuple[int, float]], chosen: list[bool]) -> None:
    """Sorting the durations once for every grain and slicing (metrics.cells.km_cells) gives
    the very permutation of `np.lexsort((t, group))`: ties, missing times, codes past 16 bits
    (no radix sort) and a selection of the cases included."""
    group = np.array([g for g, _ in rows], dtype=np.int64)
    t = np.array([x for _, x in rows], dtype=float)
    assert np.array_equal(stable_group_order(group, time_order(t)), np.lexsort((t, group)))
    small = group % 7
    assert np.array_equal(stable_group_order(small, time_order(t)), np.lexsort((t, small)))
    sel = np.array(chosen[: len(rows)], dtype=bool)
    order = selected_order(time_order(t), sel)
    assert order is not None
    assert np.array_equal(stable_group_order(small[sel], order), np.lexsort((t[sel], small[sel])))


def test_grouped_km_with_a_shared_time_order_is_the_same_estimate() -> None:
    rng = np.random.default_rng(8)
    group = rng.integers(0, 30, 5_000)
    t = rng.exponential(9, 5_000).round(1)
    event = rng.random(5_000) < 0.8
    at = np.array([1.0, 7.0, 30.0])
    alone = grouped_km(group, t, event, at=at)
    shared = grouped_km(group, t, event, at=at, by_time=time_order(t))
    for field in ("groups", "n", "events", "median", "median_low", "median_high", "p90", "p90_low", "curve"):
        assert np.array_equal(getattr(alone, field), getattr(shared, field), equal_nan=True), field


def test_grouped_km_curve_golden() -> None:
    """Ten cases worked by hand. Times (+ = still open): 1, 1, 2+, 3, 3, 3+, 5, 8+, 9, 9+.
    At 1: 10 at risk, 2 close, S = 8/10. At 3: 7 at risk (2+ left), 2 close, S = 8/10 * 5/7.
    At 5: 4 at risk, 1 closes, S = 8/10 * 5/7 * 3/4. At 9: 2 at risk (8+ left), 1 closes,
    S = 8/10 * 5/7 * 3/4 * 1/2. Nobody is followed past 9, so S(10) is unknown."""
    t = np.array([1, 1, 2, 3, 3, 3, 5, 8, 9, 9], dtype=float)
    e = np.array([1, 1, 0, 1, 1, 0, 1, 0, 1, 0], dtype=bool)
    r = grouped_km(np.zeros(10, dtype=int), t, e, at=np.array([0.5, 1, 2, 3, 4, 5, 8, 9, 10]))
    s1, s3, s5, s9 = 8 / 10, 8 / 10 * 5 / 7, 8 / 10 * 5 / 7 * 3 / 4, 8 / 10 * 5 / 7 * 3 / 4 * 1 / 2
    np.testing.assert_allclose(r.curve[0], [1, s1, s1, s3, s3, s5, s5, s9, np.nan], rtol=0, atol=1e-12)
    # Greenwood at 1: var(log S) = 2 / (10 * 8); the log-log bounds are exp(-exp(log(-log S) -+ z se)).
    se = np.sqrt(2 / (10 * 8)) / abs(np.log(s1))
    z = stats.norm.ppf(0.975)
    assert r.curve_low[0][1] == pytest.approx(np.exp(-np.exp(np.log(-np.log(s1)) + z * se)), abs=1e-12)
    assert r.curve_high[0][1] == pytest.approx(np.exp(-np.exp(np.log(-np.log(s1)) - z * se)), abs=1e-12)
    # The median (S <= 0.5 first at 5, where S = 3/7) agrees with the curve.
    assert r.median[0] == 5.0 and s3 > 0.5 >= s5


def test_grouped_km_curve_stays_at_zero_once_everyone_closed() -> None:
    r = grouped_km(np.zeros(3, dtype=int), np.array([1.0, 2, 2]), np.ones(3, dtype=bool), at=np.array([1.5, 2, 30]))
    np.testing.assert_allclose(r.curve[0], [1 - 1 / 3, 0, 0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(r.curve_low[0][1:], [0, 0])


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
