"""Cases and reference tables read from the store once per refresh, prepared for indicators.

Durations come from the stored UTC timestamps; local dates (periods, working days, due
dates) from the configured time zone. A case closed after `as_of` is treated as open at
`as_of`, and a case opened after it is left out, so a refresh with an earlier cut-off
reproduces what was known then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, String, func, select, type_coerce

from metrics.config import Settings
from metrics.periods import period_index, period_starts
from metrics.store.arrow import categories, read_table, timestamps
from metrics.store.models import Case, CaseGroup, EligiblePopulation, Population
from metrics.workdays import WorkingCalendar, calendar_for

NOT_STATED = "Not stated"
STAMPS = ("opened_at", "first_response_at", "closed_at", "due_at")


@dataclass
class CaseData:
    settings: Settings
    as_of: pd.Timestamp  # UTC, naive
    cases: pd.DataFrame
    populations: pd.DataFrame
    eligible: pd.DataFrame
    calendar: WorkingCalendar
    # The first case's local opening date in the whole store, when `cases` holds only some
    # of them (an incremental refresh): periods are numbered from it either way.
    first: np.datetime64 | None = None
    # Only these periods' figures are wanted (an incremental refresh): an indicator that
    # loops over periods may skip the others. None: all of them.
    focus: dict[str, np.ndarray] | None = None
    _periods: dict[str, np.ndarray] = field(default_factory=dict)
    # Work shared by every indicator of one refresh (slicings, period of each case...).
    memo: dict[object, object] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[str, ...]:
        return self.settings.dimensions

    @property
    def first_date(self) -> np.datetime64:
        if self.first is not None:
            return self.first
        if self.cases.empty:  # a store of published tables only: periods start at as_of
            return self.as_of_date
        return self.cases["opened_date"].to_numpy().min().astype("datetime64[D]")

    @cached_property
    def as_of_date(self) -> np.datetime64:
        return np.datetime64(to_local(pd.Series([self.as_of]), self.settings.timezone).iloc[0].date(), "D")

    def wanted(self, grain: str, start: np.datetime64) -> bool:
        return self.focus is None or bool(np.isin(start, self.focus.get(grain, ())))

    def periods(self, grain: str) -> np.ndarray:
        """Period start dates of a grain, from the first case's period to as_of's."""
        if grain not in self._periods:
            self._periods[grain] = period_starts(grain, self.first_date, self.as_of_date)
        return self._periods[grain]

    def period_of(self, grain: str, dates: np.ndarray) -> np.ndarray:
        return period_index(grain, self.periods(grain), dates)


def to_local(utc: pd.Series, timezone: str) -> pd.Series:
    return pd.to_datetime(utc).dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)


def latest_timestamp(engine: Engine) -> dt.datetime | None:
    with engine.connect() as conn:
        row = conn.execute(select(func.max(Case.opened_at), func.max(Case.closed_at))).one()
    stamps = [s for s in row if s is not None]
    return max(stamps) if stamps else None


def load_case_data(settings: Settings, engine: Engine) -> CaseData:
    from metrics.lookups import with_store_lookups

    # Holidays and make-up working days loaded from tables count like the config's.
    settings = with_store_lookups(settings, engine)
    as_of = resolve_as_of(settings, engine)
    cases = read_cases(engine, settings, as_of)
    populations, eligible = read_reference(engine)
    # Published take-up tables make figures of their own (a ministry may load them before
    # its case feed is connected); otherwise a store without cases has nothing to show.
    published = eligible["recipients"].notna() | eligible["rate"].notna()
    if cases.empty and not (settings.as_of is not None and published.any()):
        raise EmptyStore(f"no case was opened on or before as_of {as_of:%Y-%m-%d %H:%M} UTC")
    return prepare(settings, as_of, cases, populations, eligible)


def resolve_as_of(settings: Settings, engine: Engine) -> pd.Timestamp:
    """The cut-off in UTC: the configured one, or the newest timestamp in the store."""
    as_of = settings.as_of
    if as_of is not None:
        # A cut-off written without an offset is a local wall-clock time, like every date
        # a ministry writes in its config.
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=settings.tz)
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    as_of = as_of or latest_timestamp(engine)
    if as_of is None:
        raise EmptyStore("the store holds no cases yet: run `civic-metrics etl run` first")
    return pd.Timestamp(as_of)


def read_reference(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    with engine.connect() as conn:
        populations = pd.read_sql(select(Population.__table__), conn)
        eligible = pd.read_sql(select(EligiblePopulation.__table__), conn)
    return populations, eligible


def prepare(
    settings: Settings,
    as_of: pd.Timestamp,
    cases: pd.DataFrame,
    populations: pd.DataFrame,
    eligible: pd.DataFrame,
    first: dt.date | None = None,
) -> CaseData:
    """CaseData over `cases` (all of them, or those of some periods when `first` gives the
    store's first opening date), with due dates on the working-day calendar."""
    start = first
    if start is None:
        start = cases["opened_date"].min().date() if len(cases) else as_of.date()
    cal = calendar_for(settings.calendar, start, as_of.date())
    data = CaseData(settings, as_of, cases, populations, eligible, cal)
    if first is not None:
        data.first = np.datetime64(first, "D")
    _add_due_dates(data)
    return data


class EmptyStore(Exception):
    pass


def read_cases(
    engine: Engine, settings: Settings, as_of: pd.Timestamp, where: Any = None, few: bool = False
) -> pd.DataFrame:
    """Cases opened by as_of (and matching `where`, a condition on the cases table), as
    they were known at as_of. `few`: `where` picks some hundred cases at most."""
    t = Case.__table__
    stamps = [t.c[c] for c in STAMPS]
    if engine.dialect.name == "sqlite":
        # SQLite keeps date-times as ISO text, which SQLAlchemy parses one value at a time;
        # Arrow parses the whole column at once.
        stamps = [type_coerce(c, String).label(c.name) for c in stamps]
    cols = [
        t.c.case_key,
        t.c.service,
        t.c.department,
        t.c.channel,
        t.c.region,
        *stamps,
        t.c.outcome,
        t.c.citizen_key,
        t.c.handoffs,
        t.c.reopened,
        t.c.rating,
    ]
    query = select(*cols)
    # One join per configured attribute gives a wide frame straight from the database.
    for attr in settings.groups:
        g = CaseGroup.__table__.alias(f"g_{attr}")
        query = query.add_columns(g.c.value.label(attr)).outerjoin(
            g, (g.c.case_key == t.c.case_key) & (g.c.attribute == attr)
        )
    query = query.where(t.c.opened_at <= as_of.to_pydatetime())
    if where is not None:
        query = query.where(where)
    table = read_table(engine, query, few=few)
    df = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    # Text with few values (slices, outcomes) as categoricals: a small integer per case, not
    # a Python string; the keys stay text (repeat contacts order ties by them).
    for col in table.column_names:
        column = table.column(col)
        if col in STAMPS:
            df[col] = timestamps(column).to_numpy()
        elif col in settings.groups:
            df[col] = categories(column, fill=settings.groups[col].not_stated)
        elif col in ("service", "department", "channel", "region"):
            df[col] = categories(column, fill=NOT_STATED)
        elif col == "outcome":
            df[col] = categories(column)
        elif col in ("case_key", "citizen_key"):
            df[col] = column.cast(pa.string()).to_pandas() if len(column) else pd.Series([], dtype=object)
        elif col == "rating":
            df[col] = column.cast(pa.float64()).to_pandas()
        else:
            df[col] = column.cast(pa.int64()).to_pandas()
    # What was known at as_of: a later closure is still open then.
    df.loc[df["closed_at"] > as_of, "closed_at"] = pd.NaT
    df.loc[df["first_response_at"] > as_of, "first_response_at"] = pd.NaT
    df["closed"] = df["closed_at"].notna()
    end = df["closed_at"].fillna(as_of)
    df["duration_days"] = (end - df["opened_at"]).dt.total_seconds() / 86400.0
    tz = settings.timezone
    df["opened_date"] = to_local(df["opened_at"], tz).dt.floor("D")
    df["closed_date"] = to_local(df["closed_at"], tz).dt.floor("D")
    return df


def _add_due_dates(data: CaseData) -> None:
    df = data.cases
    deadlines = {k: s.deadline_working_days for k, s in data.settings.services.items()}
    n = df["service"].map(deadlines).astype("float").fillna(-1).astype(np.int64).to_numpy()
    due = data.calendar.due_dates(df["opened_date"].to_numpy().astype("datetime64[D]"), n)
    # A due time from the source system overrides the service deadline.
    given = to_local(df["due_at"], data.settings.timezone).dt.floor("D").to_numpy().astype("datetime64[D]")
    due = np.where(np.isnat(given), due, given)
    df["due_date"] = due
    closed_date = df["closed_date"].to_numpy().astype("datetime64[D]")
    has_due = ~np.isnat(due)
    determined = has_due & (df["closed"].to_numpy() | (data.as_of_date > due))
    df["determined"] = determined
    df["on_time"] = determined & df["closed"].to_numpy() & (closed_date <= due)
