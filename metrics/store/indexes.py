"""A first bulk load writes its rows before the secondary indexes, then builds them.

Every row written into a table with an index on a value in no particular order (the
cases' pseudonymised citizen keys) lands on a random page of that index. Once the index is
larger than the page cache (SQLite's default is 2 MB), nearly every row reads and later
writes back one page of it: ten million cases took fifteen times as long as one million.
Building an index over rows already written is one sort instead (SQLite and PostgreSQL
both build it that way), so a load into an empty table drops the table's secondary
indexes, writes, and creates them again from their own stored definitions, inside the
load's transaction: a crash before the commit leaves the store as it was, indexes and all
(both engines' DDL is transactional).

Only secondary indexes are dropped: primary keys and unique indexes stay, so a repeated
key is still refused while the rows are written.

On PostgreSQL, DROP INDEX locks the table until the load commits: a first load into an
empty cases table keeps other sessions from reading it meanwhile (a refresh waits for the
load, which it would otherwise see as no cases at all; the dashboard reads only cells).
On SQLite the load takes the write lock when the block begins (BEGIN IMMEDIATE, through
the store's busy timeout), as its first insert would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text


def secondary_indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of `table` that back no constraint,
    as the database itself stores them."""
    if conn.dialect.name == "sqlite":
        # sql is NULL for the indexes SQLite makes itself for PRIMARY KEY and UNIQUE.
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name"
            ),
            {"t": table},
        )
    elif conn.dialect.name == "postgresql":
        rows = conn.execute(
            # By the catalogs' ids, not by name: a schema whose name needs quoting, and a
            # constraint that happens to share an index's name, change nothing.
            text(
                "SELECT ic.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
                " JOIN pg_class ic ON ic.oid = x.indexrelid"
                " JOIN pg_class t ON t.oid = x.indrelid"
                " JOIN pg_namespace n ON n.oid = t.relnamespace"
                " WHERE n.nspname = current_schema() AND t.relname = :t"
                " AND NOT x.indisunique AND NOT x.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                "   WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))"
                " ORDER BY ic.relname"
            ),
            {"t": table},
        )
    else:
        return []
    return [(str(name), str(sql)) for name, sql in rows]


def is_empty(conn: Connection, table: str) -> bool:
    quoted = conn.dialect.identifier_preparer.quote(table)
    return conn.exec_driver_sql(f"SELECT 1 FROM {quoted} LIMIT 1").first() is None


@contextmanager
def built_after(conn: Connection, tables: tuple[str, ...]) -> Iterator[list[str]]:
    """Within the caller's transaction: if every one of `tables` is empty, drop their
    secondary indexes for the writes inside the block and create them again after it.
    Yields the names of the indexes dropped (none when a table already has rows: then
    writing through the indexes costs less than rebuilding them over what is stored)."""
    _in_transaction(conn)
    if not all(is_empty(conn, t) for t in tables):
        yield []
        return
    dropped = [ix for t in tables for ix in secondary_indexes(conn, t)]
    preparer = conn.dialect.identifier_preparer
    for name, _ in dropped:
        conn.exec_driver_sql(f"DROP INDEX {preparer.quote(name)}")
    # On an error the caller's transaction rolls back, and the drops with it.
    yield [name for name, _ in dropped]
    for _, sql in dropped:
        conn.exec_driver_sql(sql)


def _in_transaction(conn: Connection) -> None:
    """Python's sqlite3 opens a transaction only before an INSERT, UPDATE or DELETE, so a
    DROP INDEX that comes first would commit at once, and a crash after it would leave
    the table without its index: begin the transaction here (its commit and rollback are
    then the caller's, as usual). IMMEDIATE: a deferred BEGIN would start as a read, and
    SQLite refuses a read's upgrade to a write at once (no busy wait) when another
    connection is writing or has written since."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if not raw.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")
