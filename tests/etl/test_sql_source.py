"""The CRM database source, against a real SQLite file and a real PostgreSQL server.

Every behaviour test runs on both (the `db` fixture): SQLite keeps timestamps as text,
PostgreSQL as timestamptz, and keyset paging must be exact on each. States go through JSON
between runs, as the runner stores them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl.batches import Batch
from etl.errors import ColumnsMissing, SourceMissing, TerminalError, TransientError
from etl.sql_source import sql_batches
from tests.postgres import URL_ENV, server

BASE = dt.datetime(2024, 3, 1, 10, 0)
# PostgreSQL rows are written with an offset of their own; they must come back as the same instant.
CET = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with server() as url:
        yield url


@dataclass
class Db:
    """A `cases` table in a fresh database (SQLite) or a fresh schema (PostgreSQL)."""

    kind: str
    url: str
    engine: sa.Engine
    table: sa.Table

    @property
    def name(self) -> str:
        return f"{self.table.schema}.cases" if self.table.schema else "cases"

    def at(self, minutes: float) -> dt.datetime:
        """A timestamp as this database's column holds it (aware on PostgreSQL)."""
        stamp = BASE + dt.timedelta(minutes=minutes)
        return stamp.replace(tzinfo=CET) if self.kind == "postgresql" else stamp

    def insert(self, *rows: tuple[int, float | None]) -> None:
        """Cases (key, minutes after BASE or None for no timestamp)."""
        with self.engine.begin() as conn:
            conn.execute(
                self.table.insert(),
                [
                    {"case_id": k, "updated_at": None if m is None else self.at(m), "office": f"office {k % 3}"}
                    for k, m in rows
                ],
            )

    def touch(self, key: int, minutes: float | None) -> None:
        with self.engine.begin() as conn:
            stamp = None if minutes is None else self.at(minutes)
            conn.execute(self.table.update().where(self.table.c.case_id == key).values(updated_at=stamp))

    def read(self, state: dict, batch_size: int = 5, **options: Any) -> list[Batch]:
        where = {"query": options.pop("query")} if "query" in options else {"table": options.pop("table", self.name)}
        options = {"updated_at": "updated_at", "key": "case_id", **options}
        return list(sql_batches(self.url, json.loads(json.dumps(state)), batch_size=batch_size, **where, **options))


def keys(batches: list[Batch]) -> list[int]:
    return [int(k) for b in batches for k in b.rows["case_id"]]


def last_state(batches: list[Batch], before: dict) -> dict:
    return json.loads(json.dumps(batches[-1].state)) if batches else before


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
        schema = None
    else:
        url = request.getfixturevalue("pg_url")
        schema = f"crm_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    metadata = sa.MetaData(schema=schema)
    table = sa.Table(
        "cases",
        metadata,
        # Keys beyond 32 bits: a position bound as INTEGER would overflow on PostgreSQL.
        sa.Column("case_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("office", sa.String(40)),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("score", sa.Float),
        sa.Column("opened", sa.Date),
    )
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.schema.CreateSchema(schema))
    metadata.create_all(engine)
    yield Db(request.param, url, engine, table)
    if schema:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
    engine.dispose()


BIG = 5_000_000_000


def test_first_run_reads_every_row_once_in_batches_of_the_size(db: Db) -> None:
    # Inserted out of timestamp order: the order read is (updated_at, key), not insertion.
    db.insert(*[(BIG + k, (k * 7) % 23) for k in range(23)])
    batches = db.read({}, batch_size=5)
    assert [len(b.rows) for b in batches] == [5, 5, 5, 5, 3]
    expected = sorted(range(23), key=lambda k: ((k * 7) % 23, k))
    assert keys(batches) == [BIG + k for k in expected]
    assert all(list(b.rows["_row"]) == list(range(1, len(b.rows) + 1)) for b in batches)
    assert batches[0].label.startswith(f"{db.name} rows 1-5 (updated_at up to ")
    assert batches[-1].label.startswith(f"{db.name} rows 21-23 (updated_at up to ")
    last = batches[-1].state
    assert dt.datetime.fromisoformat(last["high_water_mark"]) == db.at(22)
    assert last["last_key"] == str(BIG + expected[-1])
    assert list(batches[0].rows.columns) == ["_row", "case_id", "updated_at", "office", "amount", "score", "opened"]


