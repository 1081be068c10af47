"""Real 311 files through the real CLI, checked against an independent computation.

NYC 311 (2019-12-31 evening; 2013-12-25) and Boston 311 (2019, animal/pest subset) are
loaded by config alone (`nyc_2019.yaml`, `nyc_2013.yaml`, `boston_2019.yaml` beside this
file), with the CLI as a user runs it: `init`, `etl run`, `metrics refresh`,
`metrics export`. The figures exported are then recomputed here straight from the raw CSV,
without any product code: pandas for the time zone, `scipy.stats.ecdf` on
`scipy.stats.CensoredData` for the Kaplan-Meier median (open cases censored at `as_of`),
and a plain Python loop over the rows for the on-time rate (METRICS.md, "Due date").
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from tests.realdata.conftest import load_template
from tests.support import run

pytestmark = pytest.mark.realdata

HERE = Path(__file__).resolve().parent
TZ = "America/New_York"
MIN_CELL = 10
KM_TOLERANCE = 1e-9  # METRICS.md: S(t) <= 0.5 compared with this tolerance
NOT_STATED = "Not stated"


@dataclass(frozen=True)
class Spec:
    """What the test itself reads from a raw file (independently of the YAML mapping)."""

    name: str  # the config file stem and the ETL job name
    csv: str  # path under data/real
    fmt: str  # pandas format of the local timestamps
    key: str
    created: str
    closed: str
    due: str
    region: str
    # The data README's own profile: Kaplan-Meier median, and open cases already past
    # their due date at the file's last timestamp (None where it gives no figure).
    readme_km_median_hours: float
    readme_open_past_due: int | None
    region_names: tuple[tuple[str, str], ...] = ()  # file label -> region ('' = not stated)


NYC_BOROUGHS = (
    ("BRONX", "Bronx"),
    ("BROOKLYN", "Brooklyn"),
    ("MANHATTAN", "Manhattan"),
    ("QUEENS", "Queens"),
    ("STATEN ISLAND", "Staten Island"),
    ("Unspecified", ""),
)
SPECS = {
    s.name: s
    for s in (
        Spec(
            "nyc_2019",
            "nyc_311/nyc_311_2019-12-31_evening_1000rows.csv",
            "ISO8601",
            "unique_key",
            "created_date",
            "closed_date",
            "due_date",
            "borough",
            6.0,
            None,
            NYC_BOROUGHS,
        ),
        Spec(
            "nyc_2013",
            "nyc_311/nyc_311_2013-12-25.csv",
            "%m/%d/%Y %I:%M:%S %p",
            "Unique Key",
            "Created Date",
            "Closed Date",
            "Due Date",
            "Borough",
            48.0,
            15,
            NYC_BOROUGHS,
        ),
        Spec(
            "boston_2019",
            "boston_311/boston_311_2019_animal_pest_subset.csv",
            "%Y-%m-%d %H:%M:%S",
            "case_enquiry_id",
            "open_dt",
            "closed_dt",
            "sla_target_dt",
            "neighborhood",
            90.0,
            818,
        ),
    )
}
NAMES = list(SPECS)
GRAINS = ("year", "month")
BREAKDOWNS = ((), ("region",))


# --- the product, through its CLI ---------------------------------------------------------


def invoke(config: Path, *args: str) -> str:
    return run(config, *args).output


@dataclass
class Store:
    spec: Spec
    folder: Path
    config: Path
    db: Path
    etl_output: str

    def export(self, metric: str, grain: str, by: tuple[str, ...] = ()) -> tuple[Path, list[dict]]:
        out = self.folder / f"{metric}-{grain}-{'-'.join(by) or 'all'}.json"
        if not out.exists():
            by_args = [a for dim in by for a in ("--by", dim)]
            invoke(
                self.config,
                "metrics",
                "export",
                "--metric",
                metric,
                "--grain",
                grain,
                *by_args,
                "--format",
                "json",
                "--out",
                str(out),
            )
        return out, json.loads(out.read_text(encoding="utf-8"))

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql, params).fetchall()


def load(spec: Spec, real: Path, folder: Path) -> Store:
    db = folder / "store.db"
    config, etl_output = load_template(spec.name, real, folder)
    return Store(spec, folder, config, db, etl_output)


@pytest.fixture(scope="module")
def store(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Store]:
    cache: dict[str, Store] = {}

    def get(name: str) -> Store:
        if name not in cache:
            cache[name] = load(SPECS[name], real_data, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


# --- the independent computation, from the raw CSV ----------------------------------------


@dataclass
class Raw:
    frame: pd.DataFrame  # one row per source row
    as_of_local: pd.Timestamp  # naive New York wall clock
    as_of_utc: pd.Timestamp  # tz-aware UTC

    @property
    def good(self) -> pd.DataFrame:
        return self.frame[~self.frame["quarantined"]]


def read_raw(spec: Spec, real: Path) -> Raw:
    src = pd.read_csv(real / spec.csv, dtype=str, keep_default_na=False, encoding="utf-8")
    f = pd.DataFrame({"row": np.arange(1, len(src) + 1), "key": src[spec.key].str.strip()})
    region = src[spec.region].str.strip()
    if spec.region_names:
        region = region.map(dict(spec.region_names))
        assert region.notna().all(), "a region label the test does not know"
    f["region"] = region.where(region != "", NOT_STATED)
    for name, col in (("opened", spec.created), ("closed", spec.closed), ("due", spec.due)):
        text = src[col].str.strip()
        local = pd.to_datetime(text.where(text != ""), format=spec.fmt)  # unreadable: raises
        f[f"{name}_local"] = local
        # These files hold no time inside a clock change, so nothing is ambiguous.
        f[f"{name}_utc"] = local.dt.tz_localize(TZ, ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    assert f["opened_local"].notna().all()
    as_of_local = max(f["opened_local"].max(), f["closed_local"].max())
    as_of_utc = as_of_local.tz_localize(TZ).tz_convert("UTC")
    # The only defect in these files that a loader must refuse (data READMEs).
    f["quarantined"] = (f["closed_utc"] < f["opened_utc"]).fillna(False)
    # Known at as_of: a closure after it would still be open (none is, as_of is the latest).
    f["closed"] = f["closed_utc"].notna() & (f["closed_utc"] <= as_of_utc)
    end = f["closed_utc"].where(f["closed"], as_of_utc)
    f["days"] = (end - f["opened_utc"]).dt.total_seconds() / 86400.0
    f["year"] = f["opened_local"].dt.strftime("%Y-01-01")
    f["month"] = f["opened_local"].dt.strftime("%Y-%m-01")
    return Raw(f, as_of_local, as_of_utc)


@pytest.fixture(scope="module")
def raw(real_data: Path) -> Callable[[str], Raw]:
    cache: dict[str, Raw] = {}

    def get(name: str) -> Raw:
        if name not in cache:
            cache[name] = read_raw(SPECS[name], real_data)
        return cache[name]

    return get


def km_median(days: np.ndarray, closed: np.ndarray) -> float:
    """Smallest time with S(t) <= 0.5 on scipy's product-limit curve; NaN if never."""
    if not closed.any():
        return math.nan
    sf = stats.ecdf(stats.CensoredData(uncensored=days[closed], right=days[~closed])).sf
    hit = sf.probabilities <= 0.5 + KM_TOLERANCE
    return float(sf.quantiles[hit][0]) if hit.any() else math.nan


