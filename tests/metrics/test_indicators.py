"""Every indicator against an independent brute-force computation over the fixture rows.

The fixture is a few hundred random cases (seeded) written as a source CSV and loaded
through the real ETL into a real SQLite file, then refreshed. The brute force below reads
the same CSV with the standard library and loops over rows the slow, obvious way: its own
working-day clock, its own Kaplan-Meier, its own backlog. Open cases, closures after
as_of, a public holiday, an extra closure day, a Saturday make-up working day, local
midnight around the clock change and small cells (suppression) are all in the fixture.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd
import pytest

from tests.support import run, write_config

TZ = ZoneInfo("Europe/London")
UTC = dt.UTC
AS_OF = dt.datetime(2025, 4, 20, 12, 0, tzinfo=UTC)
MIN_CELL = 5
EXTRA_HOLIDAY = dt.date(2025, 2, 14)
EXTRA_WORKING = dt.date(2025, 3, 8)  # a Saturday
DEADLINES = {"fast": 2, "slow": 5, "benefit": 10}
REGIONS = ["North", "South"]
AGES = ["Young", "Old"]
POP = {
    ("North", ""): 12000,
    ("South", ""): 3000,
    ("North", "Young"): 7000,
    ("North", "Old"): 4000,
    ("North", "Not stated"): 1000,
    ("South", "Young"): 1000,
    ("South", "Old"): 1800,
    ("South", "Not stated"): 200,
}
ELIGIBLE = {"North": 150, "South": 40}


def make_cases(seed: int = 7, n: int = 420) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng(seed + 1)
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    span = (AS_OF - start).total_seconds()
    rows = []
    for i in range(n):
        opened = start + dt.timedelta(seconds=float(rng.uniform(0, span)))
        if i % 37 == 0:  # just before local midnight, where UTC and local dates differ
            local = opened.astimezone(TZ).replace(hour=23, minute=30)
            opened = local.astimezone(UTC)
            if opened > AS_OF:
                opened -= dt.timedelta(days=3)
        service = str(rng.choice(["fast", "slow", "benefit"], p=[0.5, 0.3, 0.2]))
        closed = None
        if rng.random() < 0.85:
            closed = opened + dt.timedelta(days=float(rng.exponential(4 if service != "slow" else 9)))
        outcome = ""
        if closed is not None:
            outcome = str(rng.choice(["granted", "refused", "withdrawn"])) if service == "benefit" else "resolved"
        rating = str(int(rng.integers(1, 6))) if closed is not None and rng.random() < 0.3 else ""
        rows.append(
            {
                "id": f"K{i:04d}",
                "opened": opened.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
                "closed": "" if closed is None else closed.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
                "service": service,
                "channel": str(rng.choice(["phone", "web"])),
                "region": str(rng.choice(REGIONS, p=[0.8, 0.2])),
                "age": str(rng.choice(["Young", "Old", ""], p=[0.5, 0.4, 0.1])),
                "citizen": f"P{int(rng.integers(0, 60)):03d}",
                "outcome": outcome,
                "rating": rating,
                **extra_fields(extra, opened, closed),
            }
        )
    # Cases whose on-time verdict depends on the calendar: each closes on a day that is
    # on time under the configured calendar and late under a plain Monday-Friday one, or
    # the other way round.
    crafted = [
        ("2025-03-07 10:00:00", "2025-03-11 10:00:00"),  # Saturday 8 March is a working day
        ("2025-02-13 10:00:00", "2025-02-18 10:00:00"),  # Friday 14 February is closed
        ("2024-12-24 10:00:00", "2024-12-30 16:00:00"),  # Christmas and Boxing Day
        ("2025-03-08 09:00:00", "2025-03-12 09:00:00"),  # opened on the make-up Saturday
        ("2024-10-27 01:30:00", "2024-10-29 01:30:00"),  # the autumn clock change hour
    ]
    for j, (opened, closed) in enumerate(crafted * 3):
        rows.append(
            {
                "id": f"X{j:03d}",
                "opened": opened,
                "closed": closed,
                "service": "fast",
                "channel": "phone",
                "region": "North",
                "age": "Old",
                "citizen": f"Q{j:03d}",
                "outcome": "resolved",
                "rating": "",
                "first": "",
                "moves": "0",
                "reopened": "0",
            }
        )
    # Edges of the citizen indicators: two cases of one person opened at the same instant
    # (ties ordered by case key), a case closed the instant it opened, a return exactly 7
    # days after closing and one just over.
    base = {"service": "slow", "channel": "web", "region": "North", "age": "Young", "outcome": "resolved",
            "rating": "", "first": "", "moves": "0", "reopened": "0"}  # fmt: skip
    rows += [
        {**base, "id": "Y1", "citizen": "T1", "opened": "2025-01-13 10:00:00", "closed": "2025-01-14 10:00:00"},
        {**base, "id": "Y0", "citizen": "T1", "opened": "2025-01-13 10:00:00", "closed": "2025-01-15 10:00:00"},
        {**base, "id": "Y2", "citizen": "T2", "opened": "2025-01-20 09:00:00", "closed": "2025-01-20 09:00:00"},
        {**base, "id": "Y3", "citizen": "T3", "opened": "2025-01-06 09:00:00", "closed": "2025-01-08 09:00:00"},
        {**base, "id": "Y4", "citizen": "T3", "opened": "2025-01-15 09:00:00", "closed": "2025-01-16 09:00:00"},
        {**base, "id": "Y5", "citizen": "T3", "opened": "2025-01-23 09:00:01", "closed": "2025-01-24 09:00:00"},
    ]
    return rows


def extra_fields(rng: np.random.Generator, opened: dt.datetime, closed: dt.datetime | None) -> dict[str, str]:
    first = ""
    if rng.random() < 0.8:
        answered = opened + dt.timedelta(hours=float(rng.exponential(20)))
        if closed is None or answered <= closed:
            first = answered.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "first": first,
        "moves": str(int(rng.choice([0, 0, 0, 1, 2]))),
        "reopened": str(int(rng.random() < 0.1)) if closed is not None else "0",
    }


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    rows = make_cases()
    return build_store(tmp_path_factory.mktemp("indicators"), rows), rows


def build_store(
    folder: Path, rows: list[dict[str, str]], population: dict[tuple[str, str], int] = POP,
    combinations: list[list[str]] | None = None,
) -> Path:  # fmt: skip
    """The fixture's source files and config in `folder`, loaded and refreshed; its config."""
    with (folder / "cases.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with (folder / "population.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "region", "attribute", "group", "population"])
        for (region, group), pop in population.items():
            for year in (2024, 2025):
                w.writerow([year, region, "TOTAL" if group == "" else "age_band", group or "TOTAL", pop])
    with (folder / "eligible.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "programme", "region", "attribute", "group", "eligible"])
        for region, e in ELIGIBLE.items():
            for year in (2024, 2025):
                w.writerow([year, "benefit", region, "TOTAL", "TOTAL", e])
    config = write_config(
        folder,
        {
            "timezone": "Europe/London",
            "as_of": AS_OF.isoformat(),
            "calendar": {
                "holiday_country": "GB",
                "holiday_subdivision": "ENG",
                "extra_holidays": [EXTRA_HOLIDAY.isoformat()],
                "extra_working_days": [EXTRA_WORKING.isoformat()],
            },
            "privacy": {"min_cell_size": MIN_CELL},
            "regions": [{"id": r, "area": "Upland" if r == "North" else "Lowland"} for r in REGIONS],
            "groups": {
                "age_band": {"label": {"en": "Age"}, "values": ["Young", "Old", "Not stated"], "reference": "Young"}
            },
            "channels": ["phone", "web"],
            "services": {
                "fast": {"department": "A", "deadline_working_days": DEADLINES["fast"]},
                "slow": {"department": "B", "deadline_working_days": DEADLINES["slow"]},
                "benefit": {"department": "B", "deadline_working_days": DEADLINES["benefit"], "entitlement": True},
            },
            "metrics": {
                "grains": ["month", "quarter"],
                "dimensions": ["region", "service"],
                **({"combinations": combinations} if combinations else {}),
            },
            "etl": {
                "sources": {
                    "cases": {
                        "kind": "cases_csv",
                        "path": "cases.csv",
                        "datetime_format": "%Y-%m-%d %H:%M:%S",
                        "columns": {
                            "source_id": "id",
                            "opened_at": "opened",
                            "closed_at": "closed",
                            "service": "service",
                            "channel": "channel",
                            "region": "region",
                            "citizen_key": "citizen",
                            "outcome": "outcome",
                            "rating": "rating",
                            "first_response_at": "first",
                            "handoffs": "moves",
                            "reopened": "reopened",
                        },
                        "groups": {"age_band": "age"},
                    },
                    "population": {
                        "kind": "population_csv",
                        "path": "population.csv",
                        "total_label": "TOTAL",
                        "columns": {
                            "year": "year",
                            "region": "region",
                            "attribute": "attribute",
                            "group": "group",
                            "population": "population",
                        },
                    },
                    "eligible": {
                        "kind": "eligible_csv",
                        "path": "eligible.csv",
                        "total_label": "TOTAL",
                        "columns": {
                            "year": "year",
                            "programme": "programme",
                            "region": "region",
                            "attribute": "attribute",
                            "group": "group",
                            "eligible": "eligible",
                        },
                    },
                }
            },
        },
    )
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


# --- the brute force -------------------------------------------------------------------------


def parse_local(text: str) -> dt.datetime | None:
    if not text:
        return None
    naive = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    # Ambiguous autumn times are read as the first (summer-time) occurrence: fold=0.
    return naive.replace(tzinfo=TZ).astimezone(UTC)


class Case:
    def __init__(self, row: dict[str, str]):
        self.row = row
        self.opened = parse_local(row["opened"])
        closed = parse_local(row["closed"])
        self.closed = closed if closed is not None and closed <= AS_OF else None
        self.open_date = self.opened.astimezone(TZ).date()
        self.close_date = self.closed.astimezone(TZ).date() if self.closed else None
        self.dims = {"": "", "region": row["region"], "service": row["service"], "age_band": row["age"] or "Not stated"}
        end = self.closed or AS_OF
        self.days = (end - self.opened).total_seconds() / 86400
        first = parse_local(row.get("first", ""))
        self.first = first if first is not None and first <= AS_OF else None
        self.moves = int(row.get("moves") or 0)
        self.reopened = int(row.get("reopened") or 0)
        self.citizen = row["citizen"]
        self.key = "cases:" + row["id"]


GB = holidays.country_holidays("GB", subdiv="ENG", years=range(2023, 2027))


def is_working(d: dt.date) -> bool:
    return d == EXTRA_WORKING or (d.weekday() < 5 and d not in GB and d != EXTRA_HOLIDAY)


def due_date(d0: dt.date, n: int) -> dt.date:
    d = d0
    while not is_working(d):
        d += dt.timedelta(days=1)
    k = 0
    while k < n:
        d += dt.timedelta(days=1)
        if is_working(d):
            k += 1
    return d


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def quarter_start(d: dt.date) -> dt.date:
    return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)