def test_a_second_run_from_the_last_state_reads_nothing(db: Db) -> None:
    db.insert(*[(k, k) for k in range(1, 11)])
    first = db.read({}, batch_size=5)
    assert [len(b.rows) for b in first] == [5, 5]  # a full last batch: one more query finds nothing
    assert db.read(last_state(first, {})) == []


def test_an_updated_old_case_and_new_cases_are_read_next_time(db: Db) -> None:
    db.insert(*[(k, k) for k in range(1, 13)])
    state = last_state(db.read({}, batch_size=5), {})
    db.touch(3, 30)  # a late update: its updated_at moves past the mark
    db.insert((13, 20), (14, 40))
    again = db.read(state, batch_size=5)
    assert keys(again) == [13, 3, 14]
    assert db.read(last_state(again, state)) == []


def test_cases_sharing_a_timestamp_across_batch_boundaries_are_each_read_once(db: Db) -> None:
    db.insert((1, 0), *[(k, 5) for k in range(2, 12)], (12, 9))
    assert [len(b.rows) for b in db.read({}, batch_size=4)] == [4, 4, 4]
    # One batch per run, as if every run stopped after its first batch: resuming from a
    # position in the middle of the tie goes on with the next key of the same timestamp.
    state: dict = {}
    read: list[int] = []
    for _ in range(10):
        batches = db.read(state, batch_size=3)[:1]
        if not batches:
            break
        read += keys(batches)
        state = last_state(batches, state)
    assert read == list(range(1, 13))


def test_rows_without_a_timestamp_are_read_once_and_new_ones_later(db: Db) -> None:
    db.insert((1, 1), (2, None), (3, 2), (4, None), (5, None), (6, 0))
    first = db.read({}, batch_size=2)
    assert keys(first) == [2, 4, 5, 6, 1, 3]  # no timestamp first, by key
    assert first[0].label == f"{db.name} rows 1-2 (updated_at empty, case_id up to 4)"
    # The rows without a timestamp end with a short batch; those with one start afresh.
    assert [len(b.rows) for b in first] == [2, 1, 2, 1]
    assert first[1].rows["updated_at"].tolist() == [""]
    assert first[2].label == f"{db.name} rows 4-5 (updated_at up to {first[2].rows['updated_at'].iloc[-1]})"
    assert [dt.datetime.fromisoformat(s) for s in first[2].rows["updated_at"]] == [db.at(0), db.at(1)]
    state = last_state(first, {})
    assert state["null_last_key"] == "5"
    assert db.read(state) == []
    db.insert((7, None))  # a new case without a timestamp
    db.touch(4, 10)  # an old one that gets a timestamp
    again = db.read(state)
    assert keys(again) == [7, 4]
    assert db.read(last_state(again, state)) == []


def test_values_become_text(db: Db) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            db.table.insert(),
            [
                {
                    "case_id": 1,
                    "updated_at": db.at(0),
                    "office": "north",
                    "amount": Decimal("12.00"),
                    "score": 3.0,
                    "opened": dt.date(2024, 2, 29),
                },
                {
                    "case_id": 2,
                    "updated_at": db.at(1.5),
                    "office": "",
                    "amount": Decimal("12.50"),
                    "score": 2.25,
                    "opened": None,
                },
            ],
        )
    rows = db.read({})[0].rows
    assert rows.drop(columns=["_row", "updated_at"]).to_dict("records") == [
        {"case_id": "1", "office": "north", "amount": "12", "score": "3", "opened": "2024-02-29"},
        {"case_id": "2", "office": "", "amount": "12.5", "score": "2.25", "opened": ""},
    ]
    assert all(isinstance(v, str) for v in rows.drop(columns="_row").to_numpy().ravel())
    stamps = rows["updated_at"].tolist()
    assert [dt.datetime.fromisoformat(s) for s in stamps] == [db.at(0), db.at(1.5)]
    if db.kind == "postgresql":
        assert all(s.endswith("+00:00") for s in stamps)  # the offset is kept (in the session's zone)
    else:
        assert stamps == ["2024-03-01T10:00:00", "2024-03-01T10:01:30"]