Key = tuple[str, str | None]  # (period, region or None for the whole population)


def cell_keys(f: pd.DataFrame, grain: str, by: tuple[str, ...]) -> Iterator[tuple[Key, pd.DataFrame]]:
    for k, part in f.groupby([grain, *by], sort=True):
        yield (k[0], k[1] if by else None), part


def expected_km(raw: Raw, grain: str, by: tuple[str, ...]) -> dict[Key, tuple[int, float]]:
    return {
        k: (len(p), km_median(p["days"].to_numpy(), p["closed"].to_numpy())) for k, p in cell_keys(raw.good, grain, by)
    }


def expected_closed_median(raw: Raw, grain: str, by: tuple[str, ...]) -> dict[Key, tuple[int, float]]:
    closed = raw.good[raw.good["closed"]]
    return {k: (len(p), float(p["days"].median())) for k, p in cell_keys(closed, grain, by)}


def expected_on_time(raw: Raw, grain: str, by: tuple[str, ...]) -> dict[Key, tuple[int, int]]:
    """Brute force, row by row: {cell: (determined, on time)} for cells with any determined."""
    as_of_date = raw.as_of_local.date()
    out: dict[Key, tuple[int, int]] = {}
    for r in raw.good.itertuples(index=False):
        if pd.isna(r.due_local):
            continue
        due = r.due_local.date()  # local dates straight from the file's wall clock
        if not (r.closed or as_of_date > due):
            continue
        on_time = bool(r.closed and r.closed_local.date() <= due)
        key = (getattr(r, grain), r.region if by else None)
        determined, hits = out.get(key, (0, 0))
        out[key] = (determined + 1, hits + on_time)
    return out


