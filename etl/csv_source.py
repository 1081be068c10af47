"""Reading a delimited text file exactly as it is: every cell a string, nothing guessed."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

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
    except UnicodeDecodeError as exc:
        where = first_bad_byte(path, encoding)
        raise TerminalError(
            f"{path}: not valid {encoding} at byte {where} (line {line_of(path, where)}); check the source's `encoding`"
        ) from exc
    except pd.errors.ParserError as exc:
        raise TerminalError(f"{path}: cannot be read as delimited text: {exc}") from exc
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
