"""The child process of `metrics.store.arrow.read_sqlite`: run one query on a SQLite file with
the ADBC driver and write the result to stdout as an Arrow IPC stream.

    python -P metrics/store/sqlite_child.py PATH < query.sql

Imports only pyarrow and the driver (no pandas): it starts for every large read of a refresh.
"""

from __future__ import annotations

import sys
from urllib.parse import quote

import pyarrow as pa

# The driver infers each column's type from its first batch and fails when a later batch
# disagrees (a column null in the first rows, text later): one batch for the whole result
# leaves nothing to disagree with. Its largest accepted value.
ONE_BATCH = 2**30


def serve(path: str) -> None:
    """Read the SQL text from stdin, write the table to stdout."""
    # The driver manager's own objects, not its DB-API module, which imports pandas (most of
    # a second at every start).
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    sql = sys.stdin.buffer.read().decode("utf-8")  # as the parent wrote it, whatever the locale
    # Read-only: a refresh never writes through this connection, and a mistake cannot.
    with (
        # A URI: '#', '?' and '%' in the path must be quoted, or SQLite opens another file.
        adbc_driver_sqlite.connect(f"file:{quote(path)}?mode=ro") as db,
        adbc.AdbcConnection(db) as conn,
        adbc.AdbcStatement(conn) as stmt,
    ):
        stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(ONE_BATCH)})
        stmt.set_sql_query(sql)
        stream, _ = stmt.execute_query()
        reader = pa.RecordBatchReader.from_stream(stream)
        with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as out:
            for batch in reader:
                out.write_batch(batch)
        reader.close()


# The line the parent reports when the read fails.
FAILED = "read failed: "

if __name__ == "__main__":
    try:
        serve(sys.argv[1])
    except Exception as exc:  # the driver's messages span lines: one line for the parent
        sys.stderr.write(FAILED + " ".join(f"{type(exc).__name__}: {exc}".split()) + "\n")
        sys.exit(1)
