"""A large case file is read, mapped and written one part at a time (etl.files.CaseFileParts),
which bounds a load's memory. Loaded in parts, a file must give exactly the store that one
part gives: the same cases, groups and quarantined rows with the same reasons, a repeated
id caught across parts; and the whole file still lands in one transaction."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import etl.files
from etl.csv_source import repeated_ids
from tests.support import query, run, write_config

HEADER = ["id", "opened", "closed", "type", "age", "name"]


def rows() -> list[list[str]]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(60):
        opened = f"2025-01-{1 + i % 28:02d} {8 + i % 9:02d}:{i % 60:02d}"
        closed = "" if i % 4 == 0 else f"2025-02-{1 + i % 28:02d} 10:00"
        kind = "unknown-type" if i % 17 == 5 else "pothole"
        out.append([str(i), opened, closed, kind, ["Young", "Old", ""][int(rng.integers(3))], f"Person {i}"])
    out[40][0] = "3"  # the id of row 4, 37 rows later: another part
    out[5][0] = "4"  # and the id of row 5, in the same part
    out[20][0] = out[50][0] = ""  # empty ids are empty, not repeats of each other
    out[33][1] = "not a date"
    return out


def write(path: Path, data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(data)


def setup(folder: Path, store_url: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "cases.csv", rows())
    config = write_config(
        folder,
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
                        "strict_services": True,
                        "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "type"},
                        "groups": {"age_band": "age"},
                        "personal_columns": ["name"],
                    }
                }
            },
        },
    )
    run(config, "init")
    return config


def snapshot(config: Path) -> dict[str, list[tuple]]:
    return {
        "cases": query(config, "SELECT case_key, opened_at, closed_at, service, row_hash FROM cases ORDER BY case_key"),
        "groups": query(config, "SELECT case_key, attribute, value FROM case_groups ORDER BY case_key, attribute"),
        "quarantine": query(config, "SELECT row_number, reason, raw FROM quarantine ORDER BY row_number"),
    }


def test_a_file_loaded_in_parts_gives_the_store_one_part_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = setup(tmp_path / "whole")
    result = run(whole, "etl", "run")
    monkeypatch.setattr(etl.files, "PART_ROWS", 7)
    parts = setup(tmp_path / "parts")
    in_parts = run(parts, "etl", "run")
    expected, got = snapshot(whole), snapshot(parts)
    assert got == expected
    # The repeats, one across parts and one within, are quarantined with the same reason.
    reasons = {r[0]: r[1] for r in got["quarantine"]}
    assert "source_id: appears earlier in the same file (3)" in reasons[41]
    assert "source_id: appears earlier in the same file (4)" in reasons[6]
    assert reasons[21] == reasons[51] == "source_id: empty"
    line = "cases: read 60 = loaded"
    assert line in result.output and line in in_parts.output
    def summary(output: str) -> list[str]:
        return [x.rsplit(" in ", 1)[0] for x in output.splitlines() if x.startswith("cases: read")]

    assert summary(in_parts.output) == summary(result.output)
    assert summary(result.output) == ["cases: read 60 = loaded 52 (new 52, changed 0, unchanged 0) + quarantined 8"]


def test_repeated_ids_are_exact_across_parts(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    ids = ["a", " b", "c", "a", "", "b ", "", "d", "c", "a"]
    write(path, [[i, "", "", "", "", ""] for i in ids])
    for size in (1, 3, 100):
        got = repeated_ids(path, "utf-8", ",", "id", size)
        assert got.tolist() == [False, False, False, True, False, True, False, False, True, True], size


def test_a_failure_after_some_parts_are_written_leaves_the_store_as_it_was(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.runner

    monkeypatch.setattr(etl.files, "PART_ROWS", 7)
    config = setup(tmp_path / "s", store_url)
    written: list[int] = []
    real = etl.runner._quarantine

    def fail_on_the_fifth_part(conn, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(conn.exec_driver_sql("SELECT count(*) FROM cases").scalar())
        if len(written) == 5:
            raise OSError("disk full")
        real(conn, *args, **kwargs)

    monkeypatch.setattr(etl.runner, "_quarantine", fail_on_the_fifth_part)
    with pytest.raises(OSError, match="disk full"):
        run(config, "etl", "run")
    assert written[-1] > 20  # four parts and the fifth's cases were in the store's transaction
    assert snapshot(config) == {"cases": [], "groups": [], "quarantine": []}
    assert query(config, "SELECT status FROM etl_runs ORDER BY id DESC")[0][0] == "failed"


def test_a_row_with_too_many_fields_first_in_a_part_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas, reading in parts, drops the extra fields of a part's first row without a word
    (pandas-dev/pandas#11569); read whole it refuses the file. In parts it must too."""
    monkeypatch.setattr(etl.files, "PART_ROWS", 7)
    config = setup(tmp_path / "s")
    path = config.parent / "cases.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[8] = lines[8] + ",Main St"  # data row 8: the first row of the second part
    path.write_text("\n".join(lines), encoding="utf-8")
    result = run(config, "etl", "run", ok=False)
    assert "Expected 6 fields in line 9, saw 7" in result.output
    assert snapshot(config) == {"cases": [], "groups": [], "quarantine": []}


def test_the_change_list_limit_is_per_file_not_per_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import etl.runner

    monkeypatch.setattr(etl.files, "PART_ROWS", 7)
    monkeypatch.setattr(etl.runner, "MAX_LISTED_CHANGES", 10)
    config = setup(tmp_path / "s")
    run(config, "etl", "run")
    reasons = query(config, "SELECT reason FROM case_changes WHERE case_key IS NULL")
    assert reasons == [("more than 10 cases written in one batch",)]


def test_a_bad_byte_late_in_the_file_leaves_the_store_as_it_was(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(etl.files, "PART_ROWS", 7)
    config = setup(tmp_path / "s", store_url)
    # A byte that is not UTF-8 on line 50: caught as the file is read, before any part is written.
    path = config.parent / "cases.csv"
    lines = path.read_bytes().split(b"\n")
    lines[50] = lines[50].replace(b"Person", b"Pers\xffn")
    path.write_bytes(b"\n".join(lines))
    result = run(config, "etl", "run", ok=False)
    assert "not valid utf-8" in result.output
    assert snapshot(config) == {"cases": [], "groups": [], "quarantine": []}
    assert query(config, "SELECT status FROM etl_runs ORDER BY id DESC")[0][0] == "failed"
