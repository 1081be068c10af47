"""Query results as Arrow tables, without a Python object per value.

`pandas.read_sql` builds every value of every row as a Python object and then a frame of
them: on a million cases that was half of a refresh's read and most of its memory. On a
SQLite file the ADBC driver (C) fills Arrow columns straight from SQLite. Elsewhere
(PostgreSQL, an in-memory SQLite that another connection cannot open) the rows come through
SQLAlchemy as before and are made Arrow columns after, so every caller gets the same types
whichever way the rows came.

The ADBC driver carries its own copy of SQLite, and two copies of SQLite must not open the
same file in one process: when one closes the file, the operating system drops every POSIX
lock the process holds on it, the other copy's too, and another process may then write
under a transaction that believes itself alone (https://www.sqlite.org/howtocorrupt.html,
2.2.1). So the driver runs in a child process of its own, which streams the table back in
Arrow's IPC format (`metrics.store.sqlite_child`); the child also takes the driver's memory
with it when it ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, Select

from metrics.store import sqlite_child
from metrics.store.sqlite_child import FAILED


def sqlite_file(engine: Engine) -> str | None:
    """The file of a SQLite store that another connection can open, else None."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def read_table(engine: Engine, query: Select, few: bool = False) -> pa.Table:
    """The rows of `query` as an Arrow table, one column per selected column. `few`: a read
    of some hundred rows, which goes through SQLAlchemy (a child costs half a second to
    start, more than it saves there)."""
    path = None if few else sqlite_file(engine)
    if path is not None:
        return read_sqlite(path, sql_text(engine, query))
    if not few and engine.dialect.name == "postgresql" and postgres_driver() is not None:
        table = read_postgres(engine, query)
        if table is not None:
            return table
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    return pa.Table.from_pandas(frame, preserve_index=False)


def sql_text(engine: Engine, query: Select) -> str:
    """The query as text for the engine's database, its parameters written in by
    SQLAlchemy's own quoting (the drivers would take them positionally too, but then their
    database forms would have to be made here)."""
    dialect = engine.dialect
    if dialect.paramstyle in ("format", "pyformat"):
        # Such a dialect doubles every '%' for its driver's parameter syntax; the ADBC
        # drivers run the text as written. The same dialect with `?` parameters writes '%'
        # once, and quotes backslashes as the server was found to (standard strings or not).
        with engine.connect():  # the server's quoting is learnt on the first connection
            pass
        plain = type(dialect)(paramstyle="qmark")
        plain._backslash_escapes = dialect._backslash_escapes  # type: ignore[attr-defined]
        dialect = plain
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def postgres_driver():  # type: ignore[no-untyped-def]
    """The ADBC PostgreSQL driver's DB-API module, if installed (the `postgres` extra)."""
    try:
        import adbc_driver_postgresql.dbapi as driver
    except ImportError:
        return None
    return driver


def read_postgres(engine: Engine, query: Select) -> pa.Table | None:
    """`query` on PostgreSQL by the ADBC driver, which reads the server's binary COPY output
    into Arrow columns; None when the driver cannot connect with the engine's settings (then
    SQLAlchemy reads). In this process: the server, not a shared file, keeps the locks."""
    # libpq's own key=value string, made from what SQLAlchemy would give psycopg (a URI
    # would need every part quoted, and psycopg's own options are not libpq's).
    _, params = engine.dialect.create_connect_args(engine.url)
    from psycopg.conninfo import make_conninfo

    libpq = {k: v for k, v in params.items() if k in LIBPQ_KEYS and v is not None}
    try:
        conn = postgres_driver().connect(make_conninfo(**libpq))
    except Exception:
        return None
    with conn, conn.cursor() as cur:
        cur.execute(sql_text(engine, query))
        return cur.fetch_arrow_table()


# Connection settings libpq takes (https://www.postgresql.org/docs/current/libpq-connect.html).
LIBPQ_KEYS = frozenset(
    {"host", "hostaddr", "port", "dbname", "user", "password", "passfile", "connect_timeout", "client_encoding",
     "options", "application_name", "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword",
     "target_session_attrs", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
     "gssencmode", "krbsrvname", "service", "require_auth", "channel_binding", "load_balance_hosts"}
)  # fmt: skip


class ReadFailed(Exception):
    """The child reading a SQLite file failed; `transient` when another writer held it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.transient = any(word in message for word in ("database is locked", "database is busy"))


def read_sqlite(path: str, sql: str) -> pa.Table:
    """`sql` run on the SQLite file at `path` by the ADBC driver, in a child process."""
    if not os.path.isfile(path):  # the driver's own message for it speaks of memory
        raise ReadFailed(f"reading {path} failed: no such file")
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            # By its file, -P: a `metrics` folder in the working directory must not be imported
            # instead (the child needs nothing of the package).
            [sys.executable, "-P", sqlite_child.__file__, os.path.abspath(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(sql.encode("utf-8"))
            child.stdin.close()
            # Read as it arrives: the table is never held twice in this process.
            table = pa.ipc.open_stream(child.stdout).read_all()
        except (pa.ArrowException, OSError):  # OSError: cut off inside a batch; BrokenPipeError
            table = None  # the child failed before or while writing: its message says why
        finally:
            child.stdout.close()
            status = child.wait()
        if status != 0 or table is None:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            said = [line.removeprefix(FAILED) for line in lines if line.startswith(FAILED)]
            why = (said or lines or [f"exit status {status}"])[-1]
            raise ReadFailed(f"reading {path} failed: {why}")
    return table


def timestamps(column: pa.ChunkedArray) -> pd.Series:
    """A column of timestamps (SQLite keeps them as ISO text) as naive datetime64[ns]."""
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("ns")).to_pandas()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            return column.cast(pa.timestamp("ns")).to_pandas()
        except pa.ArrowInvalid:  # a form Arrow's parser does not take: pandas takes any ISO 8601
            return pd.to_datetime(column.to_pandas(), format="ISO8601")
    if column.null_count != len(column):
        raise TypeError(f"expected timestamps or ISO 8601 text, got a column of {column.type}")
    # All null: the driver gave the column no type of its own.
    return pd.Series(pd.NaT, index=range(len(column)), dtype="datetime64[ns]")


def categories(column: pa.ChunkedArray, fill: str | None = None) -> pd.Categorical:
    """A column of text as a pandas Categorical with its categories in sorted order (so a
    sorted factorize of it orders its values as it would the text), nulls filled with
    `fill` where given. One small integer per row instead of a Python string."""
    if pa.types.is_null(column.type) or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    if fill is not None:
        column = column.fill_null(fill)
    encoded = pa.chunked_array(column.chunks, column.type).combine_chunks().dictionary_encode()
    labels = encoded.dictionary.to_pylist()
    order = np.argsort(np.array(labels, dtype=object), kind="stable") if labels else np.array([], dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    indices = encoded.indices
    missing = indices.is_null().to_numpy(zero_copy_only=False)
    codes = (
        rank[indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)]
        if labels
        else np.zeros(len(indices), dtype=np.int64)
    )
    codes[missing] = -1
    return pd.Categorical.from_codes(codes, categories=[labels[i] for i in order])
