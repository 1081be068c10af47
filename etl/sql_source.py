"""Cases from a CRM database, read incrementally on the case's last-modified column.

Any database SQLAlchemy reaches (SQLite, PostgreSQL, MySQL, SQL Server, ...) is read through
SQLAlchemy Core: identifiers are quoted by the dialect and every value is a bound parameter,
never text formatted into the SQL.

Paging is keyset pagination on (updated_at, key). Each batch is the next `batch_size` rows
after the stored position, ordered by both columns, and its state is the position of its
last row. So:
- a case modified since the last run (its updated_at moved past the mark) is read again,
  and the loader replaces it;
- cases sharing one timestamp across a batch boundary are neither lost nor read twice,
  because the key orders them and the position names the last one read;
- no OFFSET: each batch is an index range scan, however far into the table it is.

Rows whose updated_at is NULL cannot be placed on that order (NULL compares as unknown and
sorts first or last depending on the database). They are read first, by key alone, with a
mark of their own (`null_last_key`): each run reads the NULL rows with a key above the
highest one read so far. A NULL row that later gets a timestamp is read again through the
timestamp order. Not seen: a new NULL row with a key below that mark, and a row whose
timestamp is set back to NULL (both unusual for a CRM, where keys grow and the column is
set on every write).

A limit of any updated_at source: a transaction that stamps a row at time t but commits
after rows stamped later were read leaves that row behind the mark until it changes again.
Where the CRM has long write transactions, read through a `query` that holds back the last
minutes (`WHERE updated_at < now() - interval '5 minutes'`).

The state (JSON, stored by the runner with each batch):
    high_water_mark  updated_at of the last row read, ISO 8601 (for people and the run log)
    last_key         its key, as text
    null_last_key    the highest key read among rows with a NULL updated_at
    cursor           the same positions as typed values, [type, text]. The next run binds
                     exactly what the database returned: SQLite keeps timestamps as text in
                     whatever format the writer used, and '2024-03-01 10:00:00.000000' is
                     not equal to '2024-03-01T10:00:00' there; an ISO text alone could skip
                     or repeat the rows tied on the mark.
A state set by hand (say {"high_water_mark": "2024-03-01T00:00:00+00:00"} to read again
from a date) has no cursor: the text is read as the type the column holds, and without a
`last_key` the rows at the mark itself are read again.

Values become text as in a CSV read with every cell as a string: NULL is '', integers have
no '.0', timestamps are ISO 8601 with their offset where the column has one. On SQLite,
where dates and times are stored as text, text in the updated_at column (and, for a table,
in columns declared DATE/DATETIME/TIMESTAMP) is rewritten to ISO 8601 when it parses as one.

Errors say whether retrying can help: the database unreachable, slow or busy is a
TransientError; a login refused, a table, column or database that does not exist, or SQL
that does not parse is a TerminalError naming what is wrong. Messages never carry the
password.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import json
import math
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine

from etl.batches import Batch
from etl.errors import ColumnsMissing, EtlError, SourceMissing, TerminalError, TransientError

# How many names a "not found; it has: ..." message lists.
LISTED = 40


def sql_batches(
    url: str,
    state: dict,
    *,
    table: str | None = None,
    query: str | None = None,
    updated_at: str,
    key: str,
    batch_size: int = 50_000,
    connect_timeout: float = 30,
    omit: tuple[str, ...] = (),
) -> Iterator[Batch]:
    """Yield the rows changed since `state` in batches of at most `batch_size`.

    `url` is a SQLAlchemy URL with the password filled in. Read either `table` (a name, or
    schema.name) or `query` (a SELECT, read as a subquery, so it may filter, join or rename).
    `updated_at` is the column of the last-modified timestamp and `key` the column that
    identifies a case (unique; it orders cases that share a timestamp). Nothing is read
    until the generator is iterated; each batch is read on a connection of its own, so no
    transaction stays open while the caller loads a batch.

    `omit` names columns never selected (a source's personal columns, etl.privacy): their
    values do not leave the database. Each must exist, so a misspelt name is an error
    rather than the real column read.
    """
    if (table is None) == (query is None):
        raise TerminalError("a database source needs exactly one of `table` or `query`")
    if batch_size < 1:
        raise TerminalError(f"batch_size must be at least 1, not {batch_size}")
    if clash := sorted({updated_at, key} & set(omit)):
        raise TerminalError(f"column(s) {clash} page the source (updated_at, key); they cannot be omitted")
    db = _Database.open(url, connect_timeout)
    try:
        with db.connection("checking the source") as conn:
            src = _table_source(conn, table, db) if table is not None else _query_source(conn, query or "", db)
            src.check(updated_at=updated_at, key=key)
            src = src.without(omit)
            marks = _Marks.from_state(state or {}, conn, src, updated_at, key)
        reader = _Reader(db, src, updated_at, key, batch_size)
        yield from reader.batches(marks)
    finally:
        db.engine.dispose()


# --- The database: engine, connections, errors ------------------------------------------


@dataclass(frozen=True)
class _Database:
    engine: Engine
    shown: str  # the URL without the password, for messages
    password: str | None

    @classmethod
    def open(cls, url: str, connect_timeout: float) -> _Database:
        try:
            parsed = sa.make_url(url)
        except (sa_exc.ArgumentError, ValueError):
            # The parser's message may repeat the URL, password included.
            raise TerminalError(
                "the database URL cannot be read; it should look like dialect+driver://user:password@host/database"
            ) from None
        shown = parsed.render_as_string(hide_password=True)
        path = _sqlite_file(parsed)
        # SQLite would create an empty file here and then report that the table is missing.
        if path is not None and not path.exists():
            raise SourceMissing(f"{shown}: SQLite file {str(path)!r} not found")
        try:
            engine = sa.create_engine(parsed, connect_args=_timeout_args(parsed, connect_timeout), pool_pre_ping=True)
        except (ImportError, sa_exc.NoSuchModuleError) as exc:
            raise TerminalError(f"{shown}: the database driver is not installed: {exc}") from exc
        except sa_exc.ArgumentError as exc:
            raise TerminalError(f"{shown}: {exc}") from exc
        return cls(engine, shown, parsed.password)

    @contextmanager
    def connection(self, doing: str) -> Iterator[Connection]:
        with self.errors(doing), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except EtlError:
            raise
        except sa_exc.SQLAlchemyError as exc:
            raise classify(exc, doing=doing, shown=self.shown, password=self.password) from exc


def _sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (None: another database, in memory, or a URI)."""
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or url.query.get("uri")
    ):
        return None
    return Path(database)