def test_a_query_instead_of_a_table(db: Db) -> None:
    db.insert(*[(k, k % 4) for k in range(1, 11)])
    # A colon and a percent sign in the SQL are the query's own, not parameters; the
    # trailing semicolon cannot stay in a subquery.
    query = (
        f"SELECT case_id, updated_at, office AS desk, '10:30' AS slot FROM {db.name} "
        "WHERE office LIKE 'office%' AND case_id <> 4;"
    )
    batches = db.read({}, batch_size=3, query=query)
    assert [len(b.rows) for b in batches] == [3, 3, 3]
    assert list(batches[0].rows.columns) == ["_row", "case_id", "updated_at", "desk", "slot"]
    assert set(batches[0].rows["slot"]) == {"10:30"}
    assert batches[0].label.startswith("query rows 1-3 (updated_at up to ")
    assert sorted(keys(batches)) == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    state = last_state(batches, {})
    db.touch(4, 9)
    db.touch(5, 9)
    assert keys(db.read(state, query=query)) == [5]


def test_a_position_set_by_hand_reads_from_that_time(db: Db) -> None:
    db.insert(*[(k, k) for k in range(1, 7)])
    mark = db.at(4)
    mark = mark if mark.tzinfo else mark.replace(microsecond=0)
    assert keys(db.read({"high_water_mark": mark.isoformat()})) == [4, 5, 6]
    assert keys(db.read({"high_water_mark": mark.isoformat(), "last_key": "4"})) == [5, 6]


def test_a_wrong_column_says_which_and_lists_the_columns(db: Db) -> None:
    db.insert((1, 1))
    with pytest.raises(ColumnsMissing) as err:
        db.read({}, updated_at="updated")
    message = str(err.value)
    assert f"column 'updated' (given as `updated_at`) not found in {db.name}" in message
    assert "'case_id', 'updated_at', 'office'" in message and "did you mean 'updated_at'?" in message
    with pytest.raises(ColumnsMissing, match="column 'id' \\(given as `key`\\)"):
        db.read({}, key="id")
    with pytest.raises(ColumnsMissing, match="not found in query; it has: 'case_id', 'updated_at'"):
        db.read({}, query=f"SELECT case_id, updated_at FROM {db.name}", key="office")


def test_a_wrong_table_says_which_and_lists_the_tables(db: Db) -> None:
    with pytest.raises(SourceMissing, match=r"table '(crm_\w+\.)?nope' not found at .*; it has: 'cases'") as err:
        db.read({}, table="nope" if db.kind == "sqlite" else f"{db.table.schema}.nope")
    if db.kind == "postgresql":
        assert f"table '{db.table.schema}.nope'" in str(err.value)
        with pytest.raises(SourceMissing, match=r"schema 'nowhere' of table 'nowhere\.cases' not found"):
            db.read({}, table="nowhere.cases")


@pytest.mark.parametrize(
    "query",
    ["SELEC case_id, updated_at FROM {table}", "SELECT case_id, updated_at, nope FROM {table}", "SELECT * FROM nope"],
)
def test_bad_sql_is_terminal_and_says_why(db: Db, query: str) -> None:
    with pytest.raises(TerminalError, match="checking the query failed on") as err:
        db.read({}, query=query.format(table=db.name))
    assert not isinstance(err.value, TransientError)
    assert any(word in str(err.value) for word in ("syntax", "nope"))


def test_neither_or_both_of_table_and_query_is_terminal(db: Db) -> None:
    with pytest.raises(TerminalError, match="exactly one of `table` or `query`"):
        list(sql_batches(db.url, {}, updated_at="updated_at", key="case_id"))
    with pytest.raises(TerminalError, match="exactly one of `table` or `query`"):
        db.read({}, table=db.name, query="SELECT 1")


def test_a_missing_sqlite_file_is_terminal_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    with pytest.raises(SourceMissing, match="not found"):
        list(sql_batches(f"sqlite:///{path}", {}, table="cases", updated_at="u", key="k"))
    assert not path.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_transient_and_the_message_hides_the_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://crm:s3cret-pw@127.0.0.1:{_free_port()}/crm"
    with pytest.raises(TransientError) as err:
        list(sql_batches(url, {}, table="cases", updated_at="updated_at", key="case_id", connect_timeout=2))
    message = str(err.value)
    assert "Connection refused" in message and "127.0.0.1" in message
    assert "s3cret-pw" not in message and "***" in message


