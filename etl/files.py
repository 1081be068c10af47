"""File sources: a file, a folder or a glob of files, each loaded once.

A ministry's exports land in a folder night after night. Every matching file is a batch;
a file already loaded under the same name with the same content (SHA-256) is skipped, and
a file whose content changed under the same name (a corrected export) is loaded again, its
cases upserted. Files load in name order, so dated names (cases-2024-05-01.csv) load in
date order.
"""

from __future__ import annotations

import glob
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from etl.batches import Batch
from etl.csv_source import (
    case_columns,
    check_field_counts,
    read_csv,
    read_csv_parts,
    repeated_ids,
    require_columns,
    sha256,
)
from etl.errors import SourceMissing
from etl.privacy import drop_personal
from etl.tables import SPREADSHEETS, as_table, read_reference_table, read_sheet
from metrics.config import CasesCsvSource, LookupCsvSource, ReferenceCsvSource, Settings

FILE_SUFFIXES = (".csv", ".txt", ".tsv", *SPREADSHEETS)


def expand(settings: Settings, pattern: str) -> list[Path]:
    """The files a source's `path` names: the file, every data file in a folder, or the
    matches of a glob pattern; sorted by name."""
    path = settings.resolve(pattern)
    if any(ch in pattern for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            raise SourceMissing(f"{path}: no file matches")
        return found
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)
        if not found:
            raise SourceMissing(f"{path}: folder holds no {', '.join(FILE_SUFFIXES)} file")
        return found
    if not path.exists():
        raise SourceMissing(f"{path}: file not found")
    return [path]


def file_batches(
    settings: Settings,
    src: CasesCsvSource | ReferenceCsvSource | LookupCsvSource,
    loaded: set[tuple[str, str]],
    say: object,
    skipped: list[str],
) -> Iterator[Batch]:
    for path in expand(settings, src.path):
        checksum = sha256(path)
        if (str(path), checksum) in loaded:
            skipped.append(str(path))
            continue
        say(f"reading {path}")  # type: ignore[operator]
        if isinstance(src, CasesCsvSource) and path.suffix.lower() not in SPREADSHEETS:
            yield Batch(label=str(path), rows=CaseFileParts(path, src), sha256=checksum)
            continue
        reader = read_reference_table if isinstance(src, ReferenceCsvSource) else read_cases_file
        yield Batch(label=str(path), rows=reader(path, src), sha256=checksum)  # type: ignore[arg-type]


# Rows of a case file mapped and written at a time: bounds a load's memory whatever the
# file's size (a 200,000-row part of the demo export peaks at about 0.6 GB).
PART_ROWS = 200_000


@dataclass(frozen=True)
class CaseFileParts:
    """A case file read one part at a time, each with whether its rows' ids appeared on an
    earlier row of the file (the rule "appears earlier in the same file" spans parts). All
    parts load in one transaction, so the file still lands whole or not at all."""

    path: Path
    src: CasesCsvSource
    rows: int | None = None  # PART_ROWS

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
        src = self.src
        size = self.rows or PART_ROWS
        needed = case_columns(src)
        id_column = src.columns.get("source_id")
        parts = read_csv_parts(self.path, src.encoding, src.delimiter, needed, size)
        # The first part checks the file's columns (all that are missing named at once),
        # before the ids are read.
        first = next(parts)
        repeated = None
        if id_column is not None:
            repeated = repeated_ids(self.path, src.encoding, src.delimiter, id_column, size)
        if repeated is None or repeated.size > size:  # more than one part: see check_field_counts
            check_field_counts(self.path, src.encoding, src.delimiter)
        for part in itertools.chain([first], parts):
            rows = part["_row"].to_numpy() - 1
            yield drop_personal(part, src, str(self.path)), None if repeated is None else repeated[rows]


def read_cases_file(path: Path, src: CasesCsvSource | LookupCsvSource) -> pd.DataFrame:
    """A plain table (CSV or a workbook's sheet) with every column the mapping names; a
    case source's personal columns are dropped at once (etl.privacy)."""
    needed = case_columns(src) if isinstance(src, CasesCsvSource) else dict(src.columns)
    if path.suffix.lower() not in SPREADSHEETS:
        raw = read_csv(path, src.encoding, src.delimiter, needed)
    else:
        raw = as_table(read_sheet(path, src.sheet))
        require_columns(raw.columns, needed, str(path), "the sheet has")
        raw = raw.reset_index(drop=True)
        raw.insert(0, "_row", range(1, len(raw) + 1))
    return drop_personal(raw, src, str(path)) if isinstance(src, CasesCsvSource) else raw