def km_median(durations: list[float], events: list[bool], level: float = 0.5) -> float | None:
    s = 1.0
    for t in sorted({d for d, e in zip(durations, events, strict=True) if e}):
        at_risk = sum(1 for d in durations if d >= t)
        deaths = sum(1 for d, e in zip(durations, events, strict=True) if e and d == t)
        s *= 1 - deaths / at_risk
        if s <= level + 1e-9:
            return t
    return None


def is_repeat(c: Case, everyone: list[Case]) -> bool:
    return any(
        o is not c and o.citizen == c.citizen and o.row["service"] == c.row["service"]
        and (c.opened - dt.timedelta(days=30) <= o.opened < c.opened or (o.opened == c.opened and o.key < c.key))
        for o in everyone
    )  # fmt: skip


def came_back(c: Case, everyone: list[Case]) -> bool:
    return any(
        o.citizen == c.citizen and o.row["service"] == c.row["service"]
        and c.closed < o.opened <= c.closed + dt.timedelta(days=7)
        for o in everyone
    )  # fmt: skip


def proportion_of(members: list[Case], base: Callable[[Case], bool], hit: Callable[[Case], bool]) -> tuple | None:
    pool = [c for c in members if base(c)]
    return (sum(hit(c) for c in pool) / len(pool), len(pool)) if pool else None


