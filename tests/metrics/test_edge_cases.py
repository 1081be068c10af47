"""Edge cases with a clear result, not a crash: a slice with no cases, all cases open, a
case closed before it was opened, a region without population, a week without working
days."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from metrics.catalogue import CATALOGUE
from metrics.config import CalendarSettings
from metrics.workdays import WorkingCalendar
from tests.support import run, write_config

# Monday 5 to Friday 9 May 2025 all closed: a week without a working day.
CLOSED_WEEK = [f"2025-05-0{d}" for d in range(5, 10)]


def build(folder: Path, rows: list[list[str]], population: bool = True) -> Path:
    with (folder / "cases.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "opened", "closed", "service", "region"])
        w.writerows(rows)
    with (folder / "population.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "region", "attribute", "group", "population"])
        if population:
            w.writerow([2025, "North", "TOTAL", "TOTAL", 5000])
    config = write_config(folder, {
        "timezone": "Europe/London",
        "as_of": "2025-06-30T12:00:00Z",
        "calendar": {"holiday_country": None, "extra_holidays": CLOSED_WEEK},
        "regions": [{"id": "North"}, {"id": "South"}, {"id": "Empty"}],
        "services": {"repair": {"department": "Housing", "deadline_working_days": 3}},
        "metrics": {"grains": ["week", "month"], "dimensions": ["region"]},
        "etl": {"sources": {
            "population": {"kind": "population_csv", "path": "population.csv", "total_label": "TOTAL",
                           "columns": {"year": "year", "region": "region", "attribute": "attribute", "group": "group",
                                       "population": "population"}},
            "cases": {"kind": "cases_csv", "path": "cases.csv", "datetime_format": "%Y-%m-%d %H:%M",
                      "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "service",
                                  "region": "region"}},
        }},
    })  # fmt: skip
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


def export(config: Path, metric: str, *args: str) -> list[dict]:
    return json.loads(run(config, "metrics", "export", "--metric", metric, *args).stdout)


@pytest.fixture(scope="module")
def all_open(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        [f"N{i}", f"2025-05-{1 + i % 28:02d} 10:00", "", "repair", "North" if i % 3 else "South"] for i in range(60)
    ]
    rows.append(["BAD", "2025-05-10 10:00", "2025-05-01 10:00", "repair", "North"])  # closed before opened
    return build(tmp_path_factory.mktemp("open"), rows)


def test_every_indicator_exports_when_all_cases_are_open(all_open: Path) -> None:
    for metric, definition in CATALOGUE.items():
        args = {"rating_share": ("--by", "rating"), "backlog_age": ("--by", "backlog_age"),
                "still_open_share": ("--by", "days")}.get(metric, ())  # fmt: skip
        records = export(all_open, metric, *args)
        assert all(r["value"] is None or np.isfinite(r["value"]) for r in records), metric
        if definition.unit == "proportion":
            assert all(r["value"] is None or 0 <= r["value"] <= 1 for r in records), metric


def test_median_not_reached_when_nothing_has_closed(all_open: Path) -> None:
    (may,) = [r for r in export(all_open, "resolution_days_median") if r["period"] == "2025-05-01"]
    assert may["value"] is None and may["n"] == 60 and not may["suppressed"]
    assert may["note"] == "not reached: fewer than half of the cases are resolved"
    assert export(all_open, "resolution_days_median_closed") == []  # no closed case: no figure at all


def test_overdue_open_cases_are_late_not_missing(all_open: Path) -> None:
    (may,) = [r for r in export(all_open, "on_time_rate") if r["period"] == "2025-05-01"]
    # Every case is open and by 30 June past its 3-working-day deadline: all late.
    assert may["value"] == 0 and may["denominator"] == 60


def test_a_case_closed_before_it_opened_is_quarantined(all_open: Path) -> None:
    (may,) = [r for r in export(all_open, "cases_opened") if r["period"] == "2025-05-01"]
    assert may["value"] == 60


def test_a_region_without_cases_has_no_figures_and_no_crash(all_open: Path) -> None:
    regions = {r["dims"]["region"] for r in export(all_open, "cases_opened", "--by", "region")}
    assert regions == {"North", "South"}  # Empty has no case: nothing, rather than a 0


def test_a_region_without_population_has_no_coverage_and_says_why(all_open: Path) -> None:
    records = export(all_open, "coverage_per_1000", "--by", "region")
    south = [r for r in records if r["dims"]["region"] == "South"]
    north = [r for r in records if r["dims"]["region"] == "North" and r["period"] == "2025-05-01"]
    assert south and all(r["value"] is None and r["note"] == "no population known for this slice" for r in south)
    assert north[0]["value"] == pytest.approx(40 / 5000 * 1000)


def test_a_week_without_working_days_rolls_the_deadline_on() -> None:
    cal = WorkingCalendar(CalendarSettings(holiday_country=None, extra_holidays=tuple(
        dt.date.fromisoformat(d) for d in CLOSED_WEEK)), dt.date(2025, 4, 1), dt.date(2025, 7, 31))  # fmt: skip
    opened = np.array(["2025-05-06", "2025-05-03"], dtype="datetime64[D]")
    # Tuesday of the closed week: rolls to Monday 12 May, +3 working days = Thursday 15 May.
    # Saturday before it: rolls past the whole week as well.
    np.testing.assert_array_equal(
        cal.due_dates(opened, np.array([3, 3])), np.array(["2025-05-15", "2025-05-15"], dtype="datetime64[D]")
    )


def test_the_closed_week_is_a_period_like_any_other(tmp_path: Path) -> None:
    rows = [
        [f"W{i}", f"2025-05-0{5 + i % 5} 11:00", f"2025-05-1{2 + i % 4} 11:00", "repair", "North"] for i in range(20)
    ]
    config = build(tmp_path, rows)
    weeks = {r["period"]: r for r in export(config, "on_time_rate", "--grain", "week")}
    # Opened in the closed week, closed 12-15 May: all within the deadline of Thursday 15 May.
    assert weeks["2025-05-05"]["value"] == 1 and weeks["2025-05-05"]["n"] == 20
