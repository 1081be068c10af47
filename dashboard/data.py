"""The dashboard's reads, through `metrics.query` only, cached by data version.

A cache entry is keyed by (store, indicator, breakdown, refresh run): a new metric refresh
starts a new key, so a page never shows figures from two refreshes side by side. Frames
returned from here are shared between requests and must not be modified.

The caches hold every slice (they are shared by every reader); what leaves this module is cut
to the reader's scope (`metrics.access.restrict`), so a cache filled by one reader never shows
another what their scope does not admit.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics import access, query


def refresh_run(engine: Engine) -> dict[str, Any] | None:
    """The newest successful metric refresh (as_of, cases, finished_at...), None before any."""
    return query.latest_refresh(engine)


def version_of(run: dict[str, Any] | None) -> int | None:
    return None if run is None else int(run["id"])


def data_version(engine: Engine) -> int | None:
    """The id of the newest successful metric refresh (None before the first one)."""
    return version_of(refresh_run(engine))


def monthly_cells(
    engine: Engine, metric: str, by: tuple[str, ...], version: int | None, min_cell_size: int
) -> pd.DataFrame:
    """Every monthly cell of one indicator and breakdown the reader may see, suppressed
    (`version` only keys the cache)."""
    return access.restrict(_monthly_cells(engine, metric, by, version, min_cell_size))


@lru_cache(maxsize=256)
def _monthly_cells(
    engine: Engine, metric: str, by: tuple[str, ...], version: int | None, min_cell_size: int
) -> pd.DataFrame:
    return query.read_cells(engine, metric, by=by, grain="month", min_cell_size=min_cell_size,
                            scope=access.EVERYTHING)  # fmt: skip


@lru_cache(maxsize=8)
def months(engine: Engine, version: int | None) -> tuple[dt.date, ...]:
    return tuple(query.periods(engine, "month"))


@lru_cache(maxsize=1024)  # every indicator of a few refreshes: eight thrashed on every page
def breakdowns(engine: Engine, metric: str, version: int | None) -> tuple[str, ...]:
    return tuple(query.breakdowns(engine, metric))


def records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The rows of a frame as dicts, as `DataFrame.to_dict("records")` gives them (native
    Python values) but column by column: pandas builds each row through a Series, which made
    this a tenth of a page's time."""
    if df is None or df.empty:
        return []
    cols = list(df.columns)
    return [dict(zip(cols, row, strict=True)) for row in zip(*(df[c].tolist() for c in cols), strict=True)]


def having(df: pd.DataFrame, dim: str, value: Any) -> pd.DataFrame:
    """The rows whose slice has `dim` = `value`. astype(bool): on an empty frame the mask is
    of object dtype, which pandas reads as a list of column names (and drops every column)."""
    return df[df["dims"].map(lambda d: d.get(dim) == value).astype(bool)]


def slice_cells(df: pd.DataFrame, region: str | None) -> pd.DataFrame:
    """The rows of one region (or all rows of a whole-population frame when region is None)."""
    if region is None:
        return df
    return having(df, "region", region)


def cell_at(df: pd.DataFrame, period: dt.date) -> dict[str, Any] | None:
    """The one cell of `period` in a single-slice frame, as a dict; None when there is none."""
    rows = df[df["period"] == period]
    if rows.empty:
        return None
    return rows.iloc[0].to_dict()


@lru_cache(maxsize=16)
def periods(engine: Engine, grain: str, version: int | None) -> tuple[dt.date, ...]:
    """Every period of `grain` with figures, oldest first (`version` only keys the cache)."""
    return tuple(query.periods(engine, grain))


def cells(
    engine: Engine, metric: str, by: tuple[str, ...], grain: str, version: int | None, min_cell_size: int,
    across: str = "",
) -> pd.DataFrame:  # fmt: skip
    """Every cell of one indicator, breakdown and grain that the reader may see, suppressed
    (`version` only keys the cache). Shared between requests: never modify it."""
    return access.restrict(_cells(engine, metric, by, grain, version, min_cell_size, across))


# Every table of a refreshed store fits (866 on the demo ministry; `warm` reads them all).
@lru_cache(maxsize=4096)
def _cells(
    engine: Engine, metric: str, by: tuple[str, ...], grain: str, version: int | None, min_cell_size: int,
    across: str = "",
) -> pd.DataFrame:  # fmt: skip
    return query.read_cells(engine, metric, by=by, grain=grain, min_cell_size=min_cell_size, across=across,
                            scope=access.EVERYTHING)  # fmt: skip


# The cache is the unscoped one's (tests and operators inspect and clear it through `cells`).
cells.cache_info = _cells.cache_info  # type: ignore[attr-defined]


def _clear() -> None:
    _cells.cache_clear()
    _FILTERS.clear()


cells.cache_clear = _clear  # type: ignore[attr-defined]


def warm(engine: Engine, min_cell_size: int) -> int:
    """Read every table of cells of the newest refresh into the cache, the default grain
    first, so no reader waits for a first read (on a million cases a table costs 50-80 ms
    to read and suppress, a page reads a dozen). Returns the number of tables read."""
    version = data_version(engine)
    order = {"month": 0, "quarter": 1, "year": 2, "week": 3}
    todo = sorted(query.tables(engine), key=lambda t: (order.get(t[1], 9), t))
    for metric, grain, by, across in todo:
        if data_version(engine) != version:
            return 0  # a new refresh landed: its tables are read when asked for
        _cells(engine, metric, by, grain, version, min_cell_size, across)
    return len(todo)


def view_cells(
    engine: Engine, metric: str, view: Any, version: int | None, min_cell_size: int, *,
    breakdown: tuple[str, ...] = (), across: str = "", whole_range: bool = False,
) -> pd.DataFrame | None:  # fmt: skip
    """The cells of `metric` in a view's periods and slice, broken down further by
    `breakdown`; None when the store holds no such breakdown (a combination of dimensions
    not in `metrics.combinations`). `whole_range` keeps every period (trends, control charts)."""
    by = view.by(*breakdown)
    if dim_key(by) not in breakdowns(engine, metric, version):
        return None
    key = (engine, metric, by, view.grain, version, min_cell_size, across)
    df = _cells(*key)
    days, dims = _filter_columns(key, df)
    mask = np.ones(len(df), dtype=bool)
    if not whole_range and view.start is not None and view.end is not None:
        mask &= (days >= np.datetime64(view.start, "D")) & (days <= np.datetime64(view.end, "D"))
    for dim, value in view.slice().items():
        if dim not in dims:
            dims[dim] = np.array([d.get(dim) for d in df["dims"]], dtype=object)
        mask &= dims[dim] == value
    # Filtered first, then cut to the reader's scope: both keep rows by a test of their own,
    # and the scope's is the slower one.
    return access.restrict(df if mask.all() else df[mask])


# The columns views filter on, as numpy arrays beside each cached table (the table itself is
# shared and never modified): a page reads a dozen tables per callback, and testing each
# row's dict in Python took a fifth of its time. An entry holds its table, so one left from
# before a cache clear is never used with another.
_FILTERS: dict[tuple[Any, ...], tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]] = {}


def _filter_columns(key: tuple[Any, ...], df: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    entry = _FILTERS.get(key)
    if entry is None or entry[0] is not df:
        entry = (df, np.array(df["period"].tolist(), dtype="datetime64[D]"), {})
        _FILTERS[key] = entry
    return entry[1], entry[2]


def dim_key(by: tuple[str, ...]) -> str:
    return query.dim_names(by)