def one_dim_at_a_time(c: Case) -> Iterable[tuple[str, str]]:
    """The (dim, value) slices a case falls in: the whole population and one per dimension."""
    return c.dims.items()


def brute_cells(
    rows: list[dict[str, str]], metric: str, grain: str = "month",
    slices: Callable[[Case], Iterable[tuple[str, str]]] = one_dim_at_a_time,
) -> dict[tuple, tuple]:  # fmt: skip
    """(period, dim, value) -> (value, n) for every cell, before suppression."""
    cases = [Case(r) for r in rows if r["closed"] == "" or parse_local(r["closed"]) >= parse_local(r["opened"])]
    start = month_start if grain == "month" else quarter_start
    groups: dict[tuple, list[Case]] = defaultdict(list)
    for c in cases:
        for dim, value in slices(c):
            groups[(start(c.open_date), dim, value)].append(c)
    out: dict[tuple, tuple] = {}
    for key, members in groups.items():
        if metric == "cases_opened":
            out[key] = (len(members), len(members))
        elif metric == "coverage_per_1000":
            _period, dim, value = key
            if dim in ("", "service"):
                pop = POP[("North", "")] + POP[("South", "")]
            elif dim == "region":
                pop = POP[(value, "")]
            else:
                pop = sum(p for (_, g), p in POP.items() if g == value)
            out[key] = (len(members) / pop * 1000, len(members))
        elif metric == "resolution_days_median":
            out[key] = (km_median([c.days for c in members], [c.closed is not None for c in members]), len(members))
        elif metric == "resolution_days_median_closed":
            closed = [c.days for c in members if c.closed is not None]
            if closed:
                out[key] = (statistics.median(closed), len(closed))
        elif metric == "on_time_rate":
            determined = on_time = 0
            for c in members:
                due = due_date(c.open_date, DEADLINES[c.row["service"]])
                if c.closed is not None:
                    determined += 1
                    on_time += c.close_date <= due
                elif AS_OF.astimezone(TZ).date() > due:
                    determined += 1
            if determined:
                out[key] = (on_time / determined, determined)
        elif metric == "satisfied_share":
            ratings = [int(c.row["rating"]) for c in members if c.row["rating"]]
            if ratings:
                out[key] = (sum(r >= 4 for r in ratings) / len(ratings), len(ratings))
        elif metric == "satisfaction_mean":
            ratings = [int(c.row["rating"]) for c in members if c.row["rating"]]
            if ratings:
                out[key] = (statistics.mean(ratings), len(ratings))
        elif metric == "resolution_days_p90":
            out[key] = (km_median([c.days for c in members], [c.closed is not None for c in members], 0.1),
                        len(members))  # fmt: skip
        elif metric == "first_response_hours_median":
            hours = [(c.first - c.opened).total_seconds() / 3600 for c in members if c.first is not None]
            if hours:
                out[key] = (statistics.median(hours), len(hours))
        elif metric in ("handoff_resolution_days_median", "direct_resolution_days_median"):
            pool = [c for c in members if (c.moves > 0) == (metric == "handoff_resolution_days_median")]
            if pool:
                out[key] = (km_median([c.days for c in pool], [c.closed is not None for c in pool]), len(pool))
        elif metric == "decision_days_median":
            pool = [c for c in members if c.row["service"] == "benefit"]
            if pool:
                decided = [c.closed is not None and c.row["outcome"] in ("granted", "refused") for c in pool]
                out[key] = (km_median([c.days for c in pool], decided), len(pool))
        else:
            rule = {
                "grant_rate": (lambda c: c.row["service"] == "benefit" and c.closed is not None
                               and c.row["outcome"] in ("granted", "refused"),
                               lambda c: c.row["outcome"] == "granted"),
                "handoff_rate": (lambda c: True, lambda c: c.moves > 0),
                "reopen_rate": (lambda c: c.closed is not None, lambda c: c.reopened > 0),
                "repeat_contact_rate": (lambda c: True, lambda c: is_repeat(c, cases)),
                "first_contact_resolution_rate": (
                    lambda c: c.closed is not None,
                    lambda c: c.moves == 0 and c.reopened == 0 and not came_back(c, cases),
                ),
            }[metric]  # fmt: skip
            if (got := proportion_of(members, *rule)) is not None:
                out[key] = got
    return out


