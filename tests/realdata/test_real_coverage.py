"""Boston 311 (2019) per 1,000 residents of each neighbourhood, through the real CLI.

`boston_2019_coverage.yaml` loads the cases and the ACS neighbourhood populations by config
alone, with a crosswalk between the two files' neighbourhood names (see its comments). The
exported `coverage_per_1000`, `coverage_disparity_ratio` and `coverage_gini` are then
recomputed here from the raw files without product code, with a crosswalk written out again
below (not read from the YAML): cases counted per neighbourhood by their local New York
opening date, residents summed over the parts of each 311 area.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.realdata.conftest import load_template
from tests.support import run

pytestmark = pytest.mark.realdata

CONFIG = "boston_2019_coverage"
CASES_CSV = "boston_311/boston_311_2019_animal_pest_subset.csv"
POPULATION_CSV = "boston_311/population/boston_neighborhood_population_acs.csv"
TZ = "America/New_York"
MIN_CELL = 10
NOT_STATED = "Not stated"
NO_POPULATION = "no population known for this slice"
YEAR = "2019-01-01"
ACS_2019 = "pop 2015-2019"  # the 2019 figure: ACS 5-year estimates are named by their last year

# 311 label -> area; None: an area with no residents of its own (the catch-all).
CASE_AREAS: dict[str, str | None] = {
    "Allston": "Allston / Brighton",
    "Brighton": "Allston / Brighton",
    "Allston / Brighton": "Allston / Brighton",
    "Back Bay": "Back Bay",
    "Beacon Hill": "Beacon Hill",
    "Boston": None,
    "Charlestown": "Charlestown",
    "Chestnut Hill": "West Roxbury",
    "Dorchester": "Dorchester",
    "Downtown / Financial District": "Downtown / Financial District",
    "East Boston": "East Boston",
    "Fenway / Kenmore / Audubon Circle / Longwood": "Fenway / Kenmore / Audubon Circle / Longwood",
    "Greater Mattapan": "Greater Mattapan",
    "Mattapan": "Greater Mattapan",
    "Hyde Park": "Hyde Park",
    "Jamaica Plain": "Jamaica Plain",
    "Mission Hill": "Mission Hill",
    "Roslindale": "Roslindale",
    "Roxbury": "Roxbury",
    "South Boston": "South Boston / South Boston Waterfront",
    "South Boston / South Boston Waterfront": "South Boston / South Boston Waterfront",
    "South End": "South End",
    "West Roxbury": "West Roxbury",
}
# Population-table neighbourhood -> the 311 area it lies in.
POPULATION_AREAS = {
    "Allston": "Allston / Brighton",
    "Brighton": "Allston / Brighton",
    "Back Bay": "Back Bay",
    "West End": "Back Bay",
    "Beacon Hill": "Beacon Hill",
    "Charlestown": "Charlestown",
    "Dorchester": "Dorchester",
    "Downtown": "Downtown / Financial District",
    "North End": "Downtown / Financial District",
    "East Boston": "East Boston",
    "Fenway": "Fenway / Kenmore / Audubon Circle / Longwood",
    "Longwood": "Fenway / Kenmore / Audubon Circle / Longwood",
    "Hyde Park": "Hyde Park",
    "Jamaica Plain": "Jamaica Plain",
    "Mattapan": "Greater Mattapan",
    "Mission Hill": "Mission Hill",
    "Roslindale": "Roslindale",
    "Roxbury": "Roxbury",
    "South Boston": "South Boston / South Boston Waterfront",
    "South Boston Waterfront": "South Boston / South Boston Waterfront",
    "South End": "South End",
    "West Roxbury": "West Roxbury",
}


# --- the product, through its CLI ---------------------------------------------------------


def invoke(config: Path, *args: str) -> str:
    return run(config, *args).output


@dataclass
class Store:
    folder: Path
    config: Path
    db: Path
    etl_output: str

    def export(self, metric: str, *args: str) -> tuple[Path, list[dict]]:
        out = self.folder / f"{metric}{'-'.join(args)}.json".replace(" ", "")
        invoke(self.config, "metrics", "export", "--metric", metric, "--grain", "year", *args, "--out", str(out))
        return out, json.loads(out.read_text(encoding="utf-8"))

    def query(self, sql: str) -> list[tuple]:
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def store(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp(CONFIG)
    config, etl_output = load_template(CONFIG, real_data, folder)
    return Store(folder, config, folder / "store.db", etl_output)


# --- the independent computation, from the raw files --------------------------------------


@dataclass(frozen=True)
class Expected:
    cases: dict[str, int]  # area (or Not stated / Boston) -> cases opened in 2019, local time
    population: dict[str, int]  # area -> residents, 2015-2019 ACS
    rows: int  # rows in the case file

    def rate(self, area: str) -> float | None:
        pop = self.population.get(area)
        return self.cases[area] / pop * 1000 if pop else None

    def used(self) -> dict[str, tuple[float, int]]:
        """Areas that take part in the across-region figures: a rate, and n >= min cell."""
        return {
            a: (rate, self.population[a])
            for a in self.cases
            if (rate := self.rate(a)) is not None and self.cases[a] >= MIN_CELL
        }


@pytest.fixture(scope="module")
def expected(real_data: Path) -> Expected:
    raw = pd.read_csv(real_data / CASES_CSV, dtype=str, keep_default_na=False, encoding="utf-8")
    label = raw["neighborhood"].str.strip()
    assert set(label) - {""} == set(CASE_AREAS), "a neighbourhood label the test does not know"
    area = label.map(lambda s: NOT_STATED if s == "" else CASE_AREAS[s] or s)
    opened = pd.to_datetime(raw["open_dt"], format="%Y-%m-%d %H:%M:%S").dt.tz_localize(TZ)
    closed = pd.to_datetime(raw["closed_dt"].where(raw["closed_dt"] != ""), format="%Y-%m-%d %H:%M:%S")
    refused = (closed.dt.tz_localize(TZ) < opened).fillna(False)  # the one defect a loader must refuse
    assert not refused.any()
    # The period is the local (New York) year of opening.
    in_year = opened.dt.year == 2019
    assert in_year.all()
    cases = area[in_year].value_counts().to_dict()

    with (real_data / POPULATION_CSV).open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 22 and {r["Neighborhoods"] for r in table} == set(POPULATION_AREAS)
    population: dict[str, int] = {}
    for r in table:
        a = POPULATION_AREAS[r["Neighborhoods"]]
        population[a] = population.get(a, 0) + int(r[ACS_2019])
    return Expected(cases, population, len(raw))


# --- tests --------------------------------------------------------------------------------


SUMMARY = re.compile(r"(\w+): read ([\d,]+) = loaded ([\d,]+) \(.*\) \+ quarantined ([\d,]+)")


def test_every_row_is_loaded_and_the_crosswalk_sums_the_parts(store: Store, expected: Expected) -> None:
    runs = {m[1]: tuple(int(x.replace(",", "")) for x in m.groups()[1:]) for m in SUMMARY.finditer(store.etl_output)}
    # 22 neighbourhoods read, all 22 loaded (summed into 17 areas), none quarantined.
    assert runs == {
        "boston_population_2017": (22, 22, 0),
        "boston_population_2019": (22, 22, 0),
        "boston_2019": (expected.rows, expected.rows, 0),
    }
    stored = dict(store.query("SELECT region, population FROM populations WHERE year = 2019 AND attribute = ''"))
    assert stored == expected.population
    assert len(stored) == 17
    assert store.query("SELECT DISTINCT year FROM populations ORDER BY year") == [(2017,), (2019,)]


def test_coverage_per_1000_by_neighbourhood(store: Store, expected: Expected, check_export_tool: Path) -> None:
    path, records = store.export("coverage_per_1000", "--by", "region")
    got = {r["dims"]["region"]: r for r in records}
    assert {r["period"] for r in records} == {YEAR}
    assert set(got) == set(expected.cases)
    compared = 0
    for area, rec in got.items():
        n, rate = expected.cases[area], expected.rate(area)
        if n < MIN_CELL:
            assert rec["suppressed"] and rec["value"] is None, rec
            continue
        assert not rec["suppressed"], rec
        assert rec["n"] == rec["numerator"] == n, rec
        if rate is None:
            assert rec["value"] is None and rec["denominator"] is None, rec
            assert rec["note"] == NO_POPULATION, rec
        else:
            assert rec["denominator"] == expected.population[area], rec
            assert rec["value"] == pytest.approx(rate, rel=1e-12), rec
            assert rec.get("note") is None, rec  # the 2019 figure, not a fallback to 2017
            assert rec["ci_low"] < rec["value"] < rec["ci_high"], rec
            compared += 1
    assert compared == 17  # every area with residents; Allston / Brighton ... West Roxbury
    # The regions with no residents: the catch-all and the blank, null and said why, never 0.
    assert {a for a in got if expected.rate(a) is None} == {"Boston", NOT_STATED}
    done = subprocess.run(
        [sys.executable, str(check_export_tool), str(path), "--min-cell", str(MIN_CELL)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("0 problems"), done.stdout


def test_coverage_per_1000_of_the_whole_city(store: Store, expected: Expected) -> None:
    _, [rec] = store.export("coverage_per_1000")
    assert rec["n"] == expected.rows
    assert rec["denominator"] == sum(expected.population.values())
    assert rec["value"] == pytest.approx(expected.rows / sum(expected.population.values()) * 1000, rel=1e-12)


def brute_gini(used: dict[str, tuple[float, int]]) -> float:
    """sum_i sum_j p_i p_j |r_i - r_j| / (2 P^2 rbar), one resident at a time in spirit."""
    total = sum(p for _, p in used.values())
    rbar = sum(r * p for r, p in used.values()) / total
    s = 0.0
    for ri, pi in used.values():
        for rj, pj in used.values():
            s += pi * pj * abs(ri - rj)
    return s / (2 * total * total * rbar)


def test_disparity_and_gini_across_neighbourhoods(store: Store, expected: Expected) -> None:
    used = expected.used()
    assert len(used) == 17
    rates = [r for r, _ in used.values()]
    for metric, want in (
        ("coverage_disparity_ratio", max(rates) / min(rates)),
        ("coverage_gini", brute_gini(used)),
    ):
        _, records = store.export(metric, "--across", "region")
        [rec] = [r for r in records if r["dims"] == {}]
        assert rec["across"] == "region" and rec["period"] == YEAR, rec
        assert rec["value"] == pytest.approx(want, rel=1e-12), (metric, rec, want)
        assert rec["n"] == sum(expected.cases[a] for a in used), rec
        assert rec["note"] == f"{len(used)} categories of region used", rec