def compare(
    records: list[dict], expected: dict[Key, tuple], by: tuple[str, ...], match: Callable[[dict, tuple], None]
) -> int:
    """Every exported cell against the expected one, small cells suppressed; returns how
    many cells were compared by value."""
    got: dict[Key, dict] = {}
    for r in records:
        assert set(r["dims"]) == set(by), r
        got[(r["period"], r["dims"].get("region"))] = r
    assert sorted(got) == sorted(expected)
    compared = 0
    for key, rec in got.items():
        n = expected[key][0]
        if n < MIN_CELL:
            assert rec["suppressed"] and rec["value"] is None, (key, rec)
        elif rec["suppressed"]:  # hidden only so that a smaller one cannot be recovered
            assert by and "would reveal" in rec.get("note", ""), (key, rec)
        else:
            assert rec["n"] == n, (key, rec, expected[key])
            match(rec, expected[key])
            compared += 1
    return compared


def assert_days(rec: dict, exp: tuple[int, float]) -> None:
    value = exp[1]
    if math.isnan(value):
        assert rec["value"] is None and "not reached" in rec.get("note", ""), rec
    else:
        assert rec["value"] is not None and abs(rec["value"] - value) <= 1e-9, (rec, value)


# --- loading ------------------------------------------------------------------------------


SUMMARY = re.compile(r"(\w+): read ([\d,]+) = loaded ([\d,]+) \(.*\) \+ quarantined ([\d,]+)")


@pytest.mark.parametrize("name", NAMES)
def test_rows_read_equal_loaded_plus_quarantined(name: str, store, raw) -> None:
    s, r = store(name), raw(name)
    ((job, read, loaded, quarantined),) = [
        (m[1], *(int(x.replace(",", "")) for x in m.groups()[1:])) for m in SUMMARY.finditer(s.etl_output)
    ]
    assert job == name
    assert read == loaded + quarantined == len(r.frame)
    assert s.query("SELECT status, rows_read, rows_loaded, rows_quarantined FROM etl_runs WHERE job = ?", name) == [
        ("succeeded", read, loaded, quarantined)
    ]
    assert s.query("SELECT count(*) FROM cases WHERE source = ?", name) == [(loaded,)]
    rows = {n for (n,) in s.query("SELECT row_number FROM quarantine WHERE job = ?", name)}
    assert rows == set(r.frame.loc[r.frame["quarantined"], "row"])


