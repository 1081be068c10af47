"""bench/pipeline.py at a small size: every step timed and reported, and the DuckDB reference
agreeing with the product's stored cells wherever the two compute the same figure.

The benchmark runs once (3,000 cases, SQLite) for the module. Its store ends holding the
history and the day's delta, which together are the demo's whole export (demo/cases.csv),
so the reference is run again on that file to compare with the cells the incremental
refresh left: the same figures, however the product reached them.

Compared exactly (METRICS.md definitions the reference repeats): cases opened, the plain
median of days to resolve over closed cases, and repeat contacts (numerator and
denominator), per month x each dimension the product stores. Not compared exactly:
  - the on-time share: the reference takes N working days as ceil(N * 7 / 5) calendar days;
  - p90 of days to resolve: the reference's is a plain quantile of closed cases, the
    product's a Kaplan-Meier one;
  - the Kaplan-Meier median: the reference bins durations to whole days, so only a bound
    holds (see test_reference_km_median_bounds_the_product).
The stored cells are read raw: small-number suppression happens at read time
(metrics/query.py), so they are unsuppressed, as the reference's are.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO, query

duckdb = pytest.importorskip(
    "duckdb", reason="the pipeline benchmark's reference runs in DuckDB: pip install -e '.[bench]'"
)

CASES = 3000
PRODUCT_STEPS = ("full load (history)", "full refresh", "one-day delta load", "refresh after the delta")
REFERENCE = "reference pipeline (DuckDB)"
REFERENCE_STEPS = ("read + load", "monthly aggregation", "repeat contacts", "Kaplan-Meier")
ONE_MINUTE = 1 / 1440

Cells = dict[tuple[str, str, str], tuple[Any, ...]]  # (dims, dims_key, month) -> figures


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("pipeline")
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "pipeline.py"), "--cases", str(CASES), "--workdir", str(work)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"bench/pipeline.py failed:\n{out.stdout}\n{out.stderr}"
    return work, out.stdout


@pytest.fixture(scope="module")
def results(bench: tuple[Path, str]) -> dict[str, Any]:
    return json.loads((bench[0] / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reference_full(bench: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference on the whole export: what the product's store holds after the delta."""
    work = bench[0]
    db = tmp_path_factory.mktemp("reference") / "full.duckdb"
    cmd = [sys.executable, str(REPO / "bench" / "pipeline.py"), "reference", "--config", str(work / "config.yaml"),
           "--csv", str(work / "demo" / "cases.csv"), "--db", str(db)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return db


# --- what the benchmark reports --------------------------------------------------------


def test_the_table_has_every_step_and_the_ratio(bench: tuple[Path, str]) -> None:
    lines = bench[1].splitlines()
    for step in (*PRODUCT_STEPS, REFERENCE, *(f"reference: {s}" for s in REFERENCE_STEPS)):
        row = next((x for x in lines if x.strip().startswith(step)), None)
        assert row is not None, f"no row for {step!r} in:\n{bench[1]}"
        seconds = row.strip()[len(step) :].split()[0]
        assert float(seconds) > 0, row
    ratio = re.search(r"^ratio \(full load \+ full refresh\) / reference: ([0-9.]+)$", bench[1], re.M)
    assert ratio is not None, bench[1]
    assert float(ratio.group(1)) > 0


def test_results_json_has_every_step_the_machine_and_the_ratio(results: dict[str, Any]) -> None:
    (run,) = results["runs"]
    assert run["cases"] == CASES
    assert run["store"] == "sqlite" and results["store"] == ["sqlite"]
    steps = {s["step"]: s for s in run["steps"]}
    assert tuple(steps) == (*PRODUCT_STEPS, REFERENCE)
    for s in steps.values():
        assert s["seconds"] > 0 and s["peak_mb"] > 0, s
    assert [s["step"].strip() for s in run["reference_steps"]] == [f"reference: {s}" for s in REFERENCE_STEPS]
    assert all(s["seconds"] > 0 for s in run["reference_steps"])
    seconds = {name: s["seconds"] for name, s in steps.items()}
    expected = (seconds["full load (history)"] + seconds["full refresh"]) / seconds[REFERENCE]
    assert run["ratio"] > 0 and math.isclose(run["ratio"], expected)
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["ram_gb"] > 0 and machine["cpu"]
    assert dt.datetime.fromisoformat(results["date"]).tzinfo is not None


def test_reference_and_product_quarantine_the_same_history_rows(results: dict[str, Any]) -> None:
    """Both validate the history file: they must keep and refuse the same rows."""
    (run,) = results["runs"]
    load = next(s["notes"] for s in run["steps"] if s["step"] == "full load (history)")
    ref = run["reference_steps"][0]["notes"]
    product = re.search(r"loaded ([\d,]+) .*quarantined ([\d,]+)", load)
    reference = re.search(r"([\d,]+) cases, ([\d,]+) quarantined", ref)
    assert product and reference, (load, ref)
    assert product.groups() == reference.groups()
    assert int(product.group(2).replace(",", "")) > 0  # the demo's defects are there to be caught


# --- the reference agrees with the product's stored cells --------------------------------


def product_cells(config: Path, metric: str, columns: str) -> Cells:
    rows = query(
        config,
        f"SELECT dim_names, dims_key, period, {columns} FROM metric_cells WHERE metric = :m AND grain = 'month' "
        "AND across = ''",
        m=metric,
    )
    return {(d, k, str(p)[:10]): tuple(rest) for d, k, p, *rest in rows}


def reference_cells(db: Path, table: str, columns: str) -> Cells:
    """The reference's month cells of the dimensions the product stores, keyed as it keys
    them ('region=North'; '' for the whole population)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            f"SELECT dims, CASE WHEN dims = '' THEN '' ELSE dims || '=' || dim_value END, month, {columns} "
            f"FROM {table} WHERE NOT contains(dims, ',')"
        ).fetchall()
    finally:
        con.close()
    return {(d, k, str(m)[:10]): tuple(rest) for d, k, m, *rest in rows}


def test_reference_case_counts_equal_the_products(bench: tuple[Path, str], reference_full: Path) -> None:
    product = product_cells(bench[0] / "config.yaml", "cases_opened", "n")
    reference = reference_cells(reference_full, "monthly", "cases")
    dims = {d for d, _, _ in product}
    assert {"", "region", "age_band", "channel", "service"} <= dims
    # The product may store a cell with no case in it; the reference has no such row.
    product = {k: v for k, v in product.items() if v[0]}
    reference = {k: v for k, v in reference.items() if k[0] in dims}
    assert reference == product
    by_region = {k: v for k, v in product.items() if k[0] == "region"}
    assert len(by_region) > 100 and sum(v[0] for v in by_region.values()) > 0.99 * CASES


def test_reference_median_of_closed_cases_equals_the_products(bench: tuple[Path, str], reference_full: Path) -> None:
    product = product_cells(bench[0] / "config.yaml", "resolution_days_median_closed", "n, value")
    reference = reference_cells(reference_full, "monthly", "closed, median_days")
    product = {k: v for k, v in product.items() if v[0]}
    assert product, "no closed cases in the product's cells"
    dims = {d for d, _, _ in product}
    assert {k: v[0] for k, v in reference.items() if v[0] and k[0] in dims} == {k: v[0] for k, v in product.items()}
    # pandas averages the two middle values, DuckDB interpolates between them: the last bit may differ.
    pairs = {k: (v[1], reference[k][1]) for k, v in product.items()}
    off = {k: pair for k, pair in pairs.items() if not math.isclose(*pair, rel_tol=1e-9)}
    assert not off, off


def test_reference_repeat_contacts_equal_the_products(bench: tuple[Path, str], reference_full: Path) -> None:
    product = product_cells(bench[0] / "config.yaml", "repeat_contact_rate", "denominator, numerator")
    reference = reference_cells(reference_full, "repeats", "keyed, repeats")
    product = {k: (int(d), int(n)) for k, (d, n) in product.items() if d}
    assert sum(n for _, n in product.values()) > 0, "the demo's repeat contacts are missing"
    assert {k: v for k, v in reference.items() if k[0] in {d for d, _, _ in product}} == product


def test_reference_km_median_bounds_the_products(bench: tuple[Path, str], reference_full: Path) -> None:
    """Durations binned up to whole days keep every case censored within a day at risk for
    that day's closures, so the binned survival curve never lies below the exact one: its
    median is the product's or later (within the product's own one-minute leeway). Not an
    equality: how much later depends on the censoring inside each day."""
    product = product_cells(bench[0] / "config.yaml", "resolution_days_median", "value")
    reference = reference_cells(reference_full, "km", "median_days")
    compared = 0
    for key, (value,) in product.items():
        ref = reference.get(key, (None,))[0]
        if ref is None or math.isnan(ref):
            continue
        if value is None:  # the product's median not reached: neither can the binned one be
            pytest.fail(f"{key}: product median not reached, reference {ref}")
        assert value <= ref + ONE_MINUTE, (key, value, ref)
        compared += 1
    assert compared > 100
