"""Combined slices (config `metrics.combinations`): every combined cell the refresh stores
against a brute force over the fixture rows, combined slices rolling up to their parts, the
equal-service indicators within slices, and the export with several --by.

The fixture is the one of test_indicators (same cases, same config) with combinations
region x age_band (written twice, in both orders: one set of cells) and age_band x region x
service, and a population table that gives no residents for South x "Not stated".
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from metrics import query
from metrics.casedata import CaseData
from metrics.cells import parts, slicings
from metrics.config import Settings
from metrics.indicators.experience import satisfaction_mean
from metrics.indicators.timeliness import resolution_days_median_closed
from metrics.indicators.volume import cases_opened, slice_population
from metrics.store.models import MetricCell
from metrics.workdays import calendar_for
from tests.metrics.test_indicators import (
    MIN_CELL,
    POP,
    Case,
    brute_backlog,
    brute_cells,
    build_store,
    make_cases,
    month_start,
)
from tests.support import SHARED, run

PAIR = ("age_band", "region")
PAIR_NAME = ",".join(PAIR)
TRIPLE = ("age_band", "region", "service")
# Without South x "Not stated": that combined slice has no population known.
PARTIAL_POP = {k: v for k, v in POP.items() if k != ("South", "Not stated")}


@pytest.fixture(scope="module")
def combo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    rows = make_cases()
    combos = [["region", "age_band"], ["age_band", "region"], ["service", "age_band", "region"]]
    return build_store(tmp_path_factory.mktemp("combinations"), rows, PARTIAL_POP, combos), rows


def combined(*combos: tuple[str, ...]) -> Callable[[Case], Iterable[tuple[str, str]]]:
    """The brute force's slices of a case: one per combination, keyed as the store keys them."""

    def slices(c: Case) -> Iterable[tuple[str, str]]:
        for combo in combos:
            yield ",".join(combo), "|".join(f"{d}={c.dims[d]}" for d in combo)

    return slices


def stored(config: Path, metric: str, dims: tuple[str, ...], grain: str = "month", across: str = "") -> dict:
    """(period, dims_key) -> cell, as the refresh stored it (before suppression, which the
    read path applies)."""
    engine = create_engine(f"sqlite:///{config.parent / 'store.db'}")
    t = MetricCell.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(
                t.c.metric == metric, t.c.grain == grain, t.c.dim_names == ",".join(dims), t.c.across == across
            )
        ).mappings()
        return {(r["period"], r["dims_key"]): dict(r) for r in rows}


BRUTE_METRICS = [
    "cases_opened",
    "on_time_rate",
    "satisfied_share",
    "satisfaction_mean",
    "handoff_rate",
    "reopen_rate",
    "repeat_contact_rate",
    "first_contact_resolution_rate",
    "grant_rate",
    "resolution_days_median",
    "resolution_days_p90",
    "resolution_days_median_closed",
    "first_response_hours_median",
    "handoff_resolution_days_median",
    "decision_days_median",
]


@pytest.mark.parametrize("metric", BRUTE_METRICS)
@pytest.mark.parametrize("grain", ["month", "quarter"])
@pytest.mark.parametrize("dims", [PAIR, TRIPLE], ids=["pair", "triple"])
def test_combined_cells_match_brute_force(combo_store, metric: str, grain: str, dims: tuple[str, ...]) -> None:
    config, rows = combo_store
    want = {(p, key): v for (p, _dim, key), v in brute_cells(rows, metric, grain, combined(dims)).items()}
    got = stored(config, metric, dims, grain)
    assert want and set(got) == set(want), f"{metric} by {dims}: cells differ: {sorted(set(got) ^ set(want))[:5]}"
    for key, (value, n) in want.items():
        cell = got[key]
        assert cell["n"] == n, (metric, key, cell, n)
        if value is None:
            assert cell["value"] is None and "not reached" in cell["note"], (metric, key, cell)
        else:
            assert cell["value"] == pytest.approx(value, abs=1e-9), (metric, key, cell, value)


