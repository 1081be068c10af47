"""Comparisons with the reference group against independent computations: Newcombe's worked
example, MOVER limits found by brute-force root finding, and the properties any ratio and
difference interval must have."""

from __future__ import annotations

import datetime as dt
import json
import math
import typing

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import optimize, stats

from metrics.catalogue import CATALOGUE, Unit
from metrics.comparisons import (
    COMPARISON_COLUMNS,
    KNOWN_UNITS,
    comparable,
    compare_with_reference,
    mover_difference,
    mover_ratio,
    vs_reference_record,
)
from metrics.query import COLUMNS, to_records
from metrics.stats import poisson_interval, wilson

Z = float(stats.norm.ppf(0.975))
JAN, FEB = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
AS_OF = pd.Timestamp("2025-06-30 23:59:59")
REF_NUMBERS = [c for c in COMPARISON_COLUMNS if c.startswith("ref_") and c != "ref_note"]


def row(
    group: str,
    value: float | None,
    low: float | None = None,
    high: float | None = None,
    *,
    period: dt.date = JAN,
    grain: str = "month",
    dim: str = "age_band",
    n: float = 100.0,
    suppressed: bool = False,
    extra: dict[str, str] | None = None,
) -> dict[str, typing.Any]:
    """One cell in the shape `metrics.query.read_cells` returns."""
    dims = {dim: group, **(extra or {})}
    nan = float("nan")
    return {
        "metric": "on_time_rate",
        "definition_version": 1,
        "grain": grain,
        "period": period,
        "dim_names": ",".join(sorted(dims)),
        "dims_key": "|".join(f"{k}={v}" for k, v in sorted(dims.items())),
        "across": "",
        "value": nan if value is None or suppressed else value,
        "n": nan if suppressed else n,
        "numerator": nan,
        "denominator": nan,
        "ci_low": nan if low is None or suppressed else low,
        "ci_high": nan if high is None or suppressed else high,
        "suppressed": suppressed,
        "note": "suppressed: fewer than 10 cases" if suppressed else None,
        "as_of": AS_OF,
        "refresh_run_id": 1,
        "dims": dims,
    }


