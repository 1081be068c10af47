"""The worker, as real processes: `civic-metrics worker` started and stopped with signals,
APScheduler 3 with its jobs in the store, a local HTTP server standing in for a slow or
broken Open311 endpoint. Every firing must end up in job_runs; two workers must never run
the same job at once; transient failures are retried later, terminal ones are not."""

from __future__ import annotations

import datetime as dt
import http.server
import itertools
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy.exc

from etl.worker import acquire, release, renew
from metrics.store.db import make_engine, upgrade
from tests.support import query, write_config

CASES = "id,opened,closed,service,region\n1,2025-01-06 09:00,2025-01-07 09:00,pothole,North\n"


class SlowOpen311(http.server.BaseHTTPRequestHandler):
    """An Open311 endpoint that takes `delay` seconds to answer an empty page."""

    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_endpoint() -> Iterator[str]:
    handler = type("Handler", (SlowOpen311,), {"delay": 2.5})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/open311/v2"
    server.shutdown()


def open311_source(endpoint: str) -> dict:
    return {
        "kind": "cases_open311",
        "endpoint": endpoint,
        "start": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "window_days": 7,
        "lookback_days": 0,
        "retries": 0,
        "timeout_seconds": 10,
        "columns": {"source_id": "service_request_id", "opened_at": "requested_datetime", "service": "service_code"},
        "strict_services": False,
    }


def make_config(folder: Path, sources: dict, jobs: dict, store_url: str | None = None, **worker: object) -> Path:
    (folder / "cases.csv").write_text(CASES, encoding="utf-8")
    config = write_config(folder, store_url=store_url, settings={
        "timezone": "Europe/London",
        "services": {"pothole": {"department": "Roads", "deadline_working_days": 5}},
        "etl": {"sources": sources},
        "worker": {"jobs": jobs, "lease_seconds": 30, **worker},
    })  # fmt: skip
    subprocess.run([*cli(config), "init"], check=True, capture_output=True)
    return config


CSV_SOURCE = {
    "kind": "cases_csv",
    "path": "cases.csv",
    "datetime_format": "%Y-%m-%d %H:%M",
    "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "service",
                "region": "region"},
}  # fmt: skip


def cli(config: Path) -> list[str]:
    return [sys.executable, "-m", "metrics.cli", "--config", str(config)]


def start_worker(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*cli(config), "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


COLUMNS = ("id", "job", "status", "started_at", "finished_at", "transient", "error", "attempt", "worker")


def job_runs(config: Path) -> list[dict]:
    rows = query(config, f"SELECT {', '.join(COLUMNS)} FROM job_runs ORDER BY id")
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows]


def job_state(config: Path, job: str) -> dict:
    """A job as APScheduler stored it (its pickled state)."""
    (blob,) = query(config, f"SELECT job_state FROM apscheduler_jobs WHERE id = '{job}'")[0]
    return pickle.loads(blob)


def wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except (sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            pass  # the worker has not created its tables yet (PostgreSQL, SQLite)
        time.sleep(0.3)
    raise AssertionError("timed out waiting")


def test_jobs_run_on_schedule_are_recorded_and_a_signal_stops_the_worker(tmp_path: Path, store_url: str) -> None:
    config = make_config(tmp_path, {"cases": CSV_SOURCE}, {"often": {"every_seconds": 1, "steps": ["etl"]}}, store_url)
    proc = start_worker(config)
    try:
        wait_for(lambda: sum(r["status"] == "succeeded" for r in job_runs(config)) >= 3)
    finally:
        out = stop(proc)
    assert "started with 1 job(s)" in out and "SIGTERM received" in out and "stopped" in out
    runs = job_runs(config)
    assert {r["status"] for r in runs} <= {"succeeded"} and all(r["finished_at"] for r in runs)
    # The job lives in the store (SQLAlchemyJobStore), coalesced, one instance at a time.
    assert query(config, "SELECT id FROM apscheduler_jobs") == [("often",)]
    state = job_state(config, "often")
    assert (state["coalesce"], state["max_instances"], state["misfire_grace_time"]) == (True, 1, 3600)
    # The file was loaded once, then skipped.
    assert query(config, "SELECT count(*) FROM cases") == [(1,)]
    assert query(config, "SELECT count(*) FROM loaded_files") == [(1,)]
    # The worker's own lease and the job's are given back at the end.
    assert query(config, "SELECT * FROM worker_locks") == []


def test_two_workers_never_run_the_same_job_at_once(tmp_path: Path, slow_endpoint: str) -> None:
    config = make_config(
        tmp_path, {"feed": open311_source(slow_endpoint)}, {"poll": {"every_seconds": 1, "steps": ["etl"]}}
    )
    first = start_worker(config)
    try:
        wait_for(lambda: query(config, "SELECT count(*) FROM worker_locks WHERE name = 'worker'")[0][0] == 1)
    except BaseException:
        stop(first)
        raise
    second = start_worker(config)
    try:
        wait_for(lambda: any(r["status"] == "skipped" for r in job_runs(config)))
        wait_for(lambda: sum(r["status"] == "succeeded" for r in job_runs(config)) >= 2)
    finally:
        out_first, out_second = stop(first), stop(second)
    assert "another worker" in out_second and "is running on this store" in out_second
    runs = job_runs(config)
    ran = [r for r in runs if r["status"] in ("succeeded", "failed", "running")]
    assert all(r["status"] == "succeeded" for r in ran), ran
    # No two runs overlap in time, whichever worker ran them.
    spans = sorted((r["started_at"], r["finished_at"]) for r in ran)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert skipped and all(r["error"].startswith("already running on worker ") for r in skipped)
    assert "this run is skipped" in out_first + out_second


def test_a_transient_failure_is_retried_later_and_a_terminal_one_is_not(tmp_path: Path) -> None:
    closed = open311_source("http://127.0.0.1:9/open311/v2")  # nothing listens on port 9
    missing = {**CSV_SOURCE, "path": "no-such-file.csv"}
    config = make_config(
        tmp_path,
        {"feed": closed, "files": missing},
        {
            "poll": {"every_seconds": 1, "steps": ["etl"], "sources": ["feed"]},
            "load": {"every_seconds": 1, "steps": ["etl"], "sources": ["files"]},
        },
        retry={"first_seconds": 600, "max_seconds": 3600, "attempts": 3},
    )
    proc = start_worker(config)
    try:
        wait_for(lambda: {r["job"] for r in job_runs(config) if r["status"] == "failed"} == {"poll", "load"})
    finally:
        stop(proc)
    runs = {r["job"]: r for r in job_runs(config) if r["status"] == "failed"}
    assert runs["poll"]["transient"] == 1 and "TransientError" in runs["poll"]["error"]
    assert "retry 1 of 3 at" in runs["poll"]["error"]
    assert runs["load"]["transient"] == 0 and "SourceMissing" in runs["load"]["error"]
    # One retry is waiting in the store, about first_seconds from now; none for the terminal job.
    jobs = dict(query(config, "SELECT id, next_run_time FROM apscheduler_jobs"))
    assert "load:retry" not in jobs
    wait = jobs["poll:retry"] - time.time()
    assert 500 < wait <= 600


def test_a_run_missed_while_the_worker_was_down_is_recorded(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        {"cases": CSV_SOURCE},
        {"nightly": {"cron": "30 2 * * *", "timezone": "Asia/Shanghai", "steps": ["etl"]}},
        misfire_grace_seconds=60,
    )
    proc = start_worker(config)
    try:
        wait_for(lambda: query(config, "SELECT count(*) FROM apscheduler_jobs")[0][0] == 1)
    finally:
        stop(proc)
    trigger = job_state(config, "nightly")["trigger"]
    assert str(trigger.timezone) == "Asia/Shanghai" and "hour='2'" in str(trigger)
    # The worker was down when the job was due, ten minutes ago: later than the grace time.
    # What the store holds when the worker was down across the due time: the stored
    # next run time (column and pickled state alike) ten minutes in the past.
    state = job_state(config, "nightly")
    state["next_run_time"] = dt.datetime.now(state["next_run_time"].tzinfo) - dt.timedelta(minutes=10)
    with closing(sqlite3.connect(config.parent / "store.db")) as conn, conn:
        conn.execute(
            "UPDATE apscheduler_jobs SET next_run_time = ?, job_state = ?",
            (state["next_run_time"].timestamp(), pickle.dumps(state, pickle.HIGHEST_PROTOCOL)),
        )
    proc = start_worker(config)
    try:
        wait_for(lambda: any(r["status"] == "missed" for r in job_runs(config)))
    finally:
        stop(proc)
    missed = [r for r in job_runs(config) if r["status"] == "missed"]
    assert len(missed) == 1 and "s late" in missed[0]["error"]
    assert query(config, "SELECT count(*) FROM cases") == [(0,)]  # not run after all


def test_worker_log_lists_runs_and_next_times(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"cases": CSV_SOURCE}, {"nightly": {"cron": "30 2 * * *", "steps": ["etl"]}})
    ran = subprocess.run([*cli(config), "worker", "run", "nightly"], capture_output=True, text=True)
    assert ran.returncode == 0 and "job nightly: succeeded" in ran.stdout
    out = subprocess.run([*cli(config), "worker", "log"], capture_output=True, text=True, check=True).stdout
    assert "nightly: 30 2 * * *; next run when the worker starts" in out
    assert "nightly" in out.splitlines()[1] and "succeeded" in out.splitlines()[1]


@pytest.fixture(params=["sqlite", "postgres"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        upgrade(engine)
        yield engine
        return
    from tests.postgres import server

    with server() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def test_a_lease_is_held_by_one_worker_and_expires_when_not_renewed(store_engine: object) -> None:
    engine = store_engine
    assert acquire(engine, "job:x", "host:1", 30) is None  # type: ignore[arg-type]
    assert acquire(engine, "job:x", "host:2", 30) == "host:1"  # type: ignore[arg-type]
    renew(engine, "job:x", "host:2", 30)  # type: ignore[arg-type]  # not its lease: no effect
    assert acquire(engine, "job:x", "host:2", 30) == "host:1"  # type: ignore[arg-type]
    release(engine, "job:x", "host:1")  # type: ignore[arg-type]
    assert acquire(engine, "job:x", "host:2", 1) is None  # type: ignore[arg-type]
    time.sleep(1.2)  # host:2 died without renewing
    assert acquire(engine, "job:x", "host:3", 30) is None  # type: ignore[arg-type]
