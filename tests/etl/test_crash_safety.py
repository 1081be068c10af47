"""A load killed at any moment (SIGKILL, no chance to clean up) and run again ends with
exactly what one clean run gives: every batch lands whole or not at all, with its position.

A real `civic-metrics etl run` process loads a folder of demo case files into a SQLite file
or a PostgreSQL database; it is killed at several random moments (seeded), run again to the
end, and the store is compared table by table with a store loaded once without
interruption.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from etl.demo_data import write_demo_data
from tests.support import demo_config, query

FILES = 6


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo cases split into dated files in one folder (as nightly exports arrive)."""
    folder = tmp_path_factory.mktemp("exports")
    write_demo_data(folder / "demo", cases=24_000, seed=11)
    cases = pd.read_csv(folder / "demo" / "cases.csv", dtype=str, keep_default_na=False)
    (folder / "demo" / "cases.csv").unlink()
    exports = folder / "demo" / "exports"
    exports.mkdir()
    for i, part in enumerate(range(0, len(cases), len(cases) // FILES)):
        cases.iloc[part : part + len(cases) // FILES].to_csv(exports / f"cases-{i:02d}.csv", index=False)
    return folder


def make_store(source: Path, folder: Path, store_url: str | None = None) -> Path:
    folder.mkdir()
    config = demo_config(folder)
    text = config.read_text(encoding="utf-8").replace(str(folder / "demo"), str(source / "demo"))
    if store_url:
        text = text.replace(f"sqlite:///{folder / 'store.db'}", store_url)
    text = text.replace(str(source / "demo" / "cases.csv"), str(source / "demo" / "exports"))
    config.write_text(text, encoding="utf-8")
    subprocess.run([*cli(config), "init"], check=True, capture_output=True)
    return config


def cli(config: Path) -> list[str]:
    return [sys.executable, "-m", "metrics.cli", "--config", str(config)]


def etl(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli(config), "etl", "run"], capture_output=True, text=True, check=True)


def snapshot(config: Path) -> dict[str, list[tuple]]:
    queries = {
        "cases": "SELECT case_key, row_hash FROM cases ORDER BY case_key",
        "case_groups": "SELECT case_key, attribute, value FROM case_groups ORDER BY 1, 2",
        "populations": "SELECT year, region, attribute, group_value, population FROM populations ORDER BY 1, 2, 3, 4",
        "eligible": "SELECT year, programme, region, attribute, group_value, eligible FROM eligible_populations "
        "ORDER BY 1, 2, 3, 4, 5",
        "quarantine": "SELECT job, batch, row_number, reason FROM quarantine ORDER BY 1, 2, 3",
        "loaded_files": "SELECT job, name, sha256, rows FROM loaded_files ORDER BY 1, 2",
    }
    return {name: query(config, sql) for name, sql in queries.items()}


def keys_of(path: Path, bad: set[tuple[str, int]]) -> set[str]:
    ids = pd.read_csv(path, dtype=str, keep_default_na=False)["Ref No"]
    return {f"cases:{i}" for row, i in enumerate(ids, start=1) if (str(path), row) not in bad}


@pytest.fixture(scope="module")
def clean(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[tuple]], float]:
    config = make_store(source, tmp_path_factory.mktemp("clean") / "store")
    started = time.monotonic()
    out = etl(config)
    seconds = time.monotonic() - started
    assert f"{FILES} file" not in out.stdout  # nothing skipped on a first run
    return snapshot(config), seconds


def test_a_clean_run_loads_every_file_once(clean: tuple[dict[str, list[tuple]], float]) -> None:
    tables, _ = clean
    assert len(tables["loaded_files"]) == FILES + 2  # the case files, population and eligible
    assert len(tables["cases"]) + sum(t[0] == "cases" for t in tables["quarantine"]) == 24_000


@pytest.mark.parametrize("point", range(3))
def test_killed_at_a_random_moment_and_run_again_equals_one_clean_run(
    source: Path, clean: tuple[dict[str, list[tuple]], float], tmp_path: Path, point: int, store_url: str
) -> None:
    tables, seconds = clean
    config = make_store(source, tmp_path / "store", store_url)
    # Somewhere between start-up and the end of a clean run (seeded: the same points each time).
    delay = random.Random(1000 + point).uniform(0.2, seconds)
    proc = subprocess.Popen([*cli(config), "etl", "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    partial = snapshot(config)
    # A kill during start-up (imports, opening the store) leaves no run behind to mark.
    began = "running" in [s for (s,) in query(config, "SELECT status FROM etl_runs")]
    # Whatever landed, landed whole: every valid row of each file recorded as loaded is in
    # the store, and no case found only in files not yet loaded is.
    loaded = {name for _, name, _, _ in partial["loaded_files"] if "exports" in name}
    bad = {(batch, row) for job, batch, row, _ in partial["quarantine"] if job == "cases"}
    present = {key for key, _ in partial["cases"]}
    keys = {f: keys_of(Path(f), bad) for f in map(str, sorted((source / "demo" / "exports").iterdir()))}
    elsewhere = set().union(*(k for f, k in keys.items() if f in loaded))
    for f, k in keys.items():
        if f in loaded:
            assert k <= present, f
        else:
            assert not (k - elsewhere) & present, f
    etl(config)
    assert snapshot(config) == tables
    # The killed run is listed as interrupted, not as running for ever.
    statuses = [s for (s,) in query(config, "SELECT status FROM etl_runs")]
    assert "running" not in statuses
    if proc.returncode == -signal.SIGKILL and began:
        assert "interrupted" in statuses
