"""A CRM database loaded through config alone by the real CLI: incremental on its
updated_at column, late edits applied in place, the password only from the environment,
and a load killed mid-way that ends, once run again, exactly like one clean run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.support import run, write_config

N = 30_000


def make_crm(path: Path, n: int) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE tickets (ticket_id INTEGER PRIMARY KEY, created TEXT, resolved TEXT, category TEXT, "
            "district TEXT, modified TEXT)"
        )
        conn.executemany(
            "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?)",
            [
                (i, f"2025-01-{1 + i % 28:02d} 09:00:00", None if i % 3 else f"2025-02-{1 + i % 28:02d} 10:00:00",
                 "pothole" if i % 2 else "graffiti", f"D{i % 7}", f"2025-03-01 00:{i // 1000 % 60:02d}:00")
                for i in range(1, n + 1)
            ],
        )  # fmt: skip


def configure(folder: Path, crm: Path, batch_size: int = 5000, **extra: object) -> Path:
    config = write_config(folder, {
        "timezone": "Europe/Berlin",
        "services": {"pothole": {"department": "Roads"}, "graffiti": {"department": "Cleaning"}},
        "etl": {"sources": {"crm": {
            "kind": "cases_sql",
            "url": f"sqlite:///{crm}",
            "table": "tickets",
            "updated_at": "modified",
            "key": "ticket_id",
            "batch_size": batch_size,
            "datetime_format": "%Y-%m-%d %H:%M:%S",
            "columns": {"source_id": "ticket_id", "opened_at": "created", "closed_at": "resolved",
                        "service": "category", "region": "district"},
            **extra,
        }}},
    })  # fmt: skip
    run(config, "init")
    return config


def store(config: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(config.parent / "store.db")) as conn:
        return conn.execute(sql).fetchall()


def test_incremental_loads_apply_late_edits_in_place(tmp_path: Path) -> None:
    crm = tmp_path / "crm.db"
    make_crm(crm, 1200)
    config = configure(tmp_path, crm, batch_size=500)
    out = run(config, "etl", "run").output
    assert "crm: read 1,200 = loaded 1,200 (new 1,200" in out
    assert "read 0 = loaded 0" in run(config, "etl", "run").output  # nothing changed since
    with closing(sqlite3.connect(crm)) as conn, conn:
        conn.execute("UPDATE tickets SET resolved = '2025-03-02 08:00:00', modified = '2025-03-02 08:00:00' "
                     "WHERE ticket_id = 2")  # fmt: skip
        conn.execute("INSERT INTO tickets VALUES (5000, '2025-03-02 07:00:00', NULL, 'pothole', 'D1', "
                     "'2025-03-02 07:00:00')")  # fmt: skip
    out = run(config, "etl", "run").output
    assert "read 2 = loaded 2 (new 1, changed 1" in out
    assert store(config, "SELECT count(*) FROM cases") == [(1201,)]
    assert store(config, "SELECT closed_at FROM cases WHERE source_id = '2'") == [("2025-03-02 07:00:00.000000",)]


def test_the_password_comes_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = tmp_path / "crm.db"
    make_crm(crm, 10)
    config = configure(tmp_path, crm, password_env="CRM_PASSWORD")
    monkeypatch.delenv("CRM_PASSWORD", raising=False)
    result = run(config, "etl", "run", ok=False)
    assert "CRM_PASSWORD (password_env) is not set" in result.output and "terminal" in result.output
    text = config.read_text().replace(f"sqlite:///{crm}", "postgresql+psycopg://crm:secret@db/crm")
    config.write_text(text)
    result = run(config, "config", "check", ok=False)
    assert "etl.sources.crm.url: contains a password" in result.output


def test_a_load_killed_mid_way_and_run_again_equals_one_clean_run(tmp_path: Path) -> None:
    crm = tmp_path / "crm.db"
    make_crm(crm, N)
    clean = configure(tmp_path / "clean" if (tmp_path / "clean").mkdir() is None else tmp_path, crm)
    started = time.monotonic()
    run(clean, "etl", "run")
    seconds = time.monotonic() - started
    expected = store(clean, "SELECT case_key, row_hash FROM cases ORDER BY case_key")

    folder = tmp_path / "killed"
    folder.mkdir()
    config = configure(folder, crm)
    proc = subprocess.Popen([sys.executable, "-m", "metrics.cli", "--config", str(config), "etl", "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    # Start-up takes a few seconds more than the in-process clean run; kill during the load.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not store(config, "SELECT count(*) FROM source_state")[0][0]:
        time.sleep(0.05)
    time.sleep(min(seconds / 4, 1))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    landed = store(config, "SELECT count(*) FROM cases")[0][0]
    assert 0 < landed < N and landed % 5000 == 0  # whole batches only
    run(config, "etl", "run")
    assert store(config, "SELECT case_key, row_hash FROM cases ORDER BY case_key") == expected
    assert "interrupted" in {s for (s,) in store(config, "SELECT status FROM etl_runs")}