def brute_backlog(
    rows: list[dict[str, str]], overdue: bool = False,
    slices: Callable[[Case], Iterable[tuple[str, str]]] = one_dim_at_a_time,
) -> dict[tuple, tuple]:  # fmt: skip
    """(month, dim, value) -> (backlog or its overdue part, backlog) at each month's end."""
    cases = [Case(r) for r in rows]
    today = AS_OF.astimezone(TZ).date()
    out = {}
    month = dt.date(2024, 1, 1)
    while month <= AS_OF.date():
        nxt = (month + dt.timedelta(days=32)).replace(day=1)
        last = min(nxt - dt.timedelta(days=1), today)
        counts: dict[tuple, int] = defaultdict(int)
        late: dict[tuple, int] = defaultdict(int)
        seen: set[tuple] = set()
        for c in cases:
            if c.open_date > last:
                continue
            is_open = c.close_date is None or c.close_date > last
            is_late = is_open and due_date(c.open_date, DEADLINES[c.row["service"]]) < last
            for dim, value in slices(c):
                seen.add((dim, value))
                counts[(dim, value)] += is_open
                late[(dim, value)] += is_late
        for dv in seen:
            out[(month, *dv)] = (late[dv] if overdue else counts[dv], counts[dv])
        month = nxt
    return out