def _timeout_args(url: URL, seconds: float) -> dict[str, Any]:
    """The driver's own connect timeout; without one a dead host hangs for minutes."""
    driver = url.get_driver_name()
    whole = max(1, math.ceil(seconds))
    if url.get_backend_name() == "sqlite":
        return {"timeout": seconds}  # how long to wait for a lock held by a writer
    names = {
        "psycopg": ("connect_timeout", whole),  # libpq: whole seconds, at least 2
        "psycopg2": ("connect_timeout", whole),
        "pg8000": ("timeout", seconds),
        "pymysql": ("connect_timeout", whole),
        "mysqldb": ("connect_timeout", whole),
        "pyodbc": ("timeout", whole),
        "oracledb": ("tcp_connect_timeout", seconds),
    }
    if driver not in names:
        return {}
    name, value = names[driver]
    # A timeout written into the URL wins: the URL is the more specific setting.
    return {} if name in url.query else {name: value}


# SQLSTATE classes where waiting can help: connection exception, insufficient resources
# (too many connections), operator intervention (shutdown, statement cancelled), system
# error, transaction rollback (serialization failure, deadlock).
_TRANSIENT_SQLSTATE = ("08", "53", "57", "58", "40")
_LOGIN = re.compile(
    r"password authentication failed|authentication failed|access denied|login failed|"
    r"no pg_hba\.conf entry|invalid password|role \S+ does not exist",
    re.IGNORECASE,
)
_TERMINAL = re.compile(
    r"does not exist|doesn't exist|no such table|no such column|unknown column|unknown database|unknown table|"
    r"syntax|permission denied|unable to open database file|not a database|"
    r"invalid input syntax|invalid object name|invalid column name",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"connection refused|timeout|timed out|could not connect|can't connect|"
    r"could not translate host name|name or service not known|temporary failure in name resolution|"
    r"network is unreachable|no route to host|connection reset|server closed the connection|"
    r"terminating connection|lost connection|broken pipe|database is locked|too many (clients|connections)|"
    r"starting up|shutting down|in recovery|connection failed",
    re.IGNORECASE,
)


