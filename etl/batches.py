"""What every source yields: batches of raw rows, each with the source state after it.

A source is a generator (as in dlt): given the state stored after the last batch that was
loaded (for files, which ones were loaded; for a database or an API, the high-water mark),
it yields the next batches. The runner loads each batch and stores its `state` in the same
transaction, so the high-water mark moves exactly when the batch's rows land: a crash at
any moment leaves the store at a batch boundary, and the next run goes on from there.

Rows are strings as the source gave them ('' for empty), like a CSV read with every cell
as text, with a 1-based `_row` that names the row within the batch in quarantine records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Batch:
    # What the batch is, for the run log and the quarantine: a file name, a page, a window.
    label: str
    rows: Any  # pandas.DataFrame of str with `_row`
    # The source state once this batch is loaded (JSON-serialisable).
    state: dict[str, Any] = field(default_factory=dict)
    # A file's checksum, recorded with the run.
    sha256: str | None = None