@pytest.mark.parametrize("overdue", [False, True])
def test_combined_backlog_matches_brute_force(combo_store, overdue: bool) -> None:
    config, rows = combo_store
    metric = "backlog_overdue" if overdue else "backlog_open"
    for dims in (PAIR, TRIPLE):
        want = {(p, key): v for (p, _d, key), v in brute_backlog(rows, overdue, combined(dims)).items()}
        got = stored(config, metric, dims)
        assert set(got) == set(want), (metric, dims)
        for key, (value, n) in want.items():
            assert (got[key]["value"], got[key]["n"]) == (value, n), (metric, key)


def test_combined_coverage_uses_region_by_group_populations(combo_store) -> None:
    config, rows = combo_store
    counts = brute_cells(rows, "cases_opened", "month", combined(PAIR, TRIPLE))
    cells = {**stored(config, "coverage_per_1000", PAIR), **stored(config, "coverage_per_1000", TRIPLE)}
    assert len(cells) == len(counts)
    missing = 0
    for (period, _dim, key), (count, _n) in counts.items():
        cell = cells[(period, key)]
        d = parts(_dim, key)
        pop = PARTIAL_POP.get((d["region"], d["age_band"]))
        assert cell["n"] == count and cell["numerator"] == count
        if pop is None:  # no residents known: no rate at all, never 0
            assert cell["value"] is None and cell["denominator"] is None, cell
            assert cell["note"] == "no population known for this slice"
            missing += 1
        else:
            assert cell["denominator"] == pop
            assert cell["value"] == pytest.approx(count / pop * 1000, rel=1e-12)
            assert cell["ci_low"] <= cell["value"] <= cell["ci_high"]
    assert missing > 0, "the fixture should have a combined slice without population"


def test_slices_without_a_population_table_have_none() -> None:
    """Two group attributes at once are never in the reference table; channel, service and
    department do not narrow the residents."""
    pop = pd.DataFrame(
        [(2024, "North", "", "", 100), (2024, "North", "age_band", "Old", 40), (2024, "North", "sex", "F", 55),
         (2024, "South", "", "", 50), (2024, "South", "sex", "F", 20)],
        columns=["year", "region", "attribute", "group_value", "population"],
    )  # fmt: skip
    groups = {"age_band": None, "sex": None}
    cells = [
        ("age_band,sex", "age_band=Old|sex=F", np.nan),
        ("age_band,region", "age_band=Old|region=North", 40),
        ("age_band,region", "age_band=Old|region=South", np.nan),  # South gives no age bands
        ("channel,region", "channel=web|region=South", 50),
        ("channel,sex", "channel=web|sex=F", 75),
        ("age_band,channel,region", "age_band=Old|channel=web|region=North", 40),
        ("region", "North", 100),
        ("sex", "F", 75),
        ("", "", 150),
    ]
    dims = np.array([c[0] for c in cells], dtype=object)
    values = np.array([c[1] for c in cells], dtype=object)
    got, year = slice_population(pop, dims, values, np.full(len(cells), 2025), groups)
    np.testing.assert_array_equal(got, [c[2] for c in cells])
    assert ((year == 2024) == ~np.isnan(got)).all()


ADDITIVE = {
    "cases_opened": ("value", "n"),
    "backlog_open": ("value", "n"),
    "backlog_overdue": ("value", "n"),
    "on_time_rate": ("numerator", "denominator"),
    "satisfaction_mean": ("numerator", "denominator"),
    "handoff_rate": ("numerator", "denominator"),
    "grant_rate": ("numerator", "denominator"),
    "resolution_days_median": ("n",),
}


@pytest.mark.parametrize("metric", sorted(ADDITIVE))
@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_combined_slices_roll_up_to_their_parts(combo_store, metric: str, grain: str) -> None:
    """Summing a combined table over one of its dimensions gives the table of the others,
    wherever that table is computed: region x age_band over age bands gives the regions, and
    over regions the age bands; the triple over services gives region x age_band; every
    table sums to the whole population."""
    config, _ = combo_store
    checked = 0
    for dims in (PAIR, TRIPLE):
        table = stored(config, metric, dims, grain)
        for dropped in dims:
            rest = tuple(d for d in dims if d != dropped)
            if len(rest) > 1 and rest != PAIR:
                continue  # region x service and age_band x service are not configured
            sums: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(len(ADDITIVE[metric])))
            for (period, key), cell in table.items():
                d = parts(",".join(dims), key)
                kept = "|".join(f"{k}={d[k]}" for k in rest)
                sums[(period, kept)] += [cell[f] for f in ADDITIVE[metric]]
            whole = stored(config, metric, rest, grain)
            assert set(sums) == set(whole), (metric, dims, dropped)
            for key, total in sums.items():
                np.testing.assert_allclose(total, [whole[key][f] for f in ADDITIVE[metric]], rtol=1e-12)
                checked += 1
        overall = stored(config, metric, (), grain)
        by_period: dict[dt.date, np.ndarray] = defaultdict(lambda: np.zeros(len(ADDITIVE[metric])))
        for (period, _), cell in table.items():
            by_period[period] += [cell[f] for f in ADDITIVE[metric]]
        for period, total in by_period.items():
            np.testing.assert_allclose(total, [overall[(period, "")][f] for f in ADDITIVE[metric]], rtol=1e-12)
    assert checked > 20


