"""Edge cases of the incremental refresh, each on a few hand-made cases: the refresh after
them must store exactly what a full computation gives (or fall back to a full refresh, or
refuse to overwrite newer figures)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, insert, select

from etl.runner import _list_changes
from metrics.config import CalendarSettings, MetricsSettings, Service, Settings, StoreSettings
from metrics.refresh import RefreshConflict, refresh
from metrics.store.db import engine_for, upgrade
from metrics.store.models import Case, CaseGroup, MetricCell, RefreshRun
from tests.metrics.test_incremental import assert_same, full_cells, stored_cells

DEPARTMENTS = {"pothole": "Transport", "benefit": "Social"}


@pytest.fixture
def store(store_url: str) -> Iterator[tuple[Settings, Engine]]:
    settings = Settings(
        store=StoreSettings(url=store_url),
        timezone="Europe/London",
        calendar=CalendarSettings(holiday_country=None),
        services={
            "pothole": Service(department="Transport", deadline_working_days=5),
            "benefit": Service(department="Social", deadline_working_days=20, entitlement=True),
        },
        metrics=MetricsSettings(grains=("week", "month", "quarter", "year"), dimensions=("region", "service")),
    )
    engine = engine_for(settings)
    upgrade(engine)
    yield settings, engine
    engine.dispose()


def load(engine: Engine, cases: list[dict], run_id: int) -> None:
    """Write cases as the ETL does (listing each with the version it replaces)."""

    def ts(x: object) -> dt.datetime | None:
        return None if x is None else pd.Timestamp(x).to_pydatetime()

    with engine.begin() as conn:
        keys = [c["case_key"] for c in cases]
        existing = set(conn.execute(select(Case.case_key).where(Case.case_key.in_(keys))).scalars())
        changed = [k for k in keys if k in existing]
        _list_changes(conn, run_id, keys, changed)
        conn.execute(delete(CaseGroup).where(CaseGroup.case_key.in_(changed)))
        conn.execute(delete(Case).where(Case.case_key.in_(changed)))
        rows = [
            {
                "case_key": c["case_key"], "source": "s", "source_id": c["case_key"],
                "service": c.get("service", "pothole"), "department": DEPARTMENTS[c.get("service", "pothole")],
                "channel": "web", "region": c.get("region", "North"), "opened_at": ts(c["opened_at"]),
                "first_response_at": None, "closed_at": ts(c.get("closed_at")), "due_at": None,
                "outcome": c.get("outcome"), "citizen_key": c.get("citizen_key"), "handoffs": 0, "reopened": 0,
                "rating": None, "row_hash": "x", "etl_run_id": run_id,
            }
            for c in cases
        ]  # fmt: skip
        conn.execute(insert(Case), rows)


def days(n: int, start: str = "2025-01-06 09:00", closed: bool = True) -> list[dict]:
    t0 = pd.Timestamp(start)
    return [
        {
            "case_key": f"c{i}",
            "opened_at": t0 + pd.Timedelta(days=3 * i),
            "closed_at": t0 + pd.Timedelta(days=3 * i, hours=1) if closed else None,
            "region": "North" if i % 2 else "South",
        }
        for i in range(n)
    ]


def test_a_case_new_since_the_last_refresh_and_changed_again_counts_in_every_backlog(store) -> None:
    settings, engine = store
    load(engine, days(30), run_id=1)
    assert refresh(settings, engine).mode == "full"
    # A late-keyed case from weeks ago, open, then edited by a second batch before any refresh:
    # the version the first batch wrote was never seen by a refresh.
    load(engine, [{"case_key": "late", "opened_at": "2025-02-03 09:00", "region": "East"}], run_id=2)
    load(engine, [{"case_key": "late", "opened_at": "2025-02-03 09:00", "region": "East",
                   "closed_at": "2025-03-20 12:00"}], run_id=3)  # fmt: skip
    r = refresh(settings, engine)
    assert r.mode == "incremental"
    assert_same(stored_cells(engine), full_cells(settings, engine), "after two batches")


def test_backlog_age_keeps_its_zero_bands_when_nothing_is_open(store) -> None:
    settings, engine = store
    settings = settings.model_copy(update={"as_of": dt.datetime(2025, 3, 31, 23, 0)})
    load(engine, days(25), run_id=1)  # every case closed within the hour
    assert refresh(settings, engine).mode == "full"
    load(engine, [{"case_key": "n1", "opened_at": "2025-02-11 09:00", "closed_at": "2025-02-11 10:00"}], run_id=2)
    assert refresh(settings, engine).mode == "incremental"
    assert_same(stored_cells(engine), full_cells(settings, engine), "all closed")


def test_a_store_of_published_tables_only_refreshes_again_in_full(store) -> None:
    settings, engine = store
    from metrics.store.models import EligiblePopulation

    settings = settings.model_copy(update={"as_of": dt.datetime(2024, 12, 31, 23, 0)})
    with engine.begin() as conn:
        conn.execute(
            insert(EligiblePopulation),
            [{"year": 2024, "programme": "benefit", "region": "North", "attribute": "", "group_value": "",
              "eligible": 1000.0, "recipients": 600.0, "etl_run_id": 1}],
        )  # fmt: skip
    assert refresh(settings, engine).mode == "full"
    again = refresh(settings, engine)
    assert (again.mode, again.reason) == ("full", "no case opened by as_of")
    assert_same(stored_cells(engine), full_cells(settings, engine), "published only")


def test_a_refresh_that_finishes_second_on_older_data_writes_nothing(store) -> None:
    """`metrics refresh` by hand while the worker's refresh runs: the one that read older
    data and finishes last must not overwrite the other's figures."""
    settings, engine = store
    load(engine, days(40, closed=True), run_id=1)
    load(engine, [{"case_key": "open", "opened_at": "2025-01-12 09:00"}], run_id=1)
    assert refresh(settings, engine).mode == "full"
    load(engine, [{"case_key": "late1", "opened_at": "2025-01-15 09:00", "closed_at": "2025-01-20 09:00"}], run_id=2)
    overlapped = []

    def meanwhile(msg: str) -> None:
        # The first refresh has read everything and is about to write: another load and a
        # whole refresh land first.
        if msg.startswith("writing") and not overlapped:
            load(engine, [{"case_key": "open", "opened_at": "2025-01-12 09:00", "closed_at": "2025-04-02 12:00"}], 3)
            overlapped.append(refresh(settings, engine))

    with pytest.raises(RefreshConflict, match="finished while this one ran"):
        refresh(settings, engine, progress=meanwhile)
    assert overlapped and overlapped[0].mode == "incremental"
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(RefreshRun.status).order_by(RefreshRun.id))]
    assert statuses == ["succeeded", "failed", "succeeded"]
    assert_same(stored_cells(engine), full_cells(settings, engine), "after the overlap")
    assert refresh(settings, engine).mode == "incremental"
    assert_same(stored_cells(engine), full_cells(settings, engine), "the next refresh")


