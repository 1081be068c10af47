"""Numbers and dates as the dashboard writes them, in plain English.

Values follow the indicator's unit: proportions as percentages, days and hours with one
decimal, counts with thousands separators, rates per 1,000 with two decimals. Changes are
signed with a true minus sign, proportions' changes in percentage points ("pts").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class UnitFormat:
    """How one unit of the catalogue is written, on tiles and on chart axes."""

    decimals: int
    suffix: str  # after a value ("12.5 days")
    change_suffix: str  # after a change ("+2.1 pts")
    axis_format: str  # d3 format of chart ticks
    hover_format: str  # d3 format in chart hover labels
    axis_title: str
    scale: float = 1.0  # proportions are shown as percentages


UNITS: dict[str, UnitFormat] = {
    "proportion": UnitFormat(1, "%", " pts", ".0%", ".1%", "Percent", scale=100),
    "days": UnitFormat(1, " days", " days", ".1f", ".1f", "Days"),
    "hours": UnitFormat(1, " hours", " hours", ".1f", ".1f", "Hours"),
    "count": UnitFormat(0, "", "", ",d", ",.0f", "Number"),
    "per_1000": UnitFormat(2, " per 1,000", " per 1,000", ".2f", ".2f", "Per 1,000 residents"),
    "score": UnitFormat(2, " out of 5", "", ".1f", ".2f", "Score (1-5)"),
    "ratio": UnitFormat(2, "×", "", ".2f", ".2f", "Ratio"),
    "index": UnitFormat(3, "", "", ".3f", ".3f", "Index"),
    "points": UnitFormat(1, " pts", " pts", ".1f", ".1f", "Percentage points"),
}


def unit_format(unit: str) -> UnitFormat:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {sorted(UNITS)}")
    return UNITS[unit]


def format_value(value: Any, unit: str) -> str:
    """A value in its unit; "Not available" (never blank, never 0) when there is none."""
    f = unit_format(unit)  # reject unknown units even for missing values
    if not is_number(value):
        return NOT_AVAILABLE
    x = float(value) * f.scale
    number = f"{round(x):,}" if f.decimals == 0 else f"{x:.{f.decimals}f}"
    return number + f.suffix


def format_change(diff: float, unit: str) -> str | None:
    """A signed change in the unit ("+2.1 pts", "−0.4 days", "+1,250"); None when it rounds
    to zero at the precision values are shown with."""
    f = unit_format(unit)
    x = round(float(diff) * f.scale, f.decimals)
    if x == 0:
        return None
    sign = "+" if x > 0 else MINUS
    return f"{sign}{abs(x):,.{f.decimals}f}{f.change_suffix}"


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