# --- in memory: random cases through the real slicing and indicator code ----------------------

REGIONS = ["North", "South", "East"]
AGES = ["Young", "Old", "Not stated"]
CHANNELS = ["phone", "web"]
MEMORY_SETTINGS = Settings.model_validate(
    {
        "groups": {"age_band": {"label": {"en": "Age"}, "values": AGES, "reference": "Young"}},
        "metrics": {
            "grains": ["month", "quarter"],
            "dimensions": ["region", "channel"],
            "combinations": [["region", "age_band"], ["channel", "age_band", "region"]],
        },
    }
)

case_rows = st.lists(
    st.tuples(
        st.sampled_from(REGIONS),
        st.sampled_from(AGES),
        st.sampled_from(CHANNELS),
        st.integers(0, 200),  # opening day after 2025-01-01
        st.one_of(st.none(), st.integers(1, 5)),  # rating
        st.one_of(st.none(), st.floats(0, 60, allow_nan=False)),  # days to closing, None while open
    ),
    min_size=1,
    max_size=80,
)


def memory_data(rows: list[tuple]) -> CaseData:
    """CaseData as load_case_data prepares it, for the columns these indicators read."""
    opened = pd.to_datetime([dt.date(2025, 1, 1) + dt.timedelta(days=r[3]) for r in rows])
    cases = pd.DataFrame(
        {
            "region": [r[0] for r in rows],
            "age_band": [r[1] for r in rows],
            "channel": [r[2] for r in rows],
            "opened_date": opened,
            "rating": pd.array([r[4] for r in rows], dtype="Float64"),
            "closed": [r[5] is not None for r in rows],
            "duration_days": [30.0 if r[5] is None else r[5] for r in rows],
        }
    )
    as_of = pd.Timestamp("2025-07-31")
    cal = calendar_for(MEMORY_SETTINGS.calendar, dt.date(2025, 1, 1), as_of.date())
    return CaseData(MEMORY_SETTINGS, as_of, cases, pd.DataFrame(), pd.DataFrame(), cal)


@settings(max_examples=60, deadline=None)
@given(case_rows)
def test_random_cases_give_combined_cells_that_add_up(rows: list[tuple]) -> None:
    data = memory_data(rows)
    # A slicing's codes name each case's own combination.
    for s in slicings(data):
        if "," in s.dim:
            want = ["|".join(f"{d}={data.cases.at[i, d]}" for d in s.dim.split(",")) for i in range(len(rows))]
            assert list(s.labels[s.codes]) == want
            assert sorted(set(s.codes)) == list(range(len(s.labels)))  # only combinations that occur
    counts = cases_opened(data)
    month = counts[counts["grain"] == "month"]
    cell = {(p, d, v): x for p, d, v, x in month[["period", "dim", "dim_value", "value"]].itertuples(index=False)}
    brute: dict[tuple, int] = defaultdict(int)
    for region, age, channel, day, _rating, _closed in rows:
        p = pd.Timestamp(month_start(dt.date(2025, 1, 1) + dt.timedelta(days=day)))
        brute[(p, "age_band,region", f"age_band={age}|region={region}")] += 1
        brute[(p, "age_band,channel,region", f"age_band={age}|channel={channel}|region={region}")] += 1
    assert {k: v for k, v in cell.items() if "," in k[1]} == brute
    # Rolled up over age bands, region x age_band gives the regions.
    for (p, dim, key), x in cell.items():
        if dim == "region":
            assert x == sum(
                v for (q, d, k), v in brute.items() if q == p and d == PAIR_NAME and parts(d, k)[dim] == key
            )