def test_an_open_case_whose_deadline_passes_is_counted_late_in_its_week(store) -> None:
    """Nothing about the case changes, only as_of: its on-time status becomes known. Its
    week's medians are short and settled, so only the deadline says the week changed."""
    settings, engine = store
    t0 = pd.Timestamp("2025-01-06 09:00")
    quick = [
        {"case_key": f"q{i}", "opened_at": t0 + pd.Timedelta(minutes=90 * i),
         "closed_at": t0 + pd.Timedelta(minutes=90 * i + 30)}
        for i in range(60)
    ]  # fmt: skip
    quick.append({"case_key": "waiting", "opened_at": "2025-01-06 09:30", "region": "North"})  # due 13 January
    # The last refresh's as_of falls on the due date, in the next week.
    quick.append({"case_key": "monday", "opened_at": "2025-01-13 08:00", "closed_at": "2025-01-13 08:30"})
    load(engine, quick, run_id=1)
    assert refresh(settings, engine).mode == "full"
    load(engine, [{"case_key": "next", "opened_at": "2025-01-20 09:00"}], run_id=2)
    assert refresh(settings, engine).mode == "incremental"
    assert_same(stored_cells(engine), full_cells(settings, engine), "after the deadline passed")
    with engine.connect() as conn:
        week = conn.execute(
            select(MetricCell.value, MetricCell.n).where(
                MetricCell.metric == "on_time_rate", MetricCell.grain == "week",
                MetricCell.period == dt.date(2025, 1, 6), MetricCell.dims_key == "",
            )
        ).one()  # fmt: skip
    assert (week.value, week.n) == (60 / 61, 61)
