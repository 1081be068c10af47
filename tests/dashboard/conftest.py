"""Stores for the dashboard tests.

`cell_store` is an empty store of the real schema into which a test writes the metric
cells it needs, small enough to check by hand. `demo_store` is built by the real CLI from
5,000 demo cases (demo-data, init, etl run, metrics refresh), once per session.

Both settings turn the login off (`auth.required: false`), so tests of pages open them
directly; the tests of login, roles and scope (`test_auth*.py`) turn it on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from metrics.catalogue import CATALOGUE
from metrics.config import AuthSettings, Settings, load_settings
from metrics.store.db import engine_for, make_engine, upgrade
from metrics.store.models import MetricCell, RefreshRun
from tests.support import demo_config, run

AS_OF = dt.datetime(2026, 10, 31, 18, 0)

REGIONS = ("Northgate", "Fenwick", "Highmoor")


@pytest.fixture
def settings() -> Settings:
    """A small configuration: three regions, the targets of config.yaml, three headlines."""
    return Settings.model_validate(
        {
            "timezone": "Europe/London",
            "regions": [{"id": r} for r in REGIONS],
            "targets": {
                "on_time_rate": {"target": 0.90, "threshold": 0.80},
                "resolution_days_median": {"target": 5.0, "threshold": 8.0},
                "backlog_open": {"target": 2500, "threshold": 3500},
            },
            "dashboard": {"headline": ["cases_opened", "on_time_rate", "resolution_days_median"]},
            # Tests of pages read them without a login; tests/dashboard/test_auth*.py log in.
            "auth": {"required": False},
        }
    )


@pytest.fixture
def cell_store(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


CellWriter = Callable[..., int]


@pytest.fixture
def write_cells(cell_store: Engine) -> CellWriter:
    """write_cells(rows) records a new refresh run holding `rows` and returns its id.

    A row is a dict with metric, period (date) and value; optional region, n, ci_low,
    ci_high, suppressed, note. Missing n defaults to 100.
    """

    def write(rows: list[dict[str, Any]], as_of: dt.datetime = AS_OF) -> int:
        with cell_store.begin() as conn:
            run_id = conn.execute(
                insert(RefreshRun).values(
                    started_at=as_of,
                    finished_at=as_of,
                    status="succeeded",
                    as_of=as_of,
                    cases=1000,
                    cells=len(rows),
                )
            ).inserted_primary_key[0]
            conn.execute(insert(MetricCell), [_cell(r, run_id, as_of) for r in rows])
        return int(run_id)

    return write


def _cell(r: dict[str, Any], run_id: int, as_of: dt.datetime) -> dict[str, Any]:
    region = r.get("region")
    suppressed = r.get("suppressed", False)
    return {
        "metric": r["metric"],
        "definition_version": CATALOGUE[r["metric"]].version,
        "grain": "month",
        "period": r["period"],
        "dim_names": "region" if region else "",
        "dims_key": f"region={region}" if region else "",
        "across": "",
        "value": None if suppressed else r["value"],
        "n": None if suppressed else r.get("n", 100),
        "numerator": None,
        "denominator": None,
        "ci_low": r.get("ci_low"),
        "ci_high": r.get("ci_high"),
        "suppressed": suppressed,
        "note": r.get("note", "suppressed: fewer than 10 cases" if suppressed else None),
        "as_of": as_of,
        "refresh_run_id": run_id,
    }


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    """config.yaml's settings over a store the real CLI filled from 5,000 demo cases."""
    folder = tmp_path_factory.mktemp("dashboard-demo")
    config = demo_config(folder)
    run(config, "demo-data", "--out", str(folder / "demo"), "--cases", "5000")
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    # Tests of pages read them without a login (tests/dashboard/test_auth*.py log in).
    settings = load_settings(config).model_copy(update={"auth": AuthSettings(required=False)})
    engine = engine_for(settings)
    yield settings, engine
    engine.dispose()
