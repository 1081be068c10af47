"""The whole pipeline through the CLI on a real SQLite file: demo data, init, ETL, refresh,
export; and the same ETL run twice loads nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from metrics.catalogue import CATALOGUE
from metrics.store.models import Case, EtlRun, MetricCell, RefreshRun
from tests.support import SHARED, demo_config, run


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipeline")
    config = demo_config(folder)
    run(config, "demo-data", "--out", str(folder / "demo"), "--cases", "20000", "--seed", "3")
    run(config, "init")
    run(config, "init")  # idempotent
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


def store(config: Path):  # type: ignore[no-untyped-def]
    return create_engine(f"sqlite:///{config.parent / 'store.db'}")


def test_every_run_balances_and_every_indicator_has_cells(pipeline: Path) -> None:
    engine = store(pipeline)
    with engine.connect() as conn:
        for r in conn.execute(select(EtlRun.__table__)).mappings():
            assert r["status"] == "succeeded"
            assert r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"]
        metrics = set(conn.execute(select(MetricCell.metric).distinct()).scalars())
        refresh = conn.execute(select(RefreshRun.__table__)).mappings().one()
    assert metrics == set(CATALOGUE)
    assert refresh["status"] == "succeeded" and refresh["last_etl_run_id"] is not None


def test_second_etl_run_loads_nothing_twice(pipeline: Path) -> None:
    engine = store(pipeline)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Case)).scalar_one()
    result = run(pipeline, "etl", "run", "--job", "cases")
    assert "(new 0, changed 0, unchanged" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Case)).scalar_one() == before


def test_export_follows_the_contract(pipeline: Path, tmp_path: Path) -> None:
    result = run(pipeline, "metrics", "export", "--metric", "on_time_rate", "--by", "region", "--format", "json")
    records = json.loads(result.stdout)
    assert {r["dims"]["region"] for r in records} >= {"Northgate", "Highmoor"}
    keys = {
        "metric",
        "period",
        "grain",
        "dims",
        "value",
        "n",
        "numerator",
        "denominator",
        "ci_low",
        "ci_high",
        "suppressed",
        "as_of",
        "definition_version",
    }
    for r in records:
        assert keys <= set(r)
        assert r["metric"] == "on_time_rate" and r["grain"] == "month"
    checker = SHARED / "tools" / "check_export.py"
    if not checker.exists():
        pytest.skip("../shared/tools/check_export.py not found beside the checkout (CI has it)")
    out = tmp_path / "x.json"
    out.write_text(result.stdout)
    res = subprocess.run([sys.executable, str(checker), str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    assert res.stdout.strip().startswith("0 problems")


def test_csv_export_and_period_filters(pipeline: Path) -> None:
    result = run(
        pipeline,
        "metrics",
        "export",
        "--metric",
        "cases_opened",
        "--grain",
        "quarter",
        "--from",
        "2025-01",
        "--to",
        "2025-12",
        "--format",
        "csv",
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("metric,period,grain,value,n,")
    periods = [line.split(",")[1] for line in lines[1:]]
    assert periods == ["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"]


def test_unknown_breakdown_is_a_clear_error(pipeline: Path) -> None:
    result = run(pipeline, "metrics", "export", "--metric", "uptake_rate", "--by", "channel", ok=False)
    assert result.exit_code != 0 and "not computed by channel" in result.output


def test_demo_tells_its_stories(pipeline: Path) -> None:
    """The patterns the demo data promises are visible in the exported figures."""

    def yearly(metric: str, by: str) -> dict[str, float]:
        recs = json.loads(
            run(
                pipeline,
                "metrics",
                "export",
                "--metric",
                metric,
                "--by",
                by,
                "--grain",
                "year",
                "--from",
                "2025-01-01",
                "--to",
                "2025-01-01",
            ).stdout
        )
        return {r["dims"][by]: r["value"] for r in recs if r["value"] is not None}

    median = yearly("resolution_days_median", "region")
    assert median["Highmoor"] > max(v for k, v in median.items() if k != "Highmoor")
    by_language = yearly("resolution_days_median", "language")
    assert by_language["Other"] > by_language["English"]
    uptake = yearly("uptake_rate", "region")
    assert uptake["Highmoor"] < min(v for k, v in uptake.items() if k != "Highmoor")


def test_demo_starts_afresh_when_run_again(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    run(config, "demo", "--no-serve", "--cases", "3000")
    result = run(config, "demo", "--no-serve", "--cases", "2000")
    assert "removed 2,99" in result.output  # the first demo's cases (less its quarantined rows)
    engine = store(config)
    with engine.connect() as conn:
        loaded = conn.execute(
            select(EtlRun.rows_loaded).where(EtlRun.job == "cases").order_by(EtlRun.id.desc())
        ).first()[0]
        assert conn.execute(select(func.count()).select_from(Case)).scalar_one() == loaded


def test_group_figures_come_with_their_reference_comparison(pipeline: Path) -> None:
    records = json.loads(
        run(pipeline, "metrics", "export", "--metric", "resolution_days_median", "--by", "language",
            "--grain", "year", "--from", "2025-01-01", "--to", "2025-01-01").stdout
    )  # fmt: skip
    by_group = {r["dims"]["language"]: r for r in records}
    assert set(by_group) == {"English", "Chinese", "Other", "Not stated"}  # not stated is kept
    other = by_group["Other"]["vs_reference"]
    assert other["group"] == "English" and other["ratio"] > 1 and other["real_gap"] is True
    assert other["difference_ci"][0] > 0
    assert by_group["English"]["vs_reference"]["ratio"] == 1.0


def test_across_indicators_export_with_their_dimension(pipeline: Path) -> None:
    for across in ("region", "age_band"):
        records = json.loads(
            run(
                pipeline, "metrics", "export", "--metric", "coverage_gini", "--grain", "year", "--across", across
            ).stdout
        )
        assert records and all(r["across"] == across and r["dims"] == {} for r in records)
        assert all(0 <= r["value"] < 1 for r in records if r["value"] is not None)
    theil = json.loads(run(pipeline, "metrics", "export", "--metric", "coverage_theil", "--grain", "year").stdout)
    parts = [
        json.loads(run(pipeline, "metrics", "export", "--metric", m, "--grain", "year").stdout)
        for m in ("coverage_theil_between", "coverage_theil_within")
    ]
    for whole, between, within in zip(theil, *parts, strict=True):
        assert whole["value"] == pytest.approx(between["value"] + within["value"], abs=1e-12)


def test_control_chart_and_before_after_read_the_exported_series(pipeline: Path) -> None:
    records = json.loads(run(pipeline, "metrics", "export", "--metric", "on_time_rate").stdout)
    values = [r["value"] for r in records]
    baseline = [v for v in values if v is not None][:12]
    centre = sum(baseline) / len(baseline)
    mr = sum(abs(a - b) for a, b in zip(baseline[1:], baseline[:-1], strict=False)) / (len(baseline) - 1)
    out = run(pipeline, "metrics", "control", "--metric", "on_time_rate").output.splitlines()
    assert out[0].startswith(f"centre {centre:.6g}, limits {centre - 2.66 * mr:.6g} to {centre + 2.66 * mr:.6g}")
    flagged = [line.split()[0] for line in out[1:] if "outside limits" in line]
    expected = [r["period"] for r in records if r["value"] is not None
                and not centre - 2.66 * mr <= r["value"] <= centre + 2.66 * mr]  # fmt: skip
    assert flagged == expected
    event = "Housing department reorganised"
    ba = run(pipeline, "metrics", "before-after", "--metric", "backlog_open", "--event", event, "--periods", "6").output
    months = {
        r["period"]: r["value"]
        for r in json.loads(run(pipeline, "metrics", "export", "--metric", "backlog_open").stdout)
    }
    before = [months[f"2025-{m:02d}-01"] for m in range(3, 9)]
    after = [months[f"2025-{m:02d}-01"] for m in range(9, 13)] + [months["2026-01-01"], months["2026-02-01"]]
    assert f"before {sum(before) / 6:.6g}, after {sum(after) / 6:.6g}" in ba
    bad = run(pipeline, "metrics", "before-after", "--metric", "backlog_open", "--event", "Coronation", ok=False)
    assert "neither a date nor an event" in bad.output
