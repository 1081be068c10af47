"""Inequality indices against brute-force formulas, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.indicators.equity import disparity, gini, theil, theil_between

positive = st.floats(0.01, 1000, allow_nan=False, allow_infinity=False)
groups = st.lists(st.tuples(positive, st.integers(1, 100_000), st.sampled_from("ABC")), min_size=2, max_size=12)


def brute_gini(rate: list[float], pop: list[int]) -> float:
    # Each resident counts once: the mean absolute difference between two residents drawn
    # at random, over twice the mean.
    P = sum(pop)
    mean = sum(r * p for r, p in zip(rate, pop, strict=True)) / P
    total = 0.0
    for ri, pi in zip(rate, pop, strict=True):
        for rj, pj in zip(rate, pop, strict=True):
            total += pi * pj * abs(ri - rj)
    return total / (2 * P * P * mean)


def brute_theil(rate: list[float], pop: list[int]) -> float:
    P = sum(pop)
    mean = sum(r * p for r, p in zip(rate, pop, strict=True)) / P
    return sum(p / P * (r / mean) * math.log(r / mean) for r, p in zip(rate, pop, strict=True) if r > 0)


@settings(max_examples=200, deadline=None)
@given(groups)
def test_gini_and_theil_match_the_formulas(rows: list[tuple[float, int, str]]) -> None:
    rate = [r for r, _, _ in rows]
    pop = [p for _, p, _ in rows]
    assert gini(np.array(rate), np.array(pop, float)) == pytest.approx(brute_gini(rate, pop), rel=1e-9, abs=1e-12)
    assert theil(np.array(rate), np.array(pop, float)) == pytest.approx(brute_theil(rate, pop), rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(groups, st.floats(0.1, 10), st.integers(2, 50))
def test_indices_are_invariant_to_scaling(rows: list[tuple[float, int, str]], k: float, m: int) -> None:
    rate = np.array([r for r, _, _ in rows])
    pop = np.array([p for _, p, _ in rows], float)
    for f in (gini, theil):
        assert f(rate * k, pop) == pytest.approx(f(rate, pop), rel=1e-9, abs=1e-12)  # per 1 or per 1,000
        assert f(rate, pop * m) == pytest.approx(f(rate, pop), rel=1e-9, abs=1e-12)  # populations scaled
    assert disparity(rate * k) == pytest.approx(disparity(rate), rel=1e-12)


@given(st.lists(st.integers(1, 10_000), min_size=2, max_size=10), positive)
def test_equal_rates_mean_no_inequality(pop: list[int], r: float) -> None:
    rate = np.full(len(pop), r)
    assert gini(rate, np.array(pop, float)) == pytest.approx(0, abs=1e-12)
    assert theil(rate, np.array(pop, float)) == pytest.approx(0, abs=1e-12)
    assert disparity(rate) == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(groups)
def test_theil_decomposes_into_between_and_within_areas(rows: list[tuple[float, int, str]]) -> None:
    rate = np.array([r for r, _, _ in rows])
    pop = np.array([p for _, p, _ in rows], float)
    area = np.array([a for _, _, a in rows])
    # Within: each area's own Theil, weighted by the area's share of all cases.
    total_cases = (rate * pop).sum()
    within = 0.0
    for a in set(area):
        sel = area == a
        within += (rate[sel] * pop[sel]).sum() / total_cases * theil(rate[sel], pop[sel])
    assert theil(rate, pop) == pytest.approx(theil_between(rate, pop, area) + within, rel=1e-9, abs=1e-12)


def test_disparity_with_a_zero_rate_is_undefined() -> None:
    assert disparity(np.array([0.0, 2.0])) is None
