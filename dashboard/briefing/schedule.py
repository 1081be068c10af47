"""When the worker writes a briefing: last month's, from the configured working day on.

The worker's `report` step can fire every working day (cron `0 7 * * 1-5`): it writes last
month's briefing in each of `reports.languages` on the `reports.working_day`-th working day
of the month, or on the first firing after it (a worker that was down catches up), and does
nothing once that month's briefings are recorded. Working days are the refresh's own
(`metrics.workdays`): the holiday calendar, extra closures and make-up days of config.yaml
and the store's holiday tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine

from dashboard.briefing import content, records
from dashboard.formatting import add_months
from metrics.config import Settings
from metrics.workdays import calendar_for


class BriefingNotReady(RuntimeError):
    """Last month has no figures yet on the day its briefing is due. Transient: the data may
    still be loaded, and the next firing (or the worker's retry) tries again."""

    transient = True


def nth_working_day(settings: Settings, month: dt.date, n: int) -> dt.date:
    """The `n`-th working day of `month` (1-based), by the configured calendar."""
    first = month.replace(day=1)
    last = add_months(first, 1) - dt.timedelta(days=1)
    days = [d for d in calendar_for(settings.calendar, first, last).working_days.astype(object) if first <= d <= last]
    if n > len(days):
        raise ValueError(f"{first:%Y-%m} has {len(days)} working days, fewer than reports.working_day = {n}")
    return days[n - 1]


def due_period(settings: Settings, today: dt.date) -> dt.date | None:
    """Last month, once today is on or past this month's briefing day; else None."""
    this_month = today.replace(day=1)
    if today < nth_working_day(settings, this_month, settings.reports.working_day):
        return None
    return add_months(this_month, -1)


def run_due(engine: Engine, settings: Settings, say: Callable[[str], None], today: dt.date | None = None) -> list[str]:
    """Write the briefings that are due and not yet recorded; returns the files written."""
    from metrics.lookups import with_store_lookups

    settings = with_store_lookups(settings, engine)
    today = today or dt.datetime.now(settings.tz).date()
    period = due_period(settings, today)
    if period is None:
        day = nth_working_day(settings, today.replace(day=1), settings.reports.working_day)
        say(f"briefing: not due until {day:%Y-%m-%d} (working day {settings.reports.working_day} of the month)")
        return []
    written = []
    for lang in settings.reports.languages:
        if records.is_recorded(engine, period, lang, "pdf"):
            say(f"briefing {period:%Y-%m} ({lang}): already written")
            continue
        try:
            w = records.write(engine, settings, period, lang, "pdf", made_by="worker")
        except content.NoFigures as exc:
            raise BriefingNotReady(f"briefing {period:%Y-%m} is due but cannot be written: {exc}") from None
        say(f"briefing {period:%Y-%m} ({lang}): {w.path} ({w.pages} pages)")
        written.append(str(w.path))
    return written
