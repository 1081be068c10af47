"""Case files as ministries send them: encodings, delimiters, Excel, folders and globs of
nightly exports (each loaded once, by name and checksum), through the real CLI."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import openpyxl
import pytest

from tests.support import run, write_config

HEADER = ["编号", "受理时间", "办结时间", "事项", "街道"]
ROWS = [
    ["A1", "2025-01-06 09:00", "2025-01-07 09:00", "路面坑洼", "朝阳门街道"],
    ["A2", "2025-01-06 10:00", "", "路面坑洼", "建国门街道"],
]


def config_for(folder: Path, path: str, **source: object) -> Path:
    config = write_config(folder, {
        "timezone": "Asia/Shanghai",
        "calendar": {"holiday_country": "CN"},
        "services": {"路面坑洼": {"department": "城管", "deadline_working_days": 5}},
        "etl": {"sources": {"cases": {
            "kind": "cases_csv", "path": path, "datetime_format": "%Y-%m-%d %H:%M",
            "columns": {"source_id": "编号", "opened_at": "受理时间", "closed_at": "办结时间", "service": "事项",
                        "region": "街道"},
            **source,
        }}},
    })  # fmt: skip
    run(config, "init")
    return config


def write(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ",") -> None:
    path.write_bytes(("\n".join(delimiter.join(r) for r in [HEADER, *rows]) + "\n").encode(encoding))


def regions(config: Path) -> list[str]:
    with closing(sqlite3.connect(config.parent / "store.db")) as conn:
        return [r for (r,) in conn.execute("SELECT region FROM cases ORDER BY case_key")]


@pytest.mark.parametrize(
    ("encoding", "declared", "delimiter"),
    [("gb18030", "gb18030", ","), ("gbk", "gbk", "\t"), ("utf-8-sig", "utf-8-sig", ";"), ("utf-8", "utf-8", "|")],
)
def test_declared_encodings_and_delimiters_load_the_same_cases(
    tmp_path: Path, encoding: str, declared: str, delimiter: str
) -> None:
    write(tmp_path / "cases.csv", ROWS, encoding, delimiter)
    config = config_for(tmp_path, "cases.csv", encoding=declared, delimiter=delimiter)
    out = run(config, "etl", "run").output
    assert "read 2 = loaded 2" in out
    assert regions(config) == ["朝阳门街道", "建国门街道"]


def test_a_wrong_declared_encoding_names_the_file_byte_and_line(tmp_path: Path) -> None:
    rows = [["A1", "2025-01-06 09:00", "", "路面坑洼", "Saint-Étienne"]]
    text = "\n".join(",".join(r) for r in [HEADER, *rows])
    # The header and service are Chinese, so write them in UTF-8 and the region byte in Latin-1.
    raw = text.encode("utf-8").replace("É".encode(), "É".encode("latin-1"))
    (tmp_path / "cases.csv").write_bytes(raw)
    config = config_for(tmp_path, "cases.csv")
    # Declared UTF-8 but not UTF-8: the error names the file and the byte, and loads nothing.
    result = run(config, "etl", "run", ok=False)
    offset = raw.index("É".encode("latin-1"))
    assert result.exit_code != 0
    assert f"cases.csv: not valid utf-8 at byte {offset} (line 2)" in result.output and "terminal" in result.output
    assert regions(config) == []


def test_a_latin_1_file_loads_when_declared(tmp_path: Path) -> None:
    text = "id;opened;type;area\nB1;2025-01-06 09:00;pothole;Saint-Étienne\n"
    (tmp_path / "cases.csv").write_bytes(text.encode("latin-1"))
    config = write_config(tmp_path, {
        "services": {"pothole": {"department": "Voirie"}},
        "etl": {"sources": {"cases": {
            "kind": "cases_csv", "path": "cases.csv", "encoding": "latin-1", "delimiter": ";",
            "datetime_format": "%Y-%m-%d %H:%M",
            "columns": {"source_id": "id", "opened_at": "opened", "service": "type", "region": "area"},
        }}},
    })  # fmt: skip
    run(config, "init")
    assert "read 1 = loaded 1" in run(config, "etl", "run").output
    assert regions(config) == ["Saint-Étienne"]


def test_an_excel_export_loads_like_a_csv(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "工单"
    for r in [HEADER, *ROWS]:
        ws.append(r)
    wb.save(tmp_path / "cases.xlsx")
    config = config_for(tmp_path, "cases.xlsx", sheet="工单")
    assert "read 2 = loaded 2" in run(config, "etl", "run").output
    assert regions(config) == ["朝阳门街道", "建国门街道"]


def test_a_folder_of_nightly_exports_loads_each_file_once(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write(exports / "2025-01-06.csv", ROWS[:1], "utf-8")
    config = config_for(tmp_path, "exports")
    assert "read 1 = loaded 1" in run(config, "etl", "run").output
    # The next night a new file arrives: only it is read.
    write(exports / "2025-01-07.csv", ROWS[1:], "utf-8")
    out = run(config, "etl", "run").output
    assert "read 1 = loaded 1 (new 1" in out and "1 file(s) already loaded, skipped" in out
    # A corrected export under the same name is read again and its case updated in place.
    write(exports / "2025-01-06.csv", [[*ROWS[0][:2], "2025-01-08 09:00", *ROWS[0][3:]]], "utf-8")
    out = run(config, "etl", "run").output
    assert "read 1 = loaded 1 (new 0, changed 1" in out
    with closing(sqlite3.connect(tmp_path / "store.db")) as conn:
        files = conn.execute("SELECT name, rows FROM loaded_files ORDER BY name").fetchall()
        closed = conn.execute("SELECT closed_at FROM cases WHERE source_id = 'A1'").fetchone()[0]
    assert [Path(n).name for n, _ in files] == ["2025-01-06.csv", "2025-01-07.csv"]
    assert closed.startswith("2025-01-08 01:00")  # 09:00 in Shanghai, stored in UTC


def test_a_glob_picks_matching_files_only(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write(exports / "cases-1.csv", ROWS[:1], "utf-8")
    write(exports / "cases-2.csv", ROWS[1:], "utf-8")
    (exports / "notes.csv").write_text("not a case file\n", encoding="utf-8")
    config = config_for(tmp_path, "exports/cases-*.csv")
    assert "read 2 = loaded 2" in run(config, "etl", "run").output
    empty = config_for(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, "exports/none-*.csv")
    result = run(empty, "etl", "run", ok=False)
    assert "no file matches" in result.output