@settings(max_examples=40, deadline=None)
@given(case_rows)
def test_random_combined_sums_and_medians_match_brute_force(rows: list[tuple]) -> None:
    data = memory_data(rows)
    means = satisfaction_mean(data)
    medians = resolution_days_median_closed(data)
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for r in rows:
        for grain, start in (("month", month_start), ("quarter", quarter_of)):
            p = pd.Timestamp(start(dt.date(2025, 1, 1) + dt.timedelta(days=r[3])))
            groups[(grain, p, f"age_band={r[1]}|region={r[0]}")].append(r)
    for df, column, pick, stat in (
        (means, "numerator", lambda g: [r[4] for r in g if r[4] is not None], sum),
        (medians, "value", lambda g: [r[5] for r in g if r[5] is not None], statistics.median),
    ):
        got = df[df["dim"] == PAIR_NAME]
        got = {(g, p, v): x for g, p, v, x in got[["grain", "period", "dim_value", column]].itertuples(index=False)}
        want = {k: stat(pick(g)) for k, g in groups.items() if pick(g)}
        assert got.keys() == want.keys()
        for k, x in want.items():
            assert got[k] == pytest.approx(x, rel=1e-12, abs=1e-12)


def quarter_of(d: dt.date) -> dt.date:
    return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)


# --- reading and exporting ------------------------------------------------------------------


def test_read_cells_reads_combined_slices_in_any_order(combo_store) -> None:
    config, rows = combo_store
    engine = create_engine(f"sqlite:///{config.parent / 'store.db'}")
    a = query.read_cells(engine, "cases_opened", by=("region", "age_band"), min_cell_size=MIN_CELL)
    b = query.read_cells(engine, "cases_opened", by=("age_band", "region"), min_cell_size=MIN_CELL)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(brute_cells(rows, "cases_opened", "month", combined(PAIR)))
    assert all(set(d) == {"region", "age_band"} for d in a["dims"])
    shown = a[~a["suppressed"]]
    assert len(shown) and (shown["n"] >= MIN_CELL).all()
    # Single-dimension cells keep their keys.
    single = query.read_cells(engine, "cases_opened", by=("region",), min_cell_size=MIN_CELL)
    assert set(single["dims_key"]) == {"region=North", "region=South"}


