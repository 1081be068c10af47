"""Numbers and dates as the dashboard writes them, in the reader's language.

Babel formats every number and date for the locale of the current language
(`dashboard.i18n`): thousands separators, decimal marks, month names. Values follow the
indicator's unit: proportions as percentages, days and hours with one decimal, counts whole,
rates per 1,000 with two decimals. Changes are signed with a true minus sign, proportions'
changes in percentage points ("pts").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

from dashboard.i18n import N_, _, locale

MINUS = "\u2212"
NOT_AVAILABLE = N_("Not available")


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
    template: str  # a value in words, "{v}" the number ("{v} days")
    change_template: str  # a change, "{v}" the signed number ("{v} pts")
    axis_format: str  # d3 format of chart ticks
    hover_format: str  # d3 format in chart hover labels
    axis_title: str
    scale: float = 1.0  # proportions are shown as percentages


UNITS: dict[str, UnitFormat] = {
    "proportion": UnitFormat(1, N_("{v}%"), N_("{v} pts"), ".0%", ".1%", N_("Percent"), scale=100),
    "days": UnitFormat(1, N_("{v} days"), N_("{v} days"), ".1f", ".1f", N_("Days")),
    "hours": UnitFormat(1, N_("{v} hours"), N_("{v} hours"), ".1f", ".1f", N_("Hours")),
    "count": UnitFormat(0, "{v}", "{v}", ",d", ",.0f", N_("Number")),
    "per_1000": UnitFormat(2, N_("{v} per 1,000"), N_("{v} per 1,000"), ".2f", ".2f", N_("Per 1,000 residents")),
    "score": UnitFormat(2, N_("{v} out of 5"), "{v}", ".2f", ".2f", N_("Score (1-5)")),
    "ratio": UnitFormat(2, "{v}×", "{v}", ".2f", ".2f", N_("Ratio")),
    "index": UnitFormat(3, "{v}", "{v}", ".3f", ".3f", N_("Index")),
    "points": UnitFormat(1, N_("{v} pts"), N_("{v} pts"), ".1f", ".1f", N_("Percentage points")),
}


def unit_format(unit: str) -> UnitFormat:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {sorted(UNITS)}")
    return UNITS[unit]


def axis_title(unit: str) -> str:
    return _(unit_format(unit).axis_title)


def format_number(x: float, decimals: int = 0) -> str:
    """A number with the locale's separators and exactly `decimals` decimals."""
    return _decimal(round(float(x), decimals), decimals, locale())


# Babel parses the locale and the pattern on every call (a fifth of a millisecond); a page
# writes thousands of numbers and dates, most of them many times (periods, targets).
@lru_cache(maxsize=65536)
def _decimal(x: float, decimals: int, locale_id: str) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(x, format=pattern, locale=locale_id)


@lru_cache(maxsize=65536)
def _skeleton(skeleton: str, when: dt.date | dt.datetime, locale_id: str) -> str:
    return format_skeleton(skeleton, when, locale=locale_id)


def format_count(x: Any) -> str:
    """A whole number ("12,345"); "" when there is none."""
    return format_number(float(x)) if is_number(x) else ""


def format_value(value: Any, unit: str) -> str:
    """A value in its unit; "Not available" (never blank, never 0) when there is none."""
    f = unit_format(unit)  # reject unknown units even for missing values
    if not is_number(value):
        return _(NOT_AVAILABLE)
    return _(f.template).format(v=format_number(float(value) * f.scale, f.decimals))


def format_change(diff: float, unit: str) -> str | None:
    """A signed change in the unit ("+2.1 pts", "−0.4 days", "+1,250"); None when it rounds
    to zero at the precision values are shown with."""
    f = unit_format(unit)
    x = round(float(diff) * f.scale, f.decimals)
    if x == 0:
        return None
    sign = "+" if x > 0 else MINUS
    return _(f.change_template).format(v=sign + format_number(abs(x), f.decimals))


def month_label(period: dt.date) -> str:
    """ "October 2026" (2026年10月)."""
    return _skeleton("yMMMM", period, locale())


def short_month(period: dt.date) -> str:
    """ "Oct 2026"."""
    return _skeleton("yMMM", period, locale())


def period_label(period: dt.date, grain: str) -> str:
    """A period of any grain in words: "Week of 5 Oct 2026", "October 2026", "Q4 2026", "2026"."""
    if grain == "week":
        return _("Week of {day}").format(day=_skeleton("yMMMd", period, locale()))
    if grain == "quarter":
        return _skeleton("yQQQ", period, locale())
    if grain == "year":
        return _skeleton("y", period, locale())
    return month_label(period)


def period_param(period: dt.date, grain: str = "month") -> str:
    """A period as it appears in a link: "2026-10" for months, the start day otherwise."""
    return f"{period:%Y-%m}" if grain == "month" else period.isoformat()


def month_param(period: dt.date) -> str:
    """The month as it appears in a link: "2026-10"."""
    return period_param(period, "month")


def parse_month(text: str | None) -> dt.date | None:
    """ "2026-10" or "2026-10-01" as the first day of that month; None when not a month."""
    day = parse_day(text)
    return None if day is None else day.replace(day=1)


def parse_day(text: str | None) -> dt.date | None:
    """ "2026-10-05", or "2026-10" as its first day; None when not a date."""
    if not text:
        return None
    try:
        if len(text) == 7:
            return dt.datetime.strptime(text, "%Y-%m").date()
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


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
    return _(", ").join(
        short_month(a) if a == b else _("{first} to {last}").format(first=short_month(a), last=short_month(b))
        for a, b in runs
    )


def format_day(day: dt.date | dt.datetime) -> str:
    """ "31 October 2026" (2026年10月31日)."""
    return format_date(day, "long", locale=locale())


def format_time(moment: dt.datetime) -> str:
    """ "14:05"."""
    return format_skeleton("Hm", moment, locale=locale())