def classify(exc: BaseException, *, doing: str, shown: str, password: str | None = None) -> EtlError:
    """A TransientError where trying again later can help, else a TerminalError.

    Connection failures carry no SQLSTATE (libpq reports them before a session exists), so
    the driver's message decides; a refused login is checked first because its message also
    says "connection failed".
    """
    original = getattr(exc, "orig", None) or exc
    detail = " ".join(str(original).split())[:500] or type(original).__name__
    if password:
        detail = detail.replace(password, "***")
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if (sqlstate and str(sqlstate).startswith("28")) or _LOGIN.search(detail):
        return TerminalError(f"{shown} refused the login: {detail}; check the user name and password")
    if sqlstate:
        if str(sqlstate)[:2] in _TRANSIENT_SQLSTATE:
            return TransientError(f"{doing}: {shown} is unavailable or busy, try again later: {detail}")
        return TerminalError(f"{doing} failed on {shown}: {detail}")
    if _TERMINAL.search(detail):
        return TerminalError(f"{doing} failed on {shown}: {detail}")
    if _TRANSIENT.search(detail):
        return TransientError(f"{doing}: cannot reach {shown}, try again later: {detail}")
    # The DB-API's OperationalError is, by its definition, trouble outside the program
    # (a dropped connection, a server out of memory); the other kinds are the SQL's fault.
    if isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError
    ):
        return TransientError(f"{doing}: {shown} failed, try again later: {detail}")
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return TransientError(f"{doing}: the connection to {shown} was lost, try again later: {detail}")
    return TerminalError(f"{doing} failed on {shown}: {detail}")


# --- What is read: a table or a query ---------------------------------------------------


@dataclass(frozen=True)
class _Source:
    name: str  # for labels and messages: the table as given, or "query"
    selectable: sa.FromClause
    columns: list[str]
    temporal: frozenset[str]  # columns known to hold dates or times (SQLite keeps them as text)

    def check(self, *, updated_at: str, key: str) -> None:
        for role, column in (("updated_at", updated_at), ("key", key)):
            if column not in self.columns:
                listed = ", ".join(map(repr, self.columns[:LISTED])) + (", ..." if len(self.columns) > LISTED else "")
                guess = difflib.get_close_matches(column, self.columns, n=1) or [
                    c for c in self.columns if c.lower() == column.lower()
                ]
                hint = f"; did you mean {guess[0]!r}?" if guess else ""
                raise ColumnsMissing(
                    f"column {column!r} (given as `{role}`) not found in {self.name}; it has: {listed}{hint}"
                )
        if "_row" in self.columns:
            raise TerminalError(
                f"{self.name} has a column named '_row', the name the pipeline gives row numbers; "
                "read it through a `query` that renames it"
            )

    def col(self, name: str) -> sa.ColumnElement[Any]:
        return self.selectable.c[name]

    def without(self, omit: tuple[str, ...]) -> _Source:
        """The same source with `omit` left out of what is selected."""
        if missing := [c for c in omit if c not in self.columns]:
            raise ColumnsMissing(
                f"column(s) {', '.join(map(repr, missing))} (given as personal_columns) not found in {self.name}; "
                f"it has: {_listing(self.columns)}"
            )
        kept = [c for c in self.columns if c not in omit]
        return _Source(self.name, self.selectable, kept, self.temporal - set(omit))


def _table_source(conn: Connection, table: str, db: _Database) -> _Source:
    schema, _, name = table.rpartition(".")
    inspector = sa.inspect(conn)
    with db.errors(f"looking up table {table!r}"):
        if schema and schema not in inspector.get_schema_names():
            raise SourceMissing(
                f"schema {schema!r} of table {table!r} not found at {db.shown}; it has: "
                + _listing(inspector.get_schema_names())
            )
        if not inspector.has_table(name, schema=schema or None):
            names = inspector.get_table_names(schema=schema or None) + inspector.get_view_names(schema=schema or None)
            raise SourceMissing(f"table {table!r} not found at {db.shown}; it has: {_listing(sorted(names))}")
        reflected = inspector.get_columns(name, schema=schema or None)
    columns = [c["name"] for c in reflected]
    temporal = frozenset(c["name"] for c in reflected if isinstance(c["type"], sa.DateTime | sa.Date | sa.Time))
    # Columns without types: rows come back as the driver gives them, nothing converted.
    selectable = sa.table(name, *(sa.column(c) for c in columns), schema=schema or None)
    return _Source(table, selectable, columns, temporal)


def _query_source(conn: Connection, query: str, db: _Database) -> _Source:
    # A subquery cannot end in ';'. Colons are escaped so that text in the query such as
    # '10:30' or a PostgreSQL '::date' cast is never taken for a bound parameter.
    body = query.strip().rstrip(";").strip().replace(":", r"\:")
    if not body:
        raise TerminalError("the source's `query` is empty")
    # LIMIT 0: the columns the query returns, without running it over the whole table.
    probe = sa.select(sa.literal_column("*")).select_from(sa.text(body).columns().subquery("src")).limit(0)
    with db.errors("checking the query"):
        columns = list(conn.execute(probe).keys())
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise TerminalError(
            f"the query returns column(s) {', '.join(map(repr, twice))} more than once; "
            "give each column a name of its own (AS ...)"
        )
    selectable = sa.text(body).columns(*(sa.column(c) for c in columns)).subquery("src")
    return _Source("query", selectable, columns, frozenset())