def frame(*rows: dict[str, typing.Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    assert list(df.columns[:-1]) == COLUMNS
    return df


def by_group(df: pd.DataFrame, group: str, dim: str = "age_band", **match: typing.Any) -> pd.Series:
    sel = df["dims"].map(lambda d: d[dim] == group)
    for k, v in match.items():
        sel &= df[k] == v
    assert sel.sum() == 1
    return df[sel].iloc[0]


def score_wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's interval as the two roots of the score equation (p_hat - p)^2 = z^2 p (1 - p) / n."""
    p_hat = k / n

    def score(p: float) -> float:
        return (p_hat - p) ** 2 - Z * Z * p * (1 - p) / n

    # score < 0 just beside p_hat (at p_hat itself unless it is 0 or 1) and >= 0 at 0 and 1.
    below, above = max(p_hat - 1e-12, 0.0), min(p_hat + 1e-12, 1.0)
    low = 0.0 if k == 0 else optimize.brentq(score, 0.0, below, xtol=1e-15, rtol=1e-15)
    high = 1.0 if k == n else optimize.brentq(score, above, 1.0, xtol=1e-15, rtol=1e-15)
    return low, high


def proportion_row(group: str, k: int, n: int, **kw: typing.Any) -> dict[str, typing.Any]:
    low, high = score_wilson(k, n)
    return row(group, k / n, low, high, n=n, **kw)


# --- Newcombe (1998), example (a), method 10 -------------------------------------------------


def test_newcombe_1998_method_10_worked_example() -> None:
    df = frame(proportion_row("Under 25", 56, 70), proportion_row("25-44", 48, 80))
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    r = by_group(out, "Under 25")
    # Published: difference 0.2000, 95% CI 0.0524 to 0.3339.
    assert r.ref_difference == pytest.approx(0.2, abs=1e-12)
    assert round(r.ref_difference_low, 4) == 0.0524
    assert round(r.ref_difference_high, 4) == 0.3339
    # ... and exactly Newcombe's method 10 from the score-equation Wilson limits.
    l1, u1 = score_wilson(56, 70)
    l2, u2 = score_wilson(48, 80)
    d = 56 / 70 - 48 / 80
    assert r.ref_difference_low == pytest.approx(d - math.sqrt((56 / 70 - l1) ** 2 + (u2 - 48 / 80) ** 2), abs=1e-12)
    assert r.ref_difference_high == pytest.approx(d + math.sqrt((u1 - 56 / 70) ** 2 + (48 / 80 - l2) ** 2), abs=1e-12)
    assert r.real_gap is True
    assert r.ref_ratio == pytest.approx((56 / 70) / (48 / 80))
    assert r.ref_ratio_low > 1  # agrees with the difference interval excluding 0


def test_score_equation_wilson_agrees_with_metrics_stats() -> None:
    # The cells carry metrics.stats.wilson; the test's own Wilson is computed independently.
    low, high = wilson(np.array([56, 48, 0, 10]), np.array([70, 80, 10, 10]))
    for i, (k, n) in enumerate([(56, 70), (48, 80), (0, 10), (10, 10)]):
        assert (low[i], high[i]) == pytest.approx(score_wilson(k, n), abs=1e-12)


# --- brute-force MOVER -----------------------------------------------------------------------


def mover_sum(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Zou & Donner (2008) for theta_a + theta_b, from each estimate's (value, low, high)."""
    (va, la, ua), (vb, lb, ub) = a, b
    s = va + vb
    return s, s - math.sqrt((va - la) ** 2 + (vb - lb) ** 2), s + math.sqrt((ua - va) ** 2 + (ub - vb) ** 2)


def brute_difference(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> tuple[float, float, float]:
    v2, l2, u2 = c2
    return mover_sum(c1, (-v2, -u2, -l2))  # the interval of -theta_2 is [-u2, -l2]


def brute_ratio(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> tuple[float, float]:
    """MOVER-R limits as the values of R at which MOVER's limits for theta_1 - R theta_2 reach 0,
    found by bracketing root search (no closed form)."""
    (v1, l1, u1), (v2, l2, u2) = c1, c2

    def lower_limit_of_difference(r: float) -> float:
        return mover_sum((v1, l1, u1), (-r * v2, -r * u2, -r * l2))[1]

    def upper_limit_of_difference(r: float) -> float:
        return mover_sum((v1, l1, u1), (-r * v2, -r * u2, -r * l2))[2]

    point = v1 / v2
    low = optimize.brentq(lower_limit_of_difference, 0.0, point, xtol=1e-300, rtol=1e-14)
    high = optimize.brentq(upper_limit_of_difference, point, 2 * u1 / l2 + 1, xtol=1e-300, rtol=1e-14)
    return low, high


cell = st.tuples(
    st.floats(0.01, 1000.0),  # value
    st.floats(0.01, 0.99),  # lower limit as a fraction below the value
    st.floats(0.01, 3.0),  # upper limit as a fraction above the value
).map(lambda t: (t[0], t[0] * (1 - t[1]), t[0] * (1 + t[2])))


def compare_two(c1: tuple[float, float, float], c2: tuple[float, float, float], group: str = "Other") -> pd.Series:
    df = frame(row(group, *c1), row("English", *c2))
    out = compare_with_reference(df, "age_band", "English", "days")
    return by_group(out, group)


@given(cell, cell)
def test_limits_equal_brute_force_mover(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> None:
    r = compare_two(c1, c2)
    d, d_low, d_high = brute_difference(c1, c2)
    assert r.ref_difference == pytest.approx(d, rel=1e-12, abs=1e-12)
    assert r.ref_difference_low == pytest.approx(d_low, rel=1e-9, abs=1e-9)
    assert r.ref_difference_high == pytest.approx(d_high, rel=1e-9, abs=1e-9)
    low, high = brute_ratio(c1, c2)
    assert r.ref_ratio == pytest.approx(c1[0] / c2[0], rel=1e-12)
    assert r.ref_ratio_low == pytest.approx(low, rel=1e-8)
    assert r.ref_ratio_high == pytest.approx(high, rel=1e-8)


def test_ratio_closed_form_when_reference_upper_limit_is_twice_its_value() -> None:
    # u2 = 2 v2 zeroes the quadratic's leading coefficient: the textbook (-b - sqrt(D)) / 2a form is 0/0.
    c1, c2 = (3.0, 2.0, 5.0), (2.0, 1.5, 4.0)
    r, low, high = mover_ratio(*c1, *c2)
    assert (low, high) == pytest.approx(brute_ratio(c1, c2), rel=1e-10)
    assert r == 1.5


# --- properties ------------------------------------------------------------------------------


@given(cell, cell)
def test_intervals_contain_the_estimates(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> None:
    r = compare_two(c1, c2)
    assert r.ref_difference_low <= r.ref_difference <= r.ref_difference_high
    assert r.ref_ratio_low <= r.ref_ratio <= r.ref_ratio_high
    assert r.ref_ratio_low > 0


@given(cell, cell)
def test_swapping_groups_negates_difference_and_inverts_ratio(
    c1: tuple[float, float, float], c2: tuple[float, float, float]
) -> None:
    df = frame(row("A", *c1), row("B", *c2))
    ab = by_group(compare_with_reference(df, "age_band", "B", "score"), "A")
    ba = by_group(compare_with_reference(df, "age_band", "A", "score"), "B")
    assert ba.ref_difference == pytest.approx(-ab.ref_difference, rel=1e-12, abs=1e-12)
    assert ba.ref_difference_low == pytest.approx(-ab.ref_difference_high, rel=1e-9, abs=1e-9)
    assert ba.ref_difference_high == pytest.approx(-ab.ref_difference_low, rel=1e-9, abs=1e-9)
    assert ba.ref_ratio == pytest.approx(1 / ab.ref_ratio, rel=1e-12)
    assert ba.ref_ratio_low == pytest.approx(1 / ab.ref_ratio_high, rel=1e-9)
    assert ba.ref_ratio_high == pytest.approx(1 / ab.ref_ratio_low, rel=1e-9)
    assert ba.real_gap == ab.real_gap or min(abs(ab.ref_difference_low), abs(ab.ref_difference_high)) < 1e-9


@given(cell, cell, st.floats(1e-3, 1e3))
def test_scaling_both_cells_leaves_the_ratio_unchanged(
    c1: tuple[float, float, float], c2: tuple[float, float, float], k: float
) -> None:
    base = compare_two(c1, c2)
    scaled = compare_two(tuple(k * x for x in c1), tuple(k * x for x in c2))  # type: ignore[arg-type]
    for col in ("ref_ratio", "ref_ratio_low", "ref_ratio_high"):
        assert scaled[col] == pytest.approx(base[col], rel=1e-9)
    for col in ("ref_difference", "ref_difference_low", "ref_difference_high"):
        assert scaled[col] == pytest.approx(k * base[col], rel=1e-9, abs=1e-9 * k * c2[2])


@given(cell)
def test_identical_cells_show_no_gap(c: tuple[float, float, float]) -> None:
    r = compare_two(c, c)
    assert r.ref_difference == 0
    assert r.ref_difference_low < 0 < r.ref_difference_high
    assert r.ref_ratio == 1
    assert r.ref_ratio_low < 1 < r.ref_ratio_high
    assert r.real_gap is False


@given(cell, cell)
def test_ratio_and_difference_agree_on_real_gap(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> None:
    r = compare_two(c1, c2)
    # Away from a tie on the boundary itself, where rounding may decide.
    assume(min(abs(r.ref_difference_low), abs(r.ref_difference_high)) > 1e-9 * max(c1[2], c2[2]))
    assume(min(abs(r.ref_ratio_low - 1), abs(r.ref_ratio_high - 1)) > 1e-9)
    ratio_excludes_one = bool(r.ref_ratio_low > 1 or r.ref_ratio_high < 1)
    assert r.real_gap is ratio_excludes_one


def test_an_interval_touching_equality_is_not_a_real_gap() -> None:
    # L = 1 - sqrt((2 - 1)^2 + (1 - 1)^2) = 0 exactly, and MOVER-R's lower limit is exactly 1.
    r = compare_two((2.0, 1.0, 3.0), (1.0, 0.5, 1.0))
    assert r.ref_difference_low == 0 and r.ref_ratio_low == pytest.approx(1.0, abs=1e-15)
    assert r.real_gap is False


def test_real_gap_in_both_directions() -> None:
    worse = compare_two((5.0, 4.5, 5.5), (10.0, 9.0, 11.0))
    assert worse.real_gap is True and worse.ref_difference_high < 0 and worse.ref_ratio_high < 1
    overlap = compare_two((9.5, 8.5, 10.5), (10.0, 9.0, 11.0))
    assert overlap.real_gap is False
    assert overlap.ref_difference_low < 0 < overlap.ref_difference_high


# --- rates per 1,000 -------------------------------------------------------------------------


@pytest.mark.parametrize(("k1", "pop1", "k2", "pop2"), [(40, 10_000, 25, 12_000), (12, 3_000, 150, 20_000)])
def test_rate_ratio_close_to_the_exact_conditional_interval(k1: int, pop1: int, k2: int, pop2: int) -> None:
    """Sanity check of MOVER on Garwood intervals against the exact conditional (binomial) interval
    for a ratio of Poisson rates, which is conservative: they agree within a few per cent."""
    (l1, l2), (u1, u2) = poisson_interval(np.array([k1, k2]))
    df = frame(
        row("Lakeside", k1 / pop1 * 1000, l1 / pop1 * 1000, u1 / pop1 * 1000, dim="region", n=k1),
        row("Central", k2 / pop2 * 1000, l2 / pop2 * 1000, u2 / pop2 * 1000, dim="region", n=k2),
    )
    r = by_group(compare_with_reference(df, "region", "Central", "per_1000"), "Lakeside", dim="region")
    ci = stats.binomtest(k1, k1 + k2).proportion_ci(0.95, method="exact")
    exact = [p / (1 - p) * pop2 / pop1 for p in (ci.low, ci.high)]
    assert r.ref_ratio == pytest.approx((k1 / pop1) / (k2 / pop2))
    assert r.ref_ratio_low == pytest.approx(exact[0], rel=0.05)
    assert r.ref_ratio_high == pytest.approx(exact[1], rel=0.05)
    assert exact[0] <= r.ref_ratio_low <= r.ref_ratio_high <= exact[1]


# --- the reference row, nulls, and "Not stated" ----------------------------------------------


def test_reference_row_itself() -> None:
    df = frame(row("25-44", 0.8, 0.7, 0.9), row("Under 25", 0.6, 0.5, 0.7))
    r = by_group(compare_with_reference(df, "age_band", "25-44", "proportion"), "25-44")
    assert r.reference == "25-44"
    assert r.ref_ratio == 1 and r.ref_difference == 0
    assert all(math.isnan(r[c]) for c in ("ref_ratio_low", "ref_ratio_high", "ref_difference_low"))
    assert math.isnan(r.ref_difference_high)
    assert r.real_gap is None
    assert r.ref_note == "reference group"


def all_null(r: pd.Series) -> bool:
    return all(math.isnan(r[c]) for c in REF_NUMBERS) and r.real_gap is None


def test_suppressed_or_missing_cells_give_nulls_never_zero() -> None:
    df = frame(
        row("25-44", 0.8, 0.7, 0.9),
        row("Under 25", None, suppressed=True),
        row("45-64", None, None, None),  # no value, e.g. no population known
        row("65 and over", 0.8, 0.7, 0.9),
        # February: the reference group's cell is missing, then suppressed in March.
        row("Under 25", 0.5, 0.4, 0.6, period=FEB),
        row("25-44", None, suppressed=True, period=dt.date(2025, 3, 1)),
        row("Under 25", 0.5, 0.4, 0.6, period=dt.date(2025, 3, 1)),
    )
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    assert all_null(by_group(out, "Under 25", period=JAN))
    assert by_group(out, "Under 25", period=JAN).ref_note == "suppressed: no comparison"
    assert all_null(by_group(out, "45-64"))
    feb = by_group(out, "Under 25", period=FEB)
    assert all_null(feb) and feb.ref_note == "no reference-group figure for this period: no comparison"
    mar = by_group(out, "Under 25", period=dt.date(2025, 3, 1))
    assert all_null(mar) and mar.ref_note == "reference group suppressed: no comparison"
    assert all_null(by_group(out, "25-44", period=dt.date(2025, 3, 1)))
    # The one comparable cell is compared.
    same = by_group(out, "65 and over")
    assert same.ref_difference == 0 and same.real_gap is False
    # Nowhere a zero standing in for a missing figure.
    missing = out[out["suppressed"] | out["value"].isna()]
    assert missing[REF_NUMBERS].isna().all().all()
    assert out["reference"].eq("25-44").all()


def test_cells_without_interval_give_ratio_and_difference_only() -> None:
    df = frame(row("25-44", 4.0, None, None), row("Under 25", 6.0, None, None), row("45-64", 5.0, 4.0, 6.0))
    out = compare_with_reference(df, "age_band", "25-44", "days")
    for group, value in (("Under 25", 6.0), ("45-64", 5.0)):
        r = by_group(out, group)
        assert r.ref_ratio == value / 4.0 and r.ref_difference == value - 4.0
        assert np.isnan([r.ref_ratio_low, r.ref_ratio_high, r.ref_difference_low, r.ref_difference_high]).all()
        assert r.real_gap is None
        assert r.ref_note == "no interval for this group or the reference group: gap not tested"


def test_ratio_interval_needs_positive_values_and_limits() -> None:
    # 0 of 40 against 10 of 40: a difference interval, a ratio of 0 without an interval.
    df = frame(proportion_row("Disabled", 0, 40), proportion_row("Not disabled", 10, 40))
    r = by_group(compare_with_reference(df, "age_band", "Not disabled", "proportion"), "Disabled")
    assert r.ref_difference == -0.25 and r.ref_difference_high < 0 and r.real_gap is True
    assert r.ref_ratio == 0 and math.isnan(r.ref_ratio_low) and math.isnan(r.ref_ratio_high)
    # A lower limit of 0 (positive value): a ratio, a difference interval, no ratio interval (not inf).
    for c1, c2 in (((0.5, 0.0, 1.0), (1.0, 0.8, 1.2)), ((1.0, 0.8, 1.2), (0.5, 0.0, 1.0))):
        r = compare_two(c1, c2)
        assert r.ref_ratio == c1[0] / c2[0] and r.real_gap is False
        assert math.isnan(r.ref_ratio_low) and math.isnan(r.ref_ratio_high)
        assert np.isfinite([r.ref_difference_low, r.ref_difference_high]).all()
    # A reference value of 0: no ratio at all.
    df = frame(proportion_row("Disabled", 10, 40), proportion_row("Not disabled", 0, 40))
    out = compare_with_reference(df, "age_band", "Not disabled", "proportion")
    assert math.isnan(by_group(out, "Disabled").ref_ratio)
    assert math.isnan(by_group(out, "Not disabled").ref_ratio)
    assert by_group(out, "Disabled").ref_difference == 0.25


def test_not_stated_is_compared_like_any_other_group() -> None:
    figures = (0.55, 0.45, 0.65)
    df = frame(row("Female", 0.8, 0.7, 0.9, dim="sex"), row("Not stated", *figures, dim="sex"))
    out = compare_with_reference(df, "sex", "Female", "proportion")
    assert len(out) == 2
    not_stated = by_group(out, "Not stated", dim="sex")
    other = by_group(
        compare_with_reference(
            frame(row("Female", 0.8, 0.7, 0.9, dim="sex"), row("Male", *figures, dim="sex")),
            "sex",
            "Female",
            "proportion",
        ),
        "Male",
        dim="sex",
    )
    pd.testing.assert_series_equal(not_stated[REF_NUMBERS], other[REF_NUMBERS], check_names=False)
    assert not_stated.real_gap is True
    # And it may be the reference itself.
    ref = compare_with_reference(df, "sex", "Not stated", "proportion")
    assert by_group(ref, "Female", dim="sex").ref_difference == pytest.approx(0.25)


def test_matched_by_period_and_grain() -> None:
    df = frame(
        row("25-44", 0.8, 0.7, 0.9, period=JAN),
        row("25-44", 0.5, 0.4, 0.6, period=FEB),
        row("25-44", 0.6, 0.55, 0.65, period=JAN, grain="year"),
        row("Under 25", 0.7, 0.6, 0.8, period=JAN),
        row("Under 25", 0.7, 0.6, 0.8, period=FEB),
        row("Under 25", 0.7, 0.65, 0.75, period=JAN, grain="year"),
    )
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    assert by_group(out, "Under 25", period=JAN, grain="month").ref_difference == pytest.approx(-0.1)
    assert by_group(out, "Under 25", period=FEB, grain="month").ref_difference == pytest.approx(0.2)
    assert by_group(out, "Under 25", period=JAN, grain="year").ref_difference == pytest.approx(0.1)


def test_further_dimensions_compare_within_their_own_slice() -> None:
    df = frame(
        row("25-44", 0.8, 0.7, 0.9, extra={"region": "North"}),
        row("25-44", 0.4, 0.3, 0.5, extra={"region": "South"}),
        row("Under 25", 0.6, 0.5, 0.7, extra={"region": "North"}),
        row("Under 25", 0.6, 0.5, 0.7, extra={"region": "South"}),
    )
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    north = out[out["dims"].map(lambda d: d == {"age_band": "Under 25", "region": "North"})].iloc[0]
    south = out[out["dims"].map(lambda d: d == {"age_band": "Under 25", "region": "South"})].iloc[0]
    assert north.ref_difference == pytest.approx(-0.2)
    assert south.ref_difference == pytest.approx(0.2)


def test_input_is_left_alone_and_row_order_kept() -> None:
    df = frame(row("Under 25", 0.6, 0.5, 0.7), row("25-44", 0.8, 0.7, 0.9), row("45-64", 0.7, 0.6, 0.8))
    before = df.copy()
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    pd.testing.assert_frame_equal(df, before)
    assert list(out.columns) == [*df.columns, *COMPARISON_COLUMNS]
    assert out["dims_key"].tolist() == df["dims_key"].tolist()


def test_empty_frame_and_bad_input() -> None:
    empty = frame(row("25-44", 0.8, 0.7, 0.9)).iloc[:0]
    out = compare_with_reference(empty, "age_band", "25-44", "proportion")
    assert out.empty and set(COMPARISON_COLUMNS) <= set(out.columns)
    with pytest.raises(ValueError, match="not broken down by 'region'"):
        compare_with_reference(frame(row("25-44", 0.8, 0.7, 0.9)), "region", "North", "proportion")
    with pytest.raises(ValueError, match="more than one"):
        compare_with_reference(frame(row("25-44", 0.8), row("25-44", 0.7)), "age_band", "25-44", "proportion")
    with pytest.raises(ValueError, match="not compared"):
        compare_with_reference(frame(row("25-44", 8.0)), "age_band", "25-44", "count")


# --- comparable ------------------------------------------------------------------------------


def test_comparable_units() -> None:
    # A unit added to the catalogue must be classified here (comparable or not) before use.
    assert set(typing.get_args(Unit)) <= KNOWN_UNITS
    for unit in ("count", "ratio", "index", "points"):
        assert not comparable(unit)
    for unit in ("per_1000", "days", "hours", "proportion", "score"):
        assert comparable(unit)
    with pytest.raises(ValueError, match="unknown unit"):
        comparable("percent")
    assert comparable(CATALOGUE["on_time_rate"].unit)
    assert not comparable(CATALOGUE["cases_opened"].unit)
    for m in CATALOGUE.values():
        comparable(m.unit)


# --- export shape ----------------------------------------------------------------------------


def test_vs_reference_record_in_an_export() -> None:
    df = frame(
        proportion_row("Under 25", 56, 70),
        proportion_row("25-44", 48, 80),
        row("Not stated", None, suppressed=True),
    )
    out = compare_with_reference(df, "age_band", "25-44", "proportion")
    records = to_records(out)
    for rec, r in zip(records, out.itertuples(index=False), strict=True):
        rec["vs_reference"] = vs_reference_record(r)
    json.dumps(records, allow_nan=False)
    under, ref, hidden = (rec["vs_reference"] for rec in records)
    assert under["group"] == "25-44" and under["real_gap"] is True
    assert under["difference"] == pytest.approx(0.2)
    assert [round(x, 4) for x in under["difference_ci"]] == [0.0524, 0.3339]
    assert under["ratio_ci"][0] > 1
    assert ref == {
        "group": "25-44",
        "ratio": 1.0,
        "ratio_ci": [None, None],
        "difference": 0.0,
        "difference_ci": [None, None],
        "real_gap": None,
        "note": "reference group",
    }
    assert hidden["ratio"] is None and hidden["difference"] is None and hidden["real_gap"] is None
    assert hidden["difference_ci"] == [None, None]
    # A Series row gives the same, and a frame never compared gives none.
    assert vs_reference_record(out.iloc[0]) == under
    assert vs_reference_record(df.iloc[0]) is None


def test_mover_difference_is_vectorised() -> None:
    d, low, high = mover_difference([0.8, 0.5], [0.7, 0.4], [0.9, 0.6], [0.6, 0.5], [0.5, 0.4], [0.7, 0.6])
    assert d == pytest.approx([0.2, 0.0])
    assert low == pytest.approx([0.2 - math.hypot(0.1, 0.1), -math.hypot(0.1, 0.1)])
    assert high == pytest.approx([0.2 + math.hypot(0.1, 0.1), math.hypot(0.1, 0.1)])
