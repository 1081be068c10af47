"""A first load builds the secondary indexes after its rows, and leaves them as they were.

On both stores: inside the block the indexes are gone, after it each is back with the
definition the database stored before; an error inside the block rolls the drops back with
the rows; a table that already has rows keeps its indexes while it is written to. And a
real first load (`etl run` of the demo files) ends with the indexes the schema made.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine

from metrics.store import bulk
from metrics.store.db import make_engine, upgrade
from metrics.store.indexes import built_after, secondary_indexes
from metrics.store.models import Case
from tests.metrics.test_bulk import CASES

TABLES = ("cases", "case_groups")


@pytest.fixture
def engine(store_url: str) -> Engine:
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def indexes(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [ix for t in TABLES for ix in secondary_indexes(conn, t)]


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM cases").scalar()


def test_the_schemas_secondary_indexes_are_found(engine: Engine) -> None:
    names = [name for name, _ in indexes(engine)]
    # The three of the cases table; the primary keys are not among them.
    assert names == ["ix_cases_citizen_key", "ix_cases_opened_at", "ix_cases_source"]


def test_an_empty_table_is_written_without_its_indexes_and_gets_them_back(engine: Engine) -> None:
    before = indexes(engine)
    with engine.begin() as conn:
        with built_after(conn, TABLES) as dropped:
            assert [ix for t in TABLES for ix in secondary_indexes(conn, t)] == []
            bulk.insert_frame(conn, Case.__table__, CASES)
        assert dropped == [name for name, _ in before]
    assert indexes(engine) == before
    assert count(engine) == len(CASES)
    # The rebuilt index is the one the planner reads a citizen's cases through.
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT case_key FROM cases WHERE citizen_key = 'x'"
                )
            )  # fmt: skip
            assert "ix_cases_citizen_key" in plan


def test_an_error_inside_the_block_leaves_the_store_as_it_was(engine: Engine) -> None:
    before = indexes(engine)
    with pytest.raises(RuntimeError, match="crash"), engine.begin() as conn, built_after(conn, TABLES):
        bulk.insert_frame(conn, Case.__table__, CASES)
        raise RuntimeError("crash in the middle of the load")
    assert indexes(engine) == before
    assert count(engine) == 0


def test_a_table_with_rows_keeps_its_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk.insert_frame(conn, Case.__table__, CASES.iloc[:1])
    before = indexes(engine)
    with engine.begin() as conn:
        with built_after(conn, TABLES) as dropped:
            assert [ix for t in TABLES for ix in secondary_indexes(conn, t)] == before
            bulk.insert_frame(conn, Case.__table__, CASES.iloc[1:])
        assert dropped == []
    assert indexes(engine) == before
    assert count(engine) == len(CASES)


def test_a_first_load_ends_with_the_schemas_indexes(tmp_path, store_url: str) -> None:  # type: ignore[no-untyped-def]
    from etl.demo_data import write_demo_data
    from etl.runner import run_jobs
    from metrics.config import load_settings
    from tests.support import demo_config

    write_demo_data(tmp_path / "demo", cases=3000, seed=5)
    config = demo_config(tmp_path)
    if not store_url.startswith("sqlite"):
        text = config.read_text(encoding="utf-8").replace(f"sqlite:///{tmp_path / 'store.db'}", store_url)
        config.write_text(text, encoding="utf-8")
    settings = load_settings(config)
    engine = make_engine(store_url)
    upgrade(engine)
    before = indexes(engine)
    said: list[str] = []
    run_jobs(settings, engine, ["cases"], said.append)
    assert indexes(engine) == before
    assert any("building the indexes ix_cases_citizen_key" in s for s in said)
    loaded = count(engine)
    assert loaded > 2900
    with engine.connect() as conn:
        groups = pd.read_sql("SELECT case_key, attribute FROM case_groups", conn)
    assert len(groups) == loaded * len(settings.groups)
    if engine.dialect.name == "sqlite":
        # Written case by case, attributes in order: the order of the primary key (the demo's
        # case ids come in key order), so the load only appended to that index.
        with engine.connect() as conn:
            written = pd.read_sql("SELECT case_key, attribute FROM case_groups ORDER BY rowid", conn)
        in_key_order = written.sort_values(["case_key", "attribute"], ignore_index=True)
        assert written.equals(in_key_order)
    # A second load of the same files into the filled table writes through the indexes.
    said.clear()
    run_jobs(settings, engine, ["cases"], said.append, reload=True)
    assert not any("building the indexes" in s for s in said)
    assert indexes(engine) == before
    engine.dispose()


def test_a_unique_index_stays_while_the_rows_are_written(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE UNIQUE INDEX ux_cases_source_id ON cases (source, source_id)")
        conn.exec_driver_sql("CREATE INDEX ix_cases_region ON cases (region)")
    names = [name for name, _ in indexes(engine)]
    assert "ux_cases_source_id" not in names and "ix_cases_region" in names
    with pytest.raises(Exception, match=r"(?i)unique"), engine.begin() as conn, built_after(conn, TABLES):
        bulk.insert_frame(conn, Case.__table__, pd.concat([CASES, CASES.assign(case_key=CASES["case_key"] + "b")]))
    assert count(engine) == 0


def test_a_sqlite_load_waits_for_another_writer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A load that meets another connection's write waits for it (the store's busy timeout),
    as its first insert always did, instead of failing with 'database is locked'."""
    import sqlite3
    import threading
    import time

    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE users SET id = id")
    released = threading.Event()

    def release() -> None:
        time.sleep(1.0)
        other.commit()
        released.set()

    threading.Thread(target=release).start()
    started = time.perf_counter()
    with engine.begin() as conn, built_after(conn, TABLES) as dropped:
        bulk.insert_frame(conn, Case.__table__, CASES)
    assert released.is_set() and time.perf_counter() - started >= 0.9
    assert dropped and count(engine) == len(CASES)
    other.close()
    engine.dispose()


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_postgres_indexes_are_found_in_a_schema_whose_name_needs_quotes(store_url: str) -> None:
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA "Civic Data"')
        conn.exec_driver_sql('SET LOCAL search_path TO "Civic Data"')
        conn.exec_driver_sql("CREATE TABLE cases (case_key text PRIMARY KEY, region text, source text)")
        conn.exec_driver_sql('CREATE INDEX "Ix Region" ON cases (region)')
        conn.exec_driver_sql("CREATE UNIQUE INDEX ux_source ON cases (source)")
        found = secondary_indexes(conn, "cases")
        assert [name for name, _ in found] == ["Ix Region"]
        with built_after(conn, ("cases",)) as dropped:
            assert dropped == ["Ix Region"] and secondary_indexes(conn, "cases") == []
        assert secondary_indexes(conn, "cases") == found
    engine.dispose()
