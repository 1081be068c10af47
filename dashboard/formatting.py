"""Numbers and dates as the dashboard writes them, in plain English.

Values follow the indicator's unit: proportions as percentages, days and hours with one
decimal, counts with thousands separators, rates per 1,000 with two decimals. Changes are
signed with a true minus sign, proportions' changes in percentage points ("pts").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

MINUS = "\u2212"
NOT_AVAILABLE = "Not available"


def is_number(x: Any) -> bool:
    """True for a real, finite-or-infinite number; False for None, NaN and non-numbers."""
    if x is None or isinstance(x, bool):
        return False
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _decimals(unit: str) -> int:
    if unit in ("proportion", "days", "hours"):
        return 1
    if unit in ("per_1000", "score", "ratio"):
        return 2
    if unit == "index":
        return 3
    if unit == "points":
        return 1
    if unit == "count":
        return 0
    raise ValueError(
        f"unknown unit {unit!r}; expected count, per_1000, days, hours, score, ratio, index, points or proportion"
    )


def _scaled(x: float, unit: str) -> float:
    return x * 100 if unit == "proportion" else x


def format_value(value: Any, unit: str) -> str:
    """A value in its unit; "Not available" (never blank, never 0) when there is none."""
    _decimals(unit)  # reject unknown units even for missing values
    if not is_number(value):
        return NOT_AVAILABLE
    x = float(value)
    if unit == "proportion":
        return f"{x * 100:.1f}%"
    if unit == "days":
        return f"{x:.1f} days"
    if unit == "hours":
        return f"{x:.1f} hours"
    if unit == "per_1000":
        return f"{x:.2f} per 1,000"
    if unit == "score":
        return f"{x:.2f} out of 5"
    if unit == "ratio":
        return f"{x:.2f}×"
    if unit == "index":
        return f"{x:.3f}"
    if unit == "points":
        return f"{x:.1f} pts"
    return f"{round(x):,}"


def format_change(diff: float, unit: str) -> str | None:
    """A signed change in the unit ("+2.1 pts", "−0.4 days", "+1,250"); None when it rounds
    to zero at the precision values are shown with."""
    d = _decimals(unit)
    x = round(_scaled(float(diff), unit), d)
    if x == 0:
        return None
    sign = "+" if x > 0 else MINUS
    mag = f"{abs(x):,.{d}f}"
    suffix = {"proportion": " pts", "points": " pts", "days": " days", "hours": " hours", "per_1000": " per 1,000"}
    return f"{sign}{mag}{suffix.get(unit, '')}"


def month_label(period: dt.date) -> str:
    """ "October 2026"."""
    return f"{period:%B %Y}"


def short_month(period: dt.date) -> str:
    """ "Oct 2026"."""
    return f"{period:%b %Y}"


def month_param(period: dt.date) -> str:
    """The month as it appears in a link: "2026-10"."""
    return f"{period:%Y-%m}"


def parse_month(text: str | None) -> dt.date | None:
    """ "2026-10" or "2026-10-01" as the first day of that month; None when not a month."""
    if not text:
        return None
    try:
        if len(text) == 7:
            return dt.datetime.strptime(text, "%Y-%m").date()
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day.replace(day=1)


def add_months(period: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before, when negative) `period`'s."""
    index = period.year * 12 + period.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_runs(periods: Iterable[dt.date]) -> str:
    """Months as compact runs: "Nov 2023 to Oct 2024, Mar 2025"."""
    ps = sorted({p.replace(day=1) for p in periods})
    runs: list[tuple[dt.date, dt.date]] = []
    for p in ps:
        if runs and add_months(runs[-1][1], 1) == p:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return ", ".join(short_month(a) if a == b else f"{short_month(a)} to {short_month(b)}" for a, b in runs)


def format_day(day: dt.date | dt.datetime) -> str:
    """ "31 October 2026"."""
    return f"{day.day} {day:%B %Y}"
