"""XmR limits, run rules and before/after comparisons against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from metrics.control import before_after, signals, xmr_limits


def test_limits_are_mean_plus_minus_266_mean_moving_range() -> None:
    x = np.array([10.0, 12, 11, 13, 12, 50, 11])
    lim = xmr_limits(x, baseline=5)
    # Baseline 10, 12, 11, 13, 12: mean 11.6; moving ranges 2, 1, 2, 1: mean 1.5.
    assert lim.centre == pytest.approx(11.6) and lim.mean_moving_range == pytest.approx(1.5)
    assert lim.upper == pytest.approx(11.6 + 2.66 * 1.5) and lim.lower == pytest.approx(11.6 - 2.66 * 1.5)
    assert signals(x, lim)[5] == ["outside limits"]
    assert all(s == [] for i, s in enumerate(signals(x, lim)) if i != 5)


def test_missing_points_are_skipped_in_the_baseline() -> None:
    lim = xmr_limits(np.array([1.0, np.nan, 3.0, 5.0]), baseline=3)
    assert lim.centre == pytest.approx(3.0) and lim.mean_moving_range == pytest.approx(2.0)
    assert xmr_limits(np.array([1.0, np.nan]), baseline=5) is None


def test_a_run_of_eight_on_one_side_is_a_signal_and_seven_is_not() -> None:
    base = [10.0, 11, 9, 10, 11, 9, 10, 11, 9, 10]
    lim = xmr_limits(np.array(base), baseline=10)
    seven = np.array(base + [10.5] * 7 + [9.0])
    assert not any("run of 8" in s for s in signals(seven, lim))
    eight = np.array(base + [10.5] * 8)
    marks = signals(eight, lim)
    assert all("run of 8" in marks[i] for i in range(10, 18)) and not any("run of 8" in m for m in marks[:10])


def test_six_rising_points_are_a_trend() -> None:
    lim = xmr_limits(np.array([10.0, 11, 9, 10, 11, 9]), baseline=6)
    x = np.array([10.0, 9, 9.2, 9.4, 9.6, 9.8, 10.0, 9.0])
    marks = signals(x, lim)
    assert [i for i, m in enumerate(marks) if "trend of 6" in m] == [1, 2, 3, 4, 5, 6]
    five = np.array([10.0, 9, 9.2, 9.4, 9.6, 9.8, 9.0])
    assert not any("trend of 6" in m for m in signals(five, lim))


@given(st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=40), st.integers(2, 20))
def test_points_outside_limits_are_always_flagged(values: list[float], baseline: int) -> None:
    x = np.array(values)
    lim = xmr_limits(x, baseline)
    marks = signals(x, lim)
    for v, m in zip(x, marks, strict=True):
        assert ("outside limits" in m) == (v > lim.upper or v < lim.lower)


def test_before_after_equals_welch_on_equal_windows() -> None:
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(0.80, 0.02, 12), rng.normal(0.86, 0.02, 9)]
    ba = before_after(x, event_index=12)
    assert ba.periods == 9  # as many as both sides have
    before, after = x[3:12], x[12:21]
    ci = stats.ttest_ind(after, before, equal_var=False).confidence_interval(0.95)
    assert ba.difference == pytest.approx(after.mean() - before.mean())
    assert (ba.ci_low, ba.ci_high) == pytest.approx((ci.low, ci.high))
    assert ba.real_change is True
    flat = before_after(np.r_[x[:12], x[:12]], event_index=12, periods=6)
    assert flat.periods == 6 and flat.real_change is False
    assert before_after(x, event_index=1) is None