def _listing(names: list[str]) -> str:
    if not names:
        return "nothing"
    return ", ".join(map(repr, names[:LISTED])) + (", ..." if len(names) > LISTED else "")


# --- Positions ---------------------------------------------------------------------------


@dataclass
class _Marks:
    """Where reading goes on from: values as the database gives them (None: from the start).

    `stamp_inclusive`: a hand-set mark without a key, whose own rows are read again."""

    stamp: Any = None
    stamp_key: Any = None
    null_key: Any = None
    stamp_inclusive: bool = False

    @classmethod
    def from_state(cls, state: dict, conn: Connection, src: _Source, updated_at: str, key: str) -> _Marks:
        cursor = state.get("cursor") or {}
        marks = cls()
        for attr, exact, text, column in (
            ("stamp", "updated_at", "high_water_mark", updated_at),
            ("stamp_key", "key", "last_key", key),
            ("null_key", "null_key", "null_last_key", key),
        ):
            if cursor.get(exact) is not None:
                try:
                    setattr(marks, attr, _decode(cursor[exact]))
                except (KeyError, TypeError, ValueError) as exc:
                    raise TerminalError(
                        f"the stored position {cursor[exact]!r} cannot be read ({exc}); "
                        "correct or clear the source's state"
                    ) from exc
            elif state.get(text) not in (None, ""):
                setattr(marks, attr, _as_column_value(str(state[text]), conn, src, column))
        marks.stamp_inclusive = marks.stamp is not None and marks.stamp_key is None
        return marks

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cursor: dict[str, Any] = {}
        if self.stamp is not None:
            out["high_water_mark"] = _text(self.stamp, temporal=True)
            cursor["updated_at"] = _encode(self.stamp)
        if self.stamp_key is not None:
            out["last_key"] = _text(self.stamp_key)
            cursor["key"] = _encode(self.stamp_key)
        if self.null_key is not None:
            out["null_last_key"] = _text(self.null_key)
            cursor["null_key"] = _encode(self.null_key)
        out["cursor"] = cursor
        return out


_TYPES: dict[str, type] = {
    "bool": bool,
    "int": int,
    "float": float,
    "decimal": decimal.Decimal,
    "datetime": dt.datetime,
    "date": dt.date,
    "time": dt.time,
    "uuid": uuid.UUID,
    "str": str,
}


def _encode(value: Any) -> list[str]:
    """A position value as [type, text], JSON-safe and read back as the same value."""
    for name, kind in _TYPES.items():  # bool before int, datetime before date
        if isinstance(value, kind):
            if kind is bool:
                return [name, "true" if value else "false"]
            if isinstance(value, dt.date | dt.time):
                return [name, value.isoformat()]
            return [name, repr(value) if kind is float else str(value)]
    raise TerminalError(
        f"cannot page on values of type {type(value).__name__}; the key and updated_at columns must hold "
        "numbers, text, dates or timestamps"
    )


def _decode(pair: list[str]) -> Any:
    name, text = pair
    if name == "bool":
        return text == "true"
    if name in ("datetime", "date", "time"):
        return _TYPES[name].fromisoformat(text)  # type: ignore[attr-defined]
    return _TYPES[name](text)


def _as_column_value(text: str, conn: Connection, src: _Source, column: str) -> Any:
    """A hand-written mark as the type the column holds, judged from one stored value."""
    col = src.col(column)
    with_value = sa.select(col).select_from(src.selectable).where(col.is_not(None)).limit(1)
    sample = conn.execute(with_value).scalar()
    try:
        if isinstance(sample, bool):
            return text.lower() in ("true", "t", "1", "yes")
        if isinstance(sample, dt.datetime):
            return dt.datetime.fromisoformat(text)
        if isinstance(sample, dt.date):
            return dt.date.fromisoformat(text)
        if isinstance(sample, int | float | decimal.Decimal | uuid.UUID):
            return type(sample)(text)
    except ValueError as exc:
        raise TerminalError(f"the stored position {text!r} is not a value of column {column!r}: {exc}") from exc
    if isinstance(sample, str):
        # Timestamps stored as text compare as text: write the mark as the column does.
        return _like(sample, text)
    return text