def exported(config: Path, metric: str, by: str | None = None, grain: str = "month") -> dict[tuple, dict]:
    args = ["metrics", "export", "--metric", metric, "--grain", grain, "--format", "json"]
    if by:
        args += ["--by", by]
    records = json.loads(run(config, *args).stdout)
    out = {}
    for r in records:
        dim, value = next(iter(r["dims"].items()), ("", ""))
        out[(dt.date.fromisoformat(r["period"]), dim, value)] = r
    return out


def compare(
    config: Path,
    metric: str,
    expected: dict[tuple, tuple],
    grain: str = "month",
    dims: tuple[str | None, ...] = (None, "region", "service", "age_band"),
) -> int:
    compared = 0
    for by in dims:
        got = exported(config, metric, by, grain)
        want = {k: v for k, v in expected.items() if k[1] == (by or "")}
        assert set(got) == set(want), f"{metric} by {by}: cells differ: {set(got) ^ set(want)}"
        for key, (value, n) in want.items():
            rec = got[key]
            if n < MIN_CELL:
                assert rec["suppressed"] and rec["value"] is None and rec["n"] is None, (metric, key, rec)
                continue
            if rec["suppressed"]:  # secondary suppression: a neighbour was small
                assert rec["value"] is None
                continue
            assert rec["n"] == n, (metric, key, rec, n)
            if value is None:
                assert rec["value"] is None and "not reached" in rec.get("note", ""), (metric, key, rec)
            else:
                assert rec["value"] == pytest.approx(value, abs=1e-9), (metric, key, rec, value)
            compared += 1
    return compared


@pytest.mark.parametrize(
    "metric",
    [
        "cases_opened",
        "coverage_per_1000",
        "resolution_days_median",
        "resolution_days_median_closed",
        "on_time_rate",
        "satisfied_share",
        "satisfaction_mean",
        "resolution_days_p90",
        "first_response_hours_median",
        "grant_rate",
        "decision_days_median",
        "repeat_contact_rate",
        "first_contact_resolution_rate",
        "reopen_rate",
        "handoff_rate",
        "handoff_resolution_days_median",
        "direct_resolution_days_median",
    ],
)
@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_indicator_matches_brute_force(fixture_store, metric: str, grain: str) -> None:
    config, rows = fixture_store
    compared = compare(config, metric, brute_cells(rows, metric, grain), grain)
    # The comparison did cover real, unsuppressed cells (decided applications are few, and a
    # count of them equal to its applications' hides with it).
    assert compared >= (3 if metric in ("grant_rate", "decision_days_median") else 10)


def test_backlog_matches_brute_force(fixture_store) -> None:
    config, rows = fixture_store
    assert compare(config, "backlog_open", brute_backlog(rows)) > 10


