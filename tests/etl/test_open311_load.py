"""An Open311 GeoReport v2 endpoint loaded through config alone, by the real CLI: cases
land with their closing time, the high-water mark is stored with them, and the next run
sees late closures and new requests without loading anything twice. A local HTTP server
(tests/etl/test_open311.py) stands in for the city's API."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.etl.test_open311 import City, city, endpoint, req  # noqa: F401 - fixtures
from tests.support import run, write_config


def stamp(days_ago: float) -> str:
    t = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    return t.astimezone(dt.timezone(dt.timedelta(hours=-5))).replace(microsecond=0).isoformat()


def configure(folder: Path, endpoint: str) -> Path:  # noqa: F811 - the fixture's value
    config = write_config(folder, {
        "timezone": "America/Chicago",
        "services": {"POT": {"department": "Streets", "deadline_working_days": 5}},
        "etl": {"sources": {"city311": {
            "kind": "cases_open311",
            "endpoint": endpoint,
            "start": (dt.date.today() - dt.timedelta(days=12)).isoformat(),
            "window_days": 7,
            "lookback_days": 10,
            "page_size": 2,
            "retries": 0,
            "columns": {"source_id": "service_request_id", "opened_at": "requested_datetime",
                        "closed_at": "closed_datetime", "service": "service_code"},
            "constants": {"channel": "app"},
        }}},
    })  # fmt: skip
    run(config, "init")
    return config


def stored(config: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(config.parent / "store.db")) as conn:
        return conn.execute(sql).fetchall()


def test_requests_load_and_the_next_run_sees_closures_and_new_requests(
    tmp_path: Path,
    city: City,  # noqa: F811
    endpoint: str,  # noqa: F811
) -> None:
    city.requests = [
        req(101, stamp(11)),
        req(102, stamp(9), status="closed", updated=stamp(8)),
        req(103, stamp(3)),
        req(104, stamp(2)),
        req(105, stamp(1)),
    ]
    config = configure(tmp_path, endpoint)
    out = run(config, "etl", "run").output
    assert "city311: read 5 = loaded 5 (new 5" in out
    rows = stored(config, "SELECT source_id, closed_at IS NOT NULL, channel FROM cases ORDER BY source_id")
    assert rows == [("101", 0, "app"), ("102", 1, "app"), ("103", 0, "app"), ("104", 0, "app"), ("105", 0, "app")]
    (state,) = stored(config, "SELECT state FROM source_state WHERE job = 'city311'")[0]
    mark = dt.datetime.fromisoformat(json.loads(state)["high_water_mark"])
    assert abs((dt.datetime.now(dt.UTC) - mark).total_seconds()) < 120  # caught up to now

    # Overnight: 103 is closed, a new request comes in.
    city.requests[2] = req(103, stamp(3), status="closed", updated=stamp(0.5))
    city.requests.append(req(106, stamp(0.2)))
    out = run(config, "etl", "run").output
    # Read again: the lookback (10 days) re-reads 101-105; only 103 changed, 106 is new.
    assert "new 1, changed 1" in out
    assert stored(config, "SELECT count(*) FROM cases") == [(6,)]
    assert stored(config, "SELECT closed_at IS NOT NULL FROM cases WHERE source_id = '103'") == [(1,)]
    log = run(config, "etl", "status").output
    assert log.count("city311") >= 2 and "succeeded" in log


def test_an_unreachable_endpoint_fails_as_transient_and_loads_nothing(tmp_path: Path) -> None:
    config = configure(tmp_path, "http://127.0.0.1:9/open311/v2")
    result = run(config, "etl", "run", ok=False)
    assert result.exit_code != 0 and "transient (retrying later may succeed)" in result.output
    assert stored(config, "SELECT count(*) FROM cases") == [(0,)]
    assert stored(config, "SELECT status FROM etl_runs") == [("failed",)]
