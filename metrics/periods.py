"""Calendar periods (week, month, quarter, year) on local dates, as numpy date arrays."""

from __future__ import annotations

import numpy as np

GRAINS = ("week", "month", "quarter", "year")


def period_start(grain: str, dates: np.ndarray) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    if grain == "week":  # ISO weeks start on Monday
        return d - ((d.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    if grain == "month":
        return d.astype("datetime64[M]").astype("datetime64[D]")
    if grain == "quarter":
        m = d.astype("datetime64[M]").astype(np.int64)
        return (m - m % 3).astype("datetime64[M]").astype("datetime64[D]")
    if grain == "year":
        return d.astype("datetime64[Y]").astype("datetime64[D]")
    raise ValueError(f"unknown grain {grain!r}; expected one of {GRAINS}")


def next_start(grain: str, starts: np.ndarray) -> np.ndarray:
    s = np.asarray(starts, dtype="datetime64[D]")
    if grain == "week":
        return s + np.timedelta64(7, "D")
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    return (s.astype("datetime64[M]") + step).astype("datetime64[D]")


def period_starts(grain: str, first: np.datetime64, last: np.datetime64) -> np.ndarray:
    """All period starts from the period holding `first` to the one holding `last`."""
    start = period_start(grain, np.array([first]))[0]
    stop = period_start(grain, np.array([last]))[0]
    out = [start]
    while out[-1] < stop:
        out.append(next_start(grain, np.array([out[-1]]))[0])
    return np.array(out, dtype="datetime64[D]")


def period_index(grain: str, starts: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Index into `starts` of each date's period; -1 for NaT or dates outside the range."""
    d = np.asarray(dates, dtype="datetime64[D]")
    ps = period_start(grain, d)
    idx = np.searchsorted(starts, ps)
    ok = ~np.isnat(d) & (idx < starts.size)
    ok[ok] &= starts[idx[ok]] == ps[ok]
    return np.where(ok, idx, -1)


def period_last_day(grain: str, starts: np.ndarray) -> np.ndarray:
    return next_start(grain, starts) - np.timedelta64(1, "D")