@pytest.mark.parametrize("name", NAMES)
def test_stored_timestamps_are_the_local_times_in_utc(name: str, store, raw) -> None:
    s, r = store(name), raw(name)
    with closing(sqlite3.connect(s.db)) as conn:
        cases = pd.read_sql("SELECT source_id, region, opened_at, closed_at, due_at FROM cases", conn).set_index(
            "source_id"
        )
    good = r.good.set_index("key")
    assert sorted(cases.index) == sorted(good.index)
    cases = cases.loc[good.index]
    for field in ("opened", "closed", "due"):
        stored = pd.to_datetime(cases[f"{field}_at"])
        want = good[f"{field}_utc"].dt.tz_localize(None)
        assert (stored.isna() == want.isna()).all(), field
        assert (stored[want.notna()] == want[want.notna()]).all(), field
    assert (cases["region"] == good["region"]).all()


def test_nyc_2013_closed_before_created_is_quarantined(store) -> None:
    s = store("nyc_2013")
    [(reason, raw_json)] = s.query("SELECT reason, raw FROM quarantine WHERE job = 'nyc_2013'")
    assert json.loads(raw_json)["Unique Key"] == "26984786"
    assert reason == "closed_at: before opened_at"


@pytest.mark.parametrize("name", NAMES)
def test_as_of_is_the_latest_timestamp_in_the_file(name: str, store, raw) -> None:
    s, r = store(name), raw(name)
    configured = yaml.safe_load(s.config.read_text(encoding="utf-8"))["as_of"]
    assert pd.Timestamp(configured) == r.as_of_utc
    _, records = s.export("resolution_days_median", "year")
    assert {rec["as_of"] for rec in records} == {r.as_of_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}


# --- indicators against the independent computation ---------------------------------------


@pytest.mark.parametrize("by", BREAKDOWNS, ids=["all", "region"])
@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize("name", NAMES)
def test_resolution_days_median_is_the_km_median(name: str, grain: str, by, store, raw) -> None:
    _, records = store(name).export("resolution_days_median", grain, by)
    compared = compare(records, expected_km(raw(name), grain, by), by, assert_days)
    assert compared >= (2 if by else 1)  # the whole file, or several regions, by value


@pytest.mark.parametrize("by", BREAKDOWNS, ids=["all", "region"])
@pytest.mark.parametrize("name", NAMES)
def test_resolution_days_median_closed(name: str, by, store, raw) -> None:
    _, records = store(name).export("resolution_days_median_closed", "year", by)
    assert compare(records, expected_closed_median(raw(name), "year", by), by, assert_days) >= 1


def assert_proportion(rec: dict, exp: tuple[int, int]) -> None:
    determined, on_time = exp
    assert (rec["numerator"], rec["denominator"]) == (on_time, determined), rec
    assert rec["value"] == on_time / determined, rec


@pytest.mark.parametrize("by", BREAKDOWNS, ids=["all", "region"])
@pytest.mark.parametrize("grain", GRAINS)
@pytest.mark.parametrize("name", NAMES)
def test_on_time_rate_is_the_brute_force_count(name: str, grain: str, by, store, raw) -> None:
    _, records = store(name).export("on_time_rate", grain, by)
    compared = compare(records, expected_on_time(raw(name), grain, by), by, assert_proportion)
    if name != "nyc_2019":  # 3 due dates in 1,000 rows: suppressed, checked as such
        assert compared >= (2 if by else 1)


@pytest.mark.parametrize("name", NAMES)
def test_headline_figures_agree_with_the_data_readme(name: str, store, raw) -> None:
    """The data README's own profile: another person's computation, given to 0.1 h."""
    spec, s = SPECS[name], store(name)
    _, [rec] = s.export("resolution_days_median", "year")
    assert rec["value"] * 24 == pytest.approx(spec.readme_km_median_hours, abs=0.15)
    if spec.readme_open_past_due is not None:
        # Determined = closed with a due date + open and already past it.
        good = raw(name).good
        closed_with_due = int((good["closed"] & good["due_local"].notna()).sum())
        _, [rec] = s.export("on_time_rate", "year")
        assert rec["denominator"] == closed_with_due + spec.readme_open_past_due