def test_a_server_that_never_answers_times_out_as_transient() -> None:
    pytest.importorskip("psycopg")
    # A socket that listens but never accepts: the TCP handshake completes, the server never speaks.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"postgresql+psycopg://crm:pw@127.0.0.1:{silent.getsockname()[1]}/crm"
        started = time.monotonic()
        with pytest.raises(TransientError, match="timeout"):
            list(sql_batches(url, {}, table="cases", updated_at="updated_at", key="case_id", connect_timeout=1))
    assert time.monotonic() - started < 15


def test_a_wrong_password_on_postgresql_is_terminal(pg_url: str) -> None:
    """A real refused login: the throwaway server trusts its Unix socket, so the test asks
    for a password from one role of its own (pg_hba.conf rewritten by the server itself)."""
    admin = sa.create_engine(pg_url)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD 'right-pw'"))
        conn.execute(sa.text(f"CREATE TABLE {role}_cases (case_id int PRIMARY KEY, updated_at timestamptz)"))
        conn.execute(sa.text(f"INSERT INTO {role}_cases VALUES (1, now())"))
        conn.execute(sa.text(f"GRANT SELECT ON {role}_cases TO {role}"))
    url = sa.make_url(pg_url)
    wrong = url.set(username=role, password="wrong-pw").render_as_string(hide_password=False)
    right = url.set(username=role, password="right-pw").render_as_string(hide_password=False)

    def refused() -> bool:
        try:
            sa.create_engine(wrong, poolclass=sa.NullPool).connect().close()
        except sa.exc.OperationalError:
            return True
        return False

    if not refused():
        if os.environ.get(URL_ENV):
            admin.dispose()
            pytest.skip("the server at CIVIC_METRICS_TEST_PG_URL accepts any password; not ours to reconfigure")
        with admin.begin() as conn:
            hba = conn.execute(sa.text("SHOW hba_file")).scalar_one()
            # COPY takes no parameters; the role name is ours (letters and hex digits).
            conn.execute(
                sa.text(
                    f"COPY (SELECT line FROM (VALUES (1, 'local all {role} scram-sha-256'), "
                    f"(2, 'local all all trust')) AS v(i, line) ORDER BY i) TO '{hba}'"
                )
            )
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        deadline = time.monotonic() + 10
        while not refused() and time.monotonic() < deadline:
            time.sleep(0.05)
    admin.dispose()

    def read(url: str) -> list[Batch]:
        return list(sql_batches(url, {}, table=f"{role}_cases", updated_at="updated_at", key="case_id"))

    with pytest.raises(TerminalError) as err:
        read(wrong)
    assert not isinstance(err.value, TransientError)
    assert "refused the login" in str(err.value) and "password authentication failed" in str(err.value)
    assert "wrong-pw" not in str(err.value)
    assert keys(read(right)) == [1]  # the same role with its password reads the table


def test_sqlite_text_timestamps_written_by_another_program(tmp_path: Path) -> None:
    """SQLite keeps timestamps as the writer wrote them ('T', no fraction, a fraction only
    where there is one, as Python's isoformat() does); the position must match them exactly,
    or cases tied on the mark are skipped or read twice."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE "Case Table" ("Case Id" TEXT PRIMARY KEY, "Changed" TEXT)'))
        stamps = ["2024-03-01T10:00:00"] * 5 + ["2024-03-01T10:00:00.500000"] * 2 + ["2024-03-01T10:00:01"]
        conn.execute(
            sa.text('INSERT INTO "Case Table" VALUES (:k, :t)'),
            [{"k": f"C-{i:03d}", "t": t} for i, t in enumerate(stamps)],
        )
    engine.dispose()
    state: dict = {}
    read: list[str] = []
    for _ in range(10):
        batches = list(sql_batches(url, state, table="Case Table", updated_at="Changed", key="Case Id", batch_size=3))[
            :1
        ]
        if not batches:
            break
        read += batches[0].rows["Case Id"].tolist()
        state = json.loads(json.dumps(batches[0].state))
    assert read == [f"C-{i:03d}" for i in range(8)]
    assert state["high_water_mark"] == "2024-03-01T10:00:01" and state["last_key"] == "C-007"