def test_backlog_overdue_matches_brute_force(fixture_store) -> None:
    config, rows = fixture_store
    assert compare(config, "backlog_overdue", brute_backlog(rows, overdue=True)) > 10


def test_uptake_matches_brute_force(fixture_store) -> None:
    config, rows = fixture_store
    cases = [Case(r) for r in rows]
    first = min(c.open_date for c in cases)
    got = exported(config, "uptake_rate", "region")
    unclaimed = exported(config, "unclaimed_estimate", "region")
    checked = 0
    for (period, _dim, region), rec in got.items():
        last = (period + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        last = min(last, AS_OF.astimezone(TZ).date())
        after = last + dt.timedelta(days=1)
        window_start = after.replace(year=after.year - 1)  # 12 months back, day for day
        if window_start < first:
            assert rec["value"] is None and "12 months" in rec["note"]
            continue
        people = {
            c.row["citizen"]
            for c in cases
            if c.row["service"] == "benefit"
            and c.row["outcome"] == "granted"
            and c.close_date is not None
            and window_start <= c.close_date <= last
            and c.row["region"] == region
        }
        assert rec["numerator"] == len(people)
        assert rec["value"] == pytest.approx(len(people) / ELIGIBLE[region], abs=1e-12)
        assert unclaimed[(period, "region", region)]["value"] == ELIGIBLE[region] - len(people)
        checked += 1
    assert checked >= 4


def test_suppressed_cells_carry_no_number(fixture_store) -> None:
    config, _ = fixture_store
    got = exported(config, "on_time_rate", "region")
    suppressed = [r for r in got.values() if r["suppressed"]]
    assert suppressed, "the fixture has small cells; some must be suppressed"
    for r in suppressed:
        assert all(r[k] is None for k in ("value", "n", "numerator", "denominator", "ci_low", "ci_high"))
        assert "suppressed" in r["note"]


def test_secondary_suppression_protects_the_lonely_small_cell(fixture_store) -> None:
    """Where exactly one region is small, subtracting the other from the total would reveal
    it: the other must be suppressed too."""
    config, _ = fixture_store
    total = exported(config, "cases_opened")
    by_region = exported(config, "cases_opened", "region")
    periods = {k[0] for k in by_region}
    found = 0
    for p in periods:
        cells = [r for k, r in by_region.items() if k[0] == p]
        if total[(p, "", "")]["suppressed"]:
            continue
        hidden = [r for r in cells if r["suppressed"]]
        assert len(hidden) != 1, f"{p}: one region suppressed alone can be recovered from the total"
        found += len(hidden) == 2
    assert found, "the fixture should exercise secondary suppression"


def test_intervals_hold_their_values(fixture_store) -> None:
    config, _ = fixture_store
    for metric in ("on_time_rate", "satisfied_share", "resolution_days_median", "coverage_per_1000"):
        for r in exported(config, metric, "region").values():
            if r["value"] is not None and r["ci_low"] is not None:
                assert r["ci_low"] <= r["value"] + 1e-12
                if r["ci_high"] is not None:
                    assert r["value"] <= r["ci_high"] + 1e-12


def test_every_export_passes_the_contract_checker(fixture_store, tmp_path) -> None:
    import subprocess
    import sys

    from tests.support import SHARED

    checker = SHARED / "tools" / "check_export.py"
    if not checker.exists():
        pytest.skip("../shared/tools/check_export.py not found beside the checkout (CI has it)")
    config, _ = fixture_store
    for metric in (
        "cases_opened",
        "on_time_rate",
        "resolution_days_median",
        "uptake_rate",
        "satisfied_share",
        "backlog_open",
        "coverage_per_1000",
        "resolution_days_median_closed",
    ):
        out = tmp_path / f"{metric}.json"
        run(config, "metrics", "export", "--metric", metric, "--by", "region", "--out", str(out))
        res = subprocess.run(
            [sys.executable, str(checker), str(out), "--min-cell", str(MIN_CELL)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stdout
        assert not math.isnan(len(json.loads(out.read_text())))


def test_recent_on_time_rates_are_marked_provisional(fixture_store) -> None:
    config, rows = fixture_store
    cases = [Case(r) for r in rows if r["closed"] == "" or parse_local(r["closed"]) >= parse_local(r["opened"])]
    today = AS_OF.astimezone(TZ).date()
    got = exported(config, "on_time_rate")
    for (period, _, _), rec in got.items():
        cohort = [c for c in cases if month_start(c.open_date) == period]
        pending = [
            c for c in cohort if c.closed is None and today <= due_date(c.open_date, DEADLINES[c.row["service"]])
        ]
        share = len(pending) / len(cohort)
        if share > 0.05:
            assert rec["note"] == f"provisional: {share:.0%} of cases not yet past their deadline"
        else:
            assert "provisional" not in rec.get("note", "")
    assert "provisional" in got[(dt.date(2025, 4, 1), "", "")]["note"]


def test_suppression_happens_in_the_one_read_path(fixture_store) -> None:
    """The store keeps cells as computed; every reader goes through metrics.query, which
    cannot be called without the threshold and suppresses there."""
    from sqlalchemy import create_engine, select

    from metrics import query
    from metrics.store.models import MetricCell

    config, _ = fixture_store
    engine = create_engine(f"sqlite:///{config.parent / 'store.db'}")
    with engine.connect() as conn:
        small = conn.execute(
            select(MetricCell.period, MetricCell.dims_key, MetricCell.n).where(
                MetricCell.metric == "on_time_rate",
                MetricCell.grain == "month",
                MetricCell.dim_names == "region",
                MetricCell.n < MIN_CELL,
            )
        ).first()
    assert small is not None and small.n < MIN_CELL
    with pytest.raises(TypeError):
        query.read_cells(engine, "on_time_rate", ("region",))  # type: ignore[call-arg]
    df = query.read_cells(engine, "on_time_rate", ("region",), min_cell_size=MIN_CELL)
    row = df[(df["period"] == small.period) & (df["dims_key"] == small.dims_key)].iloc[0]
    assert row["suppressed"] and pd.isna(row["value"]) and pd.isna(row["n"])


@pytest.mark.parametrize(
    "metric", ["coverage_disparity_ratio", "coverage_gini", "coverage_theil", "coverage_theil_between",
               "coverage_theil_within", "service_standard_gap", "timeliness_ratio"],
)  # fmt: skip
def test_across_indicators_match_brute_force(fixture_store, metric: str) -> None:
    config, rows = fixture_store
    opened = brute_cells(rows, "cases_opened")
    on_time = brute_cells(rows, "on_time_rate")
    median = brute_cells(rows, "resolution_days_median")
    got = exported(config, metric)
    assert got and all(r["across"] == "region" and r["dims"] == {} for r in got.values())
    checked = 0
    for (period, _, _), rec in got.items():
        value, used = brute_across(metric, period, opened, on_time, median)
        if used < 2:
            assert rec["value"] is None and "fewer than two" in rec["note"]
            continue
        if value is None:
            assert rec["value"] is None and "not reached its median" in rec["note"]
            continue
        assert rec["value"] == pytest.approx(value, rel=1e-9, abs=1e-12), (metric, period)
        assert rec["note"] == f"{used} categories of region used"
        checked += 1
    assert checked >= 5


def brute_across(metric: str, period: dt.date, opened: dict, on_time: dict, median: dict) -> tuple[float | None, int]:
    """The across-region figure of one month from the brute-force cells: (value, regions used)."""
    from tests.metrics.test_equity import brute_gini, brute_theil

    def used(cells: dict) -> dict[str, float]:
        return {v: x for (p, d, v), (x, n) in cells.items()
                if p == period and d == "region" and n >= MIN_CELL and x is not None}  # fmt: skip

    if metric.startswith("coverage"):
        counts = used(opened)
        if len(counts) < 2:
            return None, len(counts)
        rate = [counts[r] / POP[(r, "")] * 1000 for r in sorted(counts)]
        pop = [POP[(r, "")] for r in sorted(counts)]
        if metric == "coverage_disparity_ratio":
            return max(rate) / min(rate), len(counts)
        if metric == "coverage_gini":
            return brute_gini(rate, pop), len(counts)
        # One region per area in the fixture: all of the inequality lies between areas.
        return (0.0 if metric == "coverage_theil_within" else brute_theil(rate, pop)), len(counts)
    if metric == "service_standard_gap":
        rates = used(on_time)
        return ((max(rates.values()) - min(rates.values())) * 100 if len(rates) >= 2 else None), len(rates)
    medians = used(median)
    waiting = [
        v for (p, d, v), (x, n) in median.items() if p == period and d == "region" and n >= MIN_CELL and x is None
    ]
    if waiting and len(medians) >= 2:  # a slower category whose median is not known yet
        return None, len(medians)
    return (max(medians.values()) / median[(period, "", "")][0] if len(medians) >= 2 else None), len(medians)


def test_across_asks_for_a_dimension_that_exists(fixture_store) -> None:
    config, _ = fixture_store
    result = run(config, "metrics", "export", "--metric", "coverage_gini", "--across", "channel", ok=False)
    assert result.exit_code != 0 and "not computed across channel" in result.output
    result = run(config, "metrics", "export", "--metric", "on_time_rate", "--across", "region", ok=False)
    assert "is not computed across categories" in result.output


def test_backlog_age_bands_match_brute_force(fixture_store) -> None:
    config, rows = fixture_store
    cases = [Case(r) for r in rows]
    today = AS_OF.astimezone(TZ).date()
    got = exported(config, "backlog_age", "backlog_age")
    checked = 0
    for (period, _, band), rec in got.items():
        last = min((period + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1), today)
        ages = [(last - c.open_date).days for c in cases
                if c.open_date <= last and (c.close_date is None or c.close_date > last)]  # fmt: skip
        lo, hi = {"0-7 days": (0, 7), "8-30 days": (8, 30), "31-90 days": (31, 90), "over 90 days": (91, 10**6)}[band]
        want = sum(lo <= a <= hi for a in ages)
        if want < MIN_CELL:
            assert rec["suppressed"]
        elif not rec["suppressed"]:
            assert rec["value"] == want, (period, band)
            checked += 1
    assert checked >= 10


def test_rating_shares_match_brute_force(fixture_store) -> None:
    config, rows = fixture_store
    cases = [Case(r) for r in rows]
    got = exported(config, "rating_share", "rating")
    for (period, _, score), rec in got.items():
        ratings = [int(c.row["rating"]) for c in cases if c.row["rating"] and month_start(c.open_date) == period]
        if len(ratings) < MIN_CELL:
            assert rec["suppressed"]
            continue
        assert rec["denominator"] == len(ratings) and rec["numerator"] == ratings.count(int(score))
        assert rec["value"] == pytest.approx(ratings.count(int(score)) / len(ratings))
    shares = [r["value"] for (p, _, _), r in got.items() if p == dt.date(2025, 1, 1)]
    assert len(shares) == 5 and sum(shares) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ["cases_opened", "on_time_rate", "satisfied_share", "handoff_rate", "backlog_open"])
def test_slices_and_periods_roll_up_for_additive_statistics(fixture_store, metric: str) -> None:
    """The whole equals the sum of its parts: every dimension's categories add up to the
    whole population, and (for flows) the months of a quarter add up to the quarter."""
    from sqlalchemy import create_engine

    from metrics import query

    config, _ = fixture_store
    engine = create_engine(f"sqlite:///{config.parent / 'store.db'}")

    def cells(by: tuple[str, ...], grain: str = "month") -> pd.DataFrame:
        # Unsuppressed on purpose (threshold 0): additivity is a property of what is stored.
        return query.read_cells(engine, metric, by, grain, min_cell_size=0)

    parts = ["value", "n"] if metric in ("cases_opened", "backlog_open") else ["numerator", "denominator"]
    whole = cells(()).set_index("period")[parts]
    for dim in ("region", "service", "age_band"):
        summed = cells((dim,)).groupby("period")[parts].sum()
        pd.testing.assert_frame_equal(summed.loc[whole.index], whole, check_dtype=False)
    if metric != "backlog_open":  # a stock does not add up over time
        months = cells(()).assign(q=lambda f: [dt.date(p.year, (p.month - 1) // 3 * 3 + 1, 1) for p in f["period"]])
        quarters = cells((), "quarter").set_index("period")[parts]
        pd.testing.assert_frame_equal(months.groupby("q")[parts].sum().loc[quarters.index], quarters,
                                      check_dtype=False, check_names=False)  # fmt: skip