# The days the product stores its curve at, written out: this file uses no product code.
CURVE_DAYS = (1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 180, 365)


def km_curve(days: np.ndarray, closed: np.ndarray) -> list[float | None]:
    """S at each of CURVE_DAYS on scipy's product-limit curve; None past the longest time
    any case was followed, unless every case has closed by then."""
    if not closed.any():
        return [1.0 if d <= days.max() else None for d in CURVE_DAYS]
    sf = stats.ecdf(stats.CensoredData(uncensored=days[closed], right=days[~closed])).sf
    return [float(sf.evaluate(d)) if d <= days.max() or sf.evaluate(d) == 0 else None for d in CURVE_DAYS]


@pytest.mark.parametrize("by", BREAKDOWNS, ids=["all", "region"])
@pytest.mark.parametrize("name", NAMES)
def test_still_open_share_is_the_km_curve(name: str, by, store, raw) -> None:
    """The resolution curve at every stored day is scipy's Kaplan-Meier estimate of the raw
    file's cells, and falls to one half exactly where the stored median says."""
    s = store(name)
    _, records = s.export("still_open_share", "year", ("days", *by))
    got: dict[Key, dict[int, dict]] = {}
    for r in records:
        got.setdefault((r["period"], r["dims"].get("region")), {})[int(r["dims"]["days"])] = r
    expected = {k: (len(p), km_curve(p["days"].to_numpy(), p["closed"].to_numpy()))
                for k, p in cell_keys(raw(name).good, "year", by)}  # fmt: skip
    assert sorted(got) == sorted(expected)
    _, medians = s.export("resolution_days_median", "year", by)
    median = {(r["period"], r["dims"].get("region")): r["value"] for r in medians}
    compared = 0
    for key, (n, curve) in expected.items():
        assert sorted(got[key]) == list(CURVE_DAYS)
        for day, want in zip(CURVE_DAYS, curve, strict=True):
            rec = got[key][day]
            if n < MIN_CELL or rec["suppressed"]:
                assert rec["suppressed"] and rec["value"] is None and (n < MIN_CELL or by), (key, rec)
                continue
            assert rec["n"] == n
            if want is None:
                assert rec["value"] is None and "not known" in rec["note"], (key, day, rec)
                continue
            assert rec["value"] == pytest.approx(want, abs=1e-9), (key, day, rec)
            if median.get(key) is not None:
                assert (rec["value"] <= 0.5 + KM_TOLERANCE) == (day >= median[key]), (key, day, rec, median[key])
            compared += 1
    assert compared >= 5


# --- the export contract ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_exports_follow_the_contract(name: str, store, check_export_tool: Path) -> None:
    s = store(name)
    for metric in (
        "cases_opened",
        "resolution_days_median",
        "resolution_days_median_closed",
        "on_time_rate",
        "backlog_open",
    ):
        for grain in GRAINS:
            for by in BREAKDOWNS:
                path, records = s.export(metric, grain, by)
                assert records, (metric, grain, by)
                done = subprocess.run(
                    [sys.executable, str(check_export_tool), str(path), "--min-cell", str(MIN_CELL)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, done.stdout + done.stderr
                assert done.stdout.splitlines()[-1].startswith("0 problems"), done.stdout


def test_refresh_of_every_indicator(real_data: Path, tmp_path: Path) -> None:
    """311 files carry no ratings: satisfaction is missing, shown as no figure, never 0."""
    s = load(SPECS["nyc_2019"], real_data, tmp_path)  # a store of its own
    invoke(s.config, "metrics", "refresh")
    out = invoke(s.config, "metrics", "export", "--metric", "satisfied_share", "--grain", "year")
    assert json.loads(out) == []