_LAYOUT = re.compile(r"\d{4}-\d\d-\d\d([ T])\d\d:\d\d(:\d\d)?(?:\.(\d+))?(.*)")


def _like(sample: str, text: str) -> str:
    """`text` (ISO 8601) in the layout of `sample`, a date-time stored as text: separator,
    seconds, digits of fraction. Text that is not a date-time stays as it is."""
    layout = _LAYOUT.fullmatch(sample)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if layout is None:
        return text
    separator, seconds, fraction, zone = layout.groups()
    out = value.strftime(f"%Y-%m-%d{separator}%H:%M" + (":%S" if seconds else ""))
    if fraction:
        out += "." + f"{value.microsecond:06d}"[: len(fraction)].ljust(len(fraction), "0")
    if zone and value.utcoffset() is not None:
        out += value.isoformat()[-6:]  # the offset, +HH:MM
    return out


# --- Reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    db: _Database
    src: _Source
    updated_at: str
    key: str
    batch_size: int

    def batches(self, marks: _Marks) -> Iterator[Batch]:
        first = 1
        stamp, key = self.src.col(self.updated_at), self.src.col(self.key)
        # Rows without a timestamp: by key alone, after the highest key read before.
        while True:
            where = [stamp.is_(None)]
            if marks.null_key is not None:
                where.append(key > _bind(marks.null_key))
            rows = self.fetch(where, [key])
            if not rows:
                break
            marks.null_key = rows[-1][self.key]
            yield self.batch(rows, first, marks, f"{self.updated_at} empty, {self.key} up to {_text(marks.null_key)}")
            first += len(rows)
            if len(rows) < self.batch_size:
                break
        # Rows with a timestamp: after (high_water_mark, last_key) in that order.
        while True:
            where = [stamp.is_not(None)]
            if marks.stamp is not None:
                # The first condition alone lets the database start an index scan at the mark.
                where.append(stamp >= _bind(marks.stamp))
                if not marks.stamp_inclusive:
                    where.append(sa.or_(stamp > _bind(marks.stamp), key > _bind(marks.stamp_key)))
            rows = self.fetch(where, [stamp, key])
            if not rows:
                break
            marks.stamp, marks.stamp_key = rows[-1][self.updated_at], rows[-1][self.key]
            marks.stamp_inclusive = False
            yield self.batch(rows, first, marks, f"{self.updated_at} up to {_text(marks.stamp, temporal=True)}")
            first += len(rows)
            if len(rows) < self.batch_size:
                break

    def fetch(self, where: list[sa.ColumnElement[bool]], order: list[sa.ColumnElement[Any]]) -> list[dict[str, Any]]:
        picked = sa.select(*(self.src.col(c) for c in self.src.columns)).select_from(self.src.selectable)
        query = picked.where(*where).order_by(*order).limit(self.batch_size)
        with self.db.connection(f"reading {self.src.name}") as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        if any(r[self.key] is None for r in rows):
            raise TerminalError(
                f"{self.src.name}: column {self.key!r} (the `key`) is empty in some rows; it must identify "
                "every case (filter such rows out with a `query`)"
            )
        return rows

    def batch(self, rows: list[dict[str, Any]], first: int, marks: _Marks, what: str) -> Batch:
        columns = self.src.columns
        temporal = self.src.temporal | {self.updated_at}
        data = [[_text(r[c], temporal=c in temporal) for c in columns] for r in rows]
        frame = pd.DataFrame(data, columns=columns, dtype=str)
        frame.insert(0, "_row", range(1, len(frame) + 1))
        label = f"{self.src.name} rows {first}-{first + len(rows) - 1} ({what})"
        return Batch(label=label, rows=frame, state=marks.state())


def _bind(value: Any) -> sa.BindParameter[Any]:
    # An int would be bound as INTEGER (PostgreSQL casts it so) and overflow on a bigint key.
    if isinstance(value, int) and not isinstance(value, bool):
        return sa.bindparam(None, value, type_=sa.BigInteger() if abs(value) < 2**63 else sa.Numeric())
    return sa.bindparam(None, value)


# --- Values as text ----------------------------------------------------------------------


def _text(value: Any, temporal: bool = False) -> str:
    """A value as the text a CSV of the same data would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _iso(value) if temporal else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return format(value.to_integral_value(), "f")
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()  # an aware timestamp keeps its offset
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _iso(text: str) -> str:
    """A date-time stored as text ('2024-03-01 10:00:00.000000') in ISO 8601; other text as is."""
    if len(text) <= 10:
        return text
    try:
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:
        return text
