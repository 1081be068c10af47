"""The store's schema: the migrations build exactly what the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from metrics.store.db import make_engine, upgrade
from metrics.store.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_an_older_store_is_named_and_upgraded_by_init(tmp_path: Path) -> None:
    from alembic import command

    from metrics.store.db import alembic_config, current_revision, head_revision
    from tests.support import run, write_config

    config = write_config(tmp_path, {})
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    result = run(config, "etl", "status", ok=False)
    assert f"the store's schema is at 0002, this version needs {head_revision()}" in result.output
    assert "run `civic-metrics init` to upgrade it" in result.output
    run(config, "init")
    assert current_revision(engine) == head_revision()
    assert run(config, "etl", "status").output.strip() == "no ETL run yet"
