"""The working-day clock: holidays of the configured country plus the ministry's own dates.

Due date (METRICS.md): d0 = local opening date, rolled forward to a working day if it is
not one; the due date is N working days after that (numpy.busday_offset(d0, N,
roll="forward") semantics), with extra working days (weekend make-up days) honoured, which
numpy's weekmask cannot express; hence an explicit sorted array of working days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import holidays
import numpy as np

from metrics.config import CalendarSettings


@dataclass(frozen=True)
class WorkingCalendar:
    settings: CalendarSettings
    first: dt.date
    last: dt.date

    @cached_property
    def holidays(self) -> np.ndarray:
        days: set[dt.date] = set(self.settings.extra_holidays)
        if self.settings.holiday_country:
            years = range(self.first.year, self.last.year + 1)
            days |= set(
                holidays.country_holidays(
                    self.settings.holiday_country,
                    subdiv=self.settings.holiday_subdivision,
                    years=years,
                )
            )
        return np.array(sorted(days), dtype="datetime64[D]")

    @cached_property
    def working_days(self) -> np.ndarray:
        days = np.arange(np.datetime64(self.first, "D"), np.datetime64(self.last, "D") + 1, dtype="datetime64[D]")
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        work = (weekday < 5) & ~np.isin(days, self.holidays)
        work |= np.isin(days, np.array(self.settings.extra_working_days, dtype="datetime64[D]"))
        return days[work]

    def due_dates(self, opened: np.ndarray, working_days: np.ndarray) -> np.ndarray:
        """Due date per case (NaT where the deadline is unknown, i.e. negative)."""
        opened = np.asarray(opened, dtype="datetime64[D]")
        n = np.asarray(working_days)
        wd = self.working_days
        start = np.searchsorted(wd, opened, side="left")  # first working day >= d0
        idx = start + np.where(n >= 0, n, 0)
        ok = (n >= 0) & ~np.isnat(opened) & (idx < wd.size)
        out = np.full(opened.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        out[ok] = wd[idx[ok]]
        return out

    def is_working_day(self, day: dt.date) -> bool:
        d = np.datetime64(day, "D")
        i = np.searchsorted(self.working_days, d)
        return bool(i < self.working_days.size and self.working_days[i] == d)


def calendar_for(settings: CalendarSettings, first: dt.date, last: dt.date) -> WorkingCalendar:
    # Pad the range: deadlines of up to a few months run past the last case.
    return WorkingCalendar(settings, first - dt.timedelta(days=7), last + dt.timedelta(days=400))
