"""Reading reference tables in the shapes statistics offices publish them.

A reference table may be a CSV file, or a sheet of an Excel (.xlsx) or OpenDocument (.ods)
workbook. Two layouts besides a plain table are understood, both turned into one tidy row
per figure before the usual column mapping (etl.reference) sees them:

- Report-style blocks (`blocks`): a title row ("Number of recipients") followed by one row
  per period ("FYE 2024"), with categories across the columns under one heading row
  ("Pension Credit Overall", "Guarantee Credit"). A figure may be followed by its range in
  the next cells, written "(1,550," "1,730)": it is read into `<field> low` and
  `<field> high`. Each tidy row has `row` (the row label), `column` (the category) and one
  column per block, and `cell` says where in the workbook its first figure was.
- Wide tables (`unpivot`): one column per period or category, read as one row per cell
  with the column's header in `unpivot.name` and the figure in `unpivot.value`.

Every cell stays a string, as in etl.csv_source: the mapping decides what is valid, so a
figure such as "[x]" (not published) is quarantined with its reason, not lost.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from etl.csv_source import read_csv, require_columns
from etl.errors import ColumnsMissing, SourceMissing, TerminalError
from metrics.config import ReferenceCsvSource, SheetBlocks, Unpivot

SPREADSHEETS = {".xlsx": "openpyxl", ".ods": "odf"}
RANGE = re.compile(r"^\(\s*([-\d,.]+)\s*,\s*([-\d,.]+)\s*\)$")


def read_reference_table(path: Path, src: ReferenceCsvSource) -> pd.DataFrame:
    """The table as strings with a 1-based `_row`, reshaped by `blocks`/`unpivot`; a column
    the mapping names but the table lacks is a terminal error naming the file."""
    if path.suffix.lower() in SPREADSHEETS:
        grid = read_sheet(path, src.sheet)
        raw = report_blocks(grid, src.blocks, src.sheet or "") if src.blocks else as_table(grid)
    else:
        if src.blocks:
            raise TerminalError(f"{path}: `blocks` needs a spreadsheet (.xlsx or .ods)")
        raw = read_csv(path, src.encoding, src.delimiter, {}).drop(columns="_row")
    if src.unpivot:
        raw = unpivot(raw, src.unpivot, path)
    require_columns(raw.columns, src.columns, str(path))
    raw = raw.reset_index(drop=True)
    if "_row" in raw:
        raw = raw.drop(columns="_row")
    raw.insert(0, "_row", range(1, len(raw) + 1))
    return raw


def read_sheet(path: Path, sheet: str | None) -> pd.DataFrame:
    """Every cell of one sheet as a string ('' where empty), no header taken."""
    if not path.exists():
        raise SourceMissing(f"{path}: file not found")
    engine = SPREADSHEETS[path.suffix.lower()]
    try:
        sheets = pd.ExcelFile(path, engine=engine).sheet_names
    except Exception as exc:  # each engine raises its own errors for a damaged file
        raise TerminalError(f"{path}: cannot be read as {path.suffix} workbook: {exc}") from exc
    if sheet is None:
        sheet = sheets[0]
    elif sheet not in sheets:
        raise TerminalError(f"{path}: no sheet {sheet!r}; the workbook has {sheets}")
    grid = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False, engine=engine)
    return grid.apply(lambda col: col.str.strip())


def as_table(grid: pd.DataFrame) -> pd.DataFrame:
    """A plain sheet: first row the header, the rest data, as read_csv would give it."""
    header = [str(c) for c in grid.iloc[0]]
    df = grid.iloc[1:].copy()
    df.columns = header
    return df


def report_blocks(grid: pd.DataFrame, spec: SheetBlocks, sheet: str) -> pd.DataFrame:
    """One tidy row per (row label, category) with a column per configured block."""
    if spec.header_row > len(grid):
        raise TerminalError(f"sheet {sheet!r}: header_row {spec.header_row} is past its last row ({len(grid)})")
    heading = grid.iloc[spec.header_row - 1]
    categories = [(j, v) for j, v in enumerate(heading) if j > 0 and v != ""]
    if not categories:
        raise TerminalError(f"sheet {sheet!r}: row {spec.header_row} names no categories")
    bounds = [j for j, _ in categories[1:]] + [grid.shape[1]]
    labels = grid.iloc[:, 0]
    found = {t: i for i, t in enumerate(labels) if t in spec.titles}
    if missing := [t for t in spec.titles if t not in found]:
        raise TerminalError(f"sheet {sheet!r}: block title(s) {missing} not found in its first column")

    figures: dict[tuple[str, str], dict[str, str]] = {}
    order: list[tuple[str, str]] = []
    for title, start in found.items():
        field = spec.titles[title]
        # A block runs from its title to the first empty label or the next title.
        for i in range(start + 1, len(grid)):
            label = labels.iloc[i]
            if label == "" or label in found or _is_title(grid.iloc[i]):
                break
            for (j, category), end in zip(categories, bounds, strict=True):
                key = (label, category)
                if key not in figures:
                    figures[key] = {"cell": f"{sheet}!{_cell_name(i, j)}"}
                    order.append(key)
                figures[key][field] = grid.iat[i, j]
                rest = " ".join(c for c in grid.iloc[i, j + 1 : end] if c != "")
                if m := RANGE.match(rest):
                    figures[key][f"{field} low"], figures[key][f"{field} high"] = m.group(1), m.group(2)
                elif set(rest) - set("[]x "):
                    # Only a range or a repeated marker like [x] may follow a figure.
                    figures[key][f"{field} low"] = figures[key][f"{field} high"] = rest
    columns = ["row", "column", "cell"]
    rows = [{"row": k[0], "column": k[1], **figures[k]} for k in order]
    df = pd.DataFrame(rows).fillna("")
    extra = [c for c in df.columns if c not in columns]
    return df[[*columns, *extra]] if len(df) else pd.DataFrame(columns=columns)


def _is_title(row: pd.Series) -> bool:
    """A label with nothing beside it starts another block (one not configured)."""
    return all(v == "" for v in row.iloc[1:])


def _cell_name(i: int, j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return f"{letters}{i + 1}"


def unpivot(raw: pd.DataFrame, spec: Unpivot, path: Path) -> pd.DataFrame:
    if missing := [c for c in spec.columns if c not in raw.columns]:
        raise ColumnsMissing(f"{path}: unpivot column(s) {missing} not found; the table has: {list(raw.columns)}")
    keep = [c for c in raw.columns if c not in spec.columns and c != "_row"]
    long = raw.melt(id_vars=keep, value_vars=list(spec.columns), var_name=spec.name, value_name=spec.value)
    return long
