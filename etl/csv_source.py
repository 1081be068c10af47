"""Reading a delimited text file exactly as it is: every cell a string, nothing guessed."""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from etl.errors import ColumnsMissing, SourceMissing, TerminalError
from metrics.config import CaseMapping


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def first_bad_byte(path: Path, encoding: str) -> int:
    """The file offset of the first byte that does not decode. pandas reports offsets
    within its read buffer, which would send a person to the wrong place in the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # The decoder may hold back a few bytes of an unfinished character.
                return offset + exc.start - len(decoder.getstate()[0])
            offset += len(block)
    return offset


def line_of(path: Path, offset: int) -> int:
    with path.open("rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def unreadable(path: Path, encoding: str, exc: Exception) -> TerminalError:
    """The terminal error for a file that does not decode or parse, saying where."""
    if isinstance(exc, UnicodeDecodeError):
        where = first_bad_byte(path, encoding)
        return TerminalError(
            f"{path}: not valid {encoding} at byte {where} (line {line_of(path, where)}); check the source's `encoding`"
        )
    return TerminalError(f"{path}: cannot be read as delimited text: {exc}")


def read_csv_parts(
    path: Path, encoding: str, delimiter: str, needed: dict[str, str], rows: int, usecols: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """`read_csv` a part of `rows` rows at a time, each with its `_row` numbered through the
    whole file: a file of ten million cases need not be held in memory at once."""
    if not path.exists():
        raise SourceMissing(f"{path}: file not found")
    options = {"dtype": str, "keep_default_na": False, "na_values": [], "encoding": encoding, "sep": delimiter}
    first, yielded = 1, False
    try:
        with pd.read_csv(path, engine="c", chunksize=rows, usecols=usecols, **options) as reader:  # type: ignore[call-overload]
            for df in reader:
                df.columns = [c.lstrip("\ufeff") for c in df.columns]
                if first == 1:
                    require_columns(df.columns, needed, f"{path}", "the file has")
                df.insert(0, "_row", range(first, first + len(df)))
                first += len(df)
                yielded = True
                yield df.reset_index(drop=True)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise unreadable(path, encoding, exc) from exc
    except ValueError as exc:  # usecols naming a column the file lacks
        if usecols is None:
            raise
        header = pd.read_csv(path, nrows=0, **options).columns
        require_columns([c.lstrip("\ufeff") for c in header], needed, f"{path}", "the file has")
        raise TerminalError(f"{path}: {exc}") from exc
    if not yielded:  # a file with a header and no rows
        df = read_csv(path, encoding, delimiter, needed)
        yield df if usecols is None else df[["_row", *usecols]]


def check_field_counts(path: Path, encoding: str, delimiter: str) -> None:
    """A terminal error if a record has more fields than the header, as pandas gives when it
    reads a file whole. Read in parts, pandas drops the extra fields of a part's first row
    without a word (pandas-dev/pandas#11569): the row would load with its values shifted."""
    try:
        with path.open(encoding=encoding, newline="") as fh:
            records = csv.reader(fh, delimiter=delimiter)
            width = len(next(records, []))
            for record in records:
                if len(record) > width:
                    raise TerminalError(
                        f"{path}: cannot be read as delimited text: Expected {width} fields in line "
                        f"{records.line_num}, saw {len(record)}"
                    )
    except (UnicodeDecodeError, csv.Error) as exc:
        raise unreadable(path, encoding, exc) from exc


def repeated_ids(path: Path, encoding: str, delimiter: str, column: str, rows: int) -> np.ndarray:
    """Per row of the file, whether its (stripped, non-empty) id appeared on an earlier row.

    Read one part at a time, the ids are kept only as 64-bit hashes; the rare rows whose
    hash is shared are read again and compared as text, so the answer is exact."""
    hashes, empty = [], []
    for part in read_csv_parts(path, encoding, delimiter, {"source_id": column}, rows, usecols=[column]):
        ids = part[column].str.strip()
        hashes.append(pd.util.hash_array(ids.to_numpy(dtype=object)))
        empty.append(ids.to_numpy() == "")
    every = np.concatenate(hashes) if hashes else np.array([], dtype=np.uint64)
    blank = np.concatenate(empty) if empty else np.array([], dtype=bool)
    # An empty id is reported as empty, not as a repeat of other empty ones.
    seen, counts = np.unique(every[~blank], return_counts=True)
    shared = seen[counts > 1]
    repeated = np.zeros(every.size, dtype=bool)
    if shared.size == 0:
        return repeated
    suspects = np.flatnonzero(np.isin(every, shared) & ~blank)
    text: list[str] = []
    for part in read_csv_parts(path, encoding, delimiter, {"source_id": column}, rows, usecols=[column]):
        at = part["_row"].to_numpy() - 1
        keep = np.isin(at, suspects)
        text += part.loc[keep, column].str.strip().tolist()
    repeated[suspects] = pd.Series(text, dtype=object).duplicated(keep="first").to_numpy()
    return repeated


def read_csv(path: Path, encoding: str, delimiter: str, needed: dict[str, str]) -> pd.DataFrame:
    """The file as strings (empty cells as ''), with a 1-based `_row` (first data line = 1).

    `needed` maps canonical field -> source column; a missing column is a terminal error
    naming the file, the column and the field it was meant for.
    """
    if not path.exists():
        raise SourceMissing(f"{path}: file not found")
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            encoding=encoding,
            sep=delimiter,
            engine="c",
        )
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise unreadable(path, encoding, exc) from exc
    df.columns = [c.lstrip("\ufeff") for c in df.columns]
    require_columns(df.columns, needed, f"{path}", "the file has")
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


def require_columns(have: Iterable[str], needed: Mapping[str, str], where: str, has: str = "the table has") -> None:
    """A terminal error naming each column the mapping needs and the source lacks (with the
    field it was meant for), and what the source does have."""
    have = [c for c in have if c != "_row"]
    missing = {field: col for field, col in needed.items() if col not in have}
    if missing:
        lines = ", ".join(f"{col!r} (for {field})" for field, col in missing.items())
        raise ColumnsMissing(f"{where}: column(s) {lines} not found; {has}: {', '.join(map(repr, have))}")


def case_columns(src: CaseMapping) -> dict[str, str]:
    """The source columns a case mapping reads: its fields' and its group attributes'."""
    return dict(src.columns) | {f"group {a}": c for a, c in src.groups.items()}
