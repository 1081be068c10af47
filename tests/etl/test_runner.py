"""Loading through the real CLI into a real store (a SQLite file and a PostgreSQL server):
nothing twice, nothing half-written, read = loaded + quarantined on every run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from metrics.config import load_settings
from metrics.store.db import engine_for
from metrics.store.models import Case, CaseGroup, EtlRun, QuarantinedRow
from tests.support import run, write_config

HEADER = ["id", "opened", "closed", "type", "age"]


def write_cases(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


@pytest.fixture
def setup(tmp_path: Path, store_url: str) -> Path:
    write_cases(
        tmp_path / "cases.csv",
        [
            ["1", "2025-01-06 09:00", "2025-01-07 09:00", "pothole", "Young"],
            ["2", "2025-01-06 10:00", "", "pothole", ""],
            ["3", "2025-01-06 11:00", "2025-01-01 09:00", "pothole", "Old"],  # closed before opened
            ["4", "2025-01-07 11:00", "", "unknown-type", "Old"],
        ],
    )
    config = write_config(
        tmp_path,
        store_url=store_url,
        settings={
            "timezone": "Europe/London",
            "services": {"pothole": {"department": "Transport", "deadline_working_days": 5}},
            "groups": {
                "age_band": {"label": {"en": "Age"}, "values": ["Young", "Old", "Not stated"], "reference": "Young"}
            },
            "etl": {
                "sources": {
                    "cases": {
                        "kind": "cases_csv",
                        "path": "cases.csv",
                        "datetime_format": "%Y-%m-%d %H:%M",
                        "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "type"},
                        "groups": {"age_band": "age"},
                    }
                }
            },
        },
    )
    run(config, "init")
    return config


def store(config: Path) -> Engine:
    return engine_for(load_settings(config))


def counts(config: Path) -> dict[str, int]:
    engine = store(config)
    with engine.connect() as conn:
        out = {
            "cases": conn.execute(select(func.count()).select_from(Case)).scalar_one(),
            "groups": conn.execute(select(func.count()).select_from(CaseGroup)).scalar_one(),
            "quarantine": conn.execute(select(func.count()).select_from(QuarantinedRow)).scalar_one(),
        }
    engine.dispose()
    return out


def runs(config: Path) -> list[dict]:
    engine = store(config)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(EtlRun.__table__).order_by(EtlRun.id)).mappings()]
    engine.dispose()
    return rows


def test_load_quarantines_bad_rows_and_balances(setup: Path) -> None:
    result = run(setup, "etl", "run")
    assert "cases: read 4 = loaded 2 (new 2, changed 0, unchanged 0) + quarantined 2" in result.output
    assert counts(setup) == {"cases": 2, "groups": 2, "quarantine": 2}
    r = runs(setup)[-1]
    assert r["status"] == "succeeded" and r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"] == 4
    assert len(r["file_sha256"]) == 64


def test_running_the_same_file_twice_loads_nothing_twice(setup: Path) -> None:
    run(setup, "etl", "run")
    # The same file (name and checksum) is not read again at all.
    result = run(setup, "etl", "run")
    assert "read 0 = loaded 0" in result.output and "1 file(s) already loaded, skipped" in result.output
    # Forced to read it again, it matches every case already there.
    result = run(setup, "etl", "run", "--reload")
    assert "loaded 2 (new 0, changed 0, unchanged 2)" in result.output
    assert counts(setup)["cases"] == 2 and counts(setup)["groups"] == 2


def test_a_changed_row_is_updated_in_place(setup: Path) -> None:
    run(setup, "etl", "run")
    write_cases(
        setup.parent / "cases.csv",
        [
            ["1", "2025-01-06 09:00", "2025-01-07 09:00", "pothole", "Young"],
            ["2", "2025-01-06 10:00", "2025-01-09 16:00", "pothole", "Old"],  # now closed
        ],
    )
    result = run(setup, "etl", "run")
    assert "loaded 2 (new 0, changed 1, unchanged 1)" in result.output
    engine = store(setup)
    with engine.connect() as conn:
        closed = conn.execute(text("select closed_at from cases where case_key = 'cases:2'")).scalar_one()
        age = conn.execute(text("select value from case_groups where case_key = 'cases:2'")).scalar_one()
    engine.dispose()
    assert closed is not None and age == "Old"
    assert counts(setup)["cases"] == 2


def test_missing_file_is_a_clear_error_and_writes_nothing(setup: Path) -> None:
    (setup.parent / "cases.csv").unlink()
    result = run(setup, "etl", "run", ok=False)
    assert result.exit_code != 0
    assert "cases.csv: file not found" in result.output and "terminal" in result.output
    assert counts(setup) == {"cases": 0, "groups": 0, "quarantine": 0}
    assert runs(setup)[-1]["status"] == "failed"


def test_wrong_column_names_the_column_and_field(setup: Path) -> None:
    path = setup.parent / "cases.csv"
    path.write_text(path.read_text().replace("opened,", "logged,", 1))
    result = run(setup, "etl", "run", ok=False)
    assert "column(s) 'opened' (for opened_at) not found" in result.output
    assert "'logged'" in result.output  # lists what the file does have
    assert counts(setup) == {"cases": 0, "groups": 0, "quarantine": 0}


def test_a_failure_mid_load_leaves_the_store_as_it_was(setup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(setup, "etl", "run")
    before = counts(setup)
    write_cases(
        setup.parent / "cases.csv",
        [
            ["5", "2025-01-08 09:00", "", "pothole", "Young"],
            ["6", "2025-01-08 09:30", "", "pothole", "Young"],
        ],
    )
    import etl.runner

    def fail(*_args: object, **_kw: object) -> None:
        raise OSError("disk full")

    # The quarantine write comes after the case rows inside the same transaction.
    monkeypatch.setattr(etl.runner, "_quarantine", fail)
    with pytest.raises(OSError, match="disk full"):
        run(setup, "etl", "run")
    assert counts(setup) == before
    assert runs(setup)[-1]["status"] == "failed" and "disk full" in runs(setup)[-1]["error"]


def test_unknown_job_is_named(setup: Path) -> None:
    result = run(setup, "etl", "run", "--job", "nightly", ok=False)
    assert "no ETL source named 'nightly'" in result.output and "['cases']" in result.output


def test_status_lists_every_run_with_its_counts(setup: Path) -> None:
    run(setup, "etl", "run")
    (setup.parent / "cases.csv").unlink()
    run(setup, "etl", "run", ok=False)
    out = run(setup, "etl", "status").output.splitlines()
    assert out[0].split()[:3] == ["run", "job", "started"]
    newest, first = out[1], out[2]
    assert " failed " in newest and "SourceMissing" in newest
    assert " succeeded " in first and first.split()[-3:] == ["4", "2", "2"]


def test_quarantined_rows_export_as_the_source_had_them_and_reload_once_fixed(setup: Path) -> None:
    run(setup, "etl", "run")
    table = run(setup, "etl", "quarantine").output
    assert "row 3: closed_at: before opened_at" in table and "row 4: service: 'unknown-type'" in table
    fixed = setup.parent / "fixed.csv"
    run(setup, "etl", "quarantine", "--format", "csv", "--out", str(fixed))
    lines = fixed.read_text().splitlines()
    assert lines[0] == "id,opened,closed,type,age,quarantine_run,quarantine_batch,quarantine_row,quarantine_reason"
    source = setup.parent / "cases.csv"
    assert lines[1].startswith(f"3,2025-01-06 11:00,2025-01-01 09:00,pothole,Old,1,{source},3,")
    # Fix the two rows and load the file through the same source: they load, nothing else changes.
    text = fixed.read_text().replace("2025-01-01 09:00", "2025-01-07 09:00").replace("unknown-type", "pothole")
    (setup.parent / "cases.csv").write_text(text)
    result = run(setup, "etl", "run")
    assert "read 2 = loaded 2 (new 2, changed 0, unchanged 0) + quarantined 0" in result.output
    assert counts(setup)["cases"] == 4
