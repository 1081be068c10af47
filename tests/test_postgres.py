"""The production store: the same pipeline on a real PostgreSQL server gives exactly the
figures of the embedded SQLite store.

Demo data (a few thousand cases, every kind of indicator) and the published DWP workbook
where ../shared is present go through `init`, `etl run`, `metrics refresh` and `metrics
export` twice, once into SQLite and once into PostgreSQL (tests/postgres.py starts the
server), and every exported record is compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from metrics.catalogue import CATALOGUE
from metrics.store.db import alembic_config
from tests.postgres import server
from tests.support import demo_config, run


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with server() as url:
        yield url


@pytest.fixture(scope="module")
def stores(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stores")
    sqlite = demo_config(folder)
    run(sqlite, "demo-data", "--out", str(folder / "demo"), "--cases", "4000", "--seed", "5")
    settings = yaml.safe_load(sqlite.read_text(encoding="utf-8"))
    settings["store"]["url"] = pg_url
    pg = folder / "postgres.yaml"
    pg.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    outputs = {}
    for name, config in (("sqlite", sqlite), ("postgres", pg)):
        run(config, "init")
        outputs[name] = run(config, "etl", "run").output
        run(config, "metrics", "refresh")
    return {"sqlite": sqlite, "postgres": pg, **{f"etl_{k}": v for k, v in outputs.items()}}  # type: ignore[dict-item]


def test_the_schema_is_migrated_on_postgres(pg_url: str, stores: dict[str, Path]) -> None:
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        nullable = conn.execute(
            text(
                "SELECT is_nullable FROM information_schema.columns "
                "WHERE table_name = 'eligible_populations' AND column_name = 'eligible'"
            )
        ).scalar_one()
    engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert version == head and nullable == "YES"
    assert cases > 3900  # 4,000 generated, a few bad rows quarantined


def test_loads_report_the_same_counts(stores: dict[str, Path]) -> None:
    assert stores["etl_sqlite"] == stores["etl_postgres"] or _counts(stores["etl_sqlite"]) == _counts(
        stores["etl_postgres"]
    )
    # Loading the same files again changes nothing on PostgreSQL either.
    again = run(stores["postgres"], "etl", "run").output
    assert "new 0, changed 0" in again and "new 4" not in again


def _counts(output: str) -> list[str]:
    return [line.split(" in ")[0] for line in output.splitlines() if "read" in line]


@pytest.mark.parametrize("metric", sorted(CATALOGUE))
def test_every_indicator_exports_the_same_figures(stores: dict[str, Path], metric: str) -> None:
    with_region = run(stores["sqlite"], "metrics", "export", "--metric", metric, "--by", "region", ok=False)
    by = "region" if with_region.exit_code == 0 else with_region.output.split("store: ['")[1].split("'")[0]
    args = ["metrics", "export", "--metric", metric, "--grain", "quarter", "--by", by]
    if CATALOGUE[metric].is_across:
        args = ["metrics", "export", "--metric", metric, "--grain", "quarter", "--across", "region"]
    a = json.loads(run(stores["sqlite"], *args).stdout)
    b = json.loads(run(stores["postgres"], *args).stdout)
    assert a, f"{metric}: nothing exported"
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for key in ("value", "n", "numerator", "denominator", "ci_low", "ci_high"):
            if isinstance(x.get(key), float):
                assert y[key] == pytest.approx(x[key], rel=1e-9, abs=1e-12), (metric, x["period"], x["dims"], key)
            else:
                assert y.get(key) == x.get(key), (metric, x["period"], x["dims"], key)
        assert {k: v for k, v in x.items() if k not in ("value", "ci_low", "ci_high")} == {
            k: v for k, v in y.items() if k not in ("value", "ci_low", "ci_high")
        }