def check_export(path: Path) -> None:
    checker = SHARED / "tools" / "check_export.py"
    if not checker.exists():
        pytest.skip("../shared/tools/check_export.py not found beside the checkout (CI has it)")
    res = subprocess.run([sys.executable, str(checker), str(path), "--min-cell", str(MIN_CELL)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stdout


@pytest.mark.parametrize("metric", ["cases_opened", "on_time_rate", "coverage_per_1000", "resolution_days_median"])
def test_export_with_two_by_flags(combo_store, tmp_path: Path, metric: str) -> None:
    config, rows = combo_store
    out = tmp_path / f"{metric}.json"
    run(config, "metrics", "export", "--metric", metric, "--by", "region", "--by", "age_band", "--out", str(out))
    check_export(out)
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records and all(set(r["dims"]) == {"region", "age_band"} for r in records)
    # The order of --by does not matter.
    again = run(config, "metrics", "export", "--metric", metric, "--by", "age_band", "--by", "region").stdout
    assert json.loads(again) == records
    if metric == "cases_opened":
        brute = brute_cells(rows, metric, "month", combined(PAIR))
        for r in records:
            key = (dt.date.fromisoformat(r["period"]), PAIR_NAME,
                   f"age_band={r['dims']['age_band']}|region={r['dims']['region']}")  # fmt: skip
            if r["suppressed"]:
                assert r["value"] is None
            else:
                assert r["value"] == brute[key][0]
    # CSV: one column per dimension.
    csv_text = run(config, "metrics", "export", "--metric", metric, "--by", "region", "--by", "age_band",
                   "--format", "csv").stdout  # fmt: skip
    assert csv_text.splitlines()[0].startswith("metric,period,grain,age_band,region,value")


def test_three_dimensions_export(combo_store, tmp_path: Path) -> None:
    config, _ = combo_store
    out = tmp_path / "triple.json"
    run(config, "metrics", "export", "--metric", "handoff_rate", "--by", "service", "--by", "region",
        "--by", "age_band", "--grain", "quarter", "--out", str(out))  # fmt: skip
    check_export(out)
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records and all(set(r["dims"]) == set(TRIPLE) for r in records)


def test_a_combination_not_configured_is_refused(combo_store) -> None:
    config, _ = combo_store
    result = run(config, "metrics", "export", "--metric", "cases_opened", "--by", "region", "--by", "service", ok=False)
    assert result.exit_code != 0 and "not computed by region,service" in result.output


# --- equal service within slices -------------------------------------------------------------


def brute_within(rows: list[dict[str, str]], metric: str) -> dict[tuple, tuple[float | None, int]]:
    """(month, region) -> (the figure across age bands within the region, categories used)."""
    if metric == "coverage_disparity_ratio":
        base = brute_cells(rows, "cases_opened", "month", combined(PAIR))
    elif metric == "service_standard_gap":
        base = brute_cells(rows, "on_time_rate", "month", combined(PAIR))
    else:
        base = brute_cells(rows, "resolution_days_median", "month", combined(PAIR))
        own = brute_cells(rows, "resolution_days_median", "month")
    cats: dict[tuple, dict[str, tuple]] = defaultdict(dict)
    for (period, _d, key), (value, n) in base.items():
        d = parts(PAIR_NAME, key)
        cats[(period, d["region"])][d["age_band"]] = (value, n)
    out = {}
    for (period, region), by_age in cats.items():
        if metric == "coverage_disparity_ratio":
            used = {a: n / PARTIAL_POP[(region, a)] * 1000 for a, (_v, n) in by_age.items()
                    if n >= MIN_CELL and (region, a) in PARTIAL_POP}  # fmt: skip
        else:
            used = {a: v for a, (v, n) in by_age.items() if n >= MIN_CELL and v is not None}
        if not used:
            continue
        rates = list(used.values())
        if len(rates) < 2:
            value = None
        elif metric == "coverage_disparity_ratio":
            value = max(rates) / min(rates)
        elif metric == "service_standard_gap":
            value = (max(rates) - min(rates)) * 100
        else:
            waiting = any(v is None and n >= MIN_CELL for v, n in by_age.values())
            whole = own[(period, "region", region)][0]
            value = None if waiting or not whole else max(rates) / whole
        out[(period, region)] = (value, len(rates))
    return out


@pytest.mark.parametrize("metric", ["coverage_disparity_ratio", "service_standard_gap", "timeliness_ratio"])
def test_across_age_bands_within_regions(combo_store, metric: str) -> None:
    config, rows = combo_store
    got = stored(config, metric, ("region",), across="age_band")
    want = brute_within(rows, metric)
    assert {(p, k.removeprefix("region=")) for p, k in got} == set(want)
    checked = 0
    for (period, region), (value, used) in want.items():
        cell = got[(period, f"region={region}")]
        if value is None:
            assert cell["value"] is None and cell["note"], cell
            continue
        assert cell["value"] == pytest.approx(value, rel=1e-9), (metric, period, region)
        assert cell["note"] == f"{used} categories of age band used"
        checked += 1
    assert checked >= 5
    # The whole population's figure is still there, unchanged in shape.
    assert stored(config, metric, (), across="age_band")


def test_across_within_slices_exports(combo_store, tmp_path: Path) -> None:
    config, _ = combo_store
    out = tmp_path / "gap.json"
    run(config, "metrics", "export", "--metric", "service_standard_gap", "--across", "age_band", "--by", "region",
        "--out", str(out))  # fmt: skip
    check_export(out)
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records and all(r["across"] == "age_band" and set(r["dims"]) == {"region"} for r in records)
    # Across regions within each age band; across services within region x age_band (the
    # triple less service), which is a computed slice; not within slices that are not.
    assert stored(config, "coverage_gini", ("age_band",), across="region")
    within = stored(config, "timeliness_ratio", PAIR, across="service")
    assert any(c["value"] is not None for c in within.values())
    assert not stored(config, "timeliness_ratio", ("age_band", "service"), across="region")
    assert not stored(config, "coverage_gini", PAIR, across="service")  # services have no residents
