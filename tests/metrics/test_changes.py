"""When a change between two periods is called real: MOVER on the two 95% intervals, checked
against a brute-force reading of the same rule, and never for ranges or provisional figures."""

from __future__ import annotations

import math

import pytest

from metrics.changes import change_between


def cell(value: float, low: float | None, high: float | None, note: str | None = None) -> dict:
    return {"value": value, "ci_low": low, "ci_high": high, "suppressed": False, "note": note}


def brute_force(now: dict, before: dict) -> tuple[float, float, float]:
    d = now["value"] - before["value"]
    low = d - math.sqrt((now["value"] - now["ci_low"]) ** 2 + (before["ci_high"] - before["value"]) ** 2)
    high = d + math.sqrt((now["ci_high"] - now["value"]) ** 2 + (before["value"] - before["ci_low"]) ** 2)
    return d, low, high


@pytest.mark.parametrize(
    ("now", "before", "real"),
    [
        (cell(0.88, 0.86, 0.90), cell(0.82, 0.80, 0.84), True),  # intervals apart
        (cell(0.83, 0.80, 0.86), cell(0.82, 0.79, 0.85), False),  # overlapping, small change
        (cell(5.1, 4.9, 5.3), cell(5.9, 5.6, 6.2), True),  # a fall is real too
    ],
)
def test_mover_interval_of_the_difference(now: dict, before: dict, real: bool) -> None:
    change = change_between(now, before)
    assert change is not None
    d, low, high = brute_force(now, before)
    assert change.difference == pytest.approx(d)
    assert (change.ci_low, change.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert change.real is real
    assert change.real == (low > 0 or high < 0)


def test_no_figure_no_change() -> None:
    assert change_between(None, cell(1, 0, 2)) is None
    assert change_between(cell(1, 0, 2), {**cell(1, 0, 2), "suppressed": True}) is None
    assert change_between(cell(math.nan, None, None), cell(1, 0, 2)) is None


def test_what_cannot_be_judged_is_not_judged() -> None:
    # No interval (a count of open cases).
    assert change_between(cell(10, None, None), cell(5, None, None)).real is None
    # Bounds from the low and high eligible estimates are not a sampling interval.
    ranged = "range from the low and high estimates of eligible people"
    assert change_between(cell(0.9, 0.85, 0.95, ranged), cell(0.5, 0.45, 0.55, ranged)).real is None
    assert change_between(cell(0.9, 0.85, 0.95, "published rate; the publisher gives no counts"),
                          cell(0.5, 0.45, 0.55)).real is None  # fmt: skip
    # A provisional on-time rate reads high for a known reason.
    provisional = "provisional: 29% of cases not yet past their deadline"
    change = change_between(cell(0.88, 0.87, 0.89, provisional), cell(0.80, 0.79, 0.81))
    assert change.real is None and change.direction == "up"
    # A note that is neither leaves the test as it is.
    assert change_between(cell(0.88, 0.87, 0.89, "closed cases only: biased low"), cell(0.80, 0.79, 0.81)).real
