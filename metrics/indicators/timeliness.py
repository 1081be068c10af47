"""Timeliness: resolution times (censoring-aware), statutory deadlines, backlog."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import concat, keyed, km_cells, median_cells, opened_period, sum_cells
from metrics.periods import period_last_day
from metrics.stats import wilson


def resolution_days_median(data: CaseData) -> pd.DataFrame:
    c = data.cases
    t = c["duration_days"].to_numpy()
    e = c["closed"].to_numpy()
    everyone = np.ones(len(c), dtype=bool)
    df = concat(
        [
            km_cells(k, everyone, t, e).assign(
                value=lambda f: f["median"],
                n=lambda f: f["rows"],
                ci_low=lambda f: f["median_low"],
                ci_high=lambda f: f["median_high"],
            )
            for k in keyed(data, opened_period(data))
        ]
    )
    not_reached = df["value"].isna()
    df.loc[not_reached, "note"] = "not reached: fewer than half of the cases are resolved"
    # The interval may be open above while the median itself is known.
    return df


def resolution_days_median_closed(data: CaseData) -> pd.DataFrame:
    c = data.cases
    closed = c["closed"].to_numpy()
    t = c["duration_days"].to_numpy()
    df = concat(
        [
            median_cells(k, closed, t).assign(value=lambda f: f["median"], n=lambda f: f["rows"])
            for k in keyed(data, opened_period(data))
        ]
    )
    df["note"] = "closed cases only: biased low while cases are open"
    return df


# Recent cohorts are provisional: cases still inside their deadline are not yet determined,
# and the ones already settled are the quick ones, so the rate reads high until they are.
PROVISIONAL_SHARE = 0.05


def on_time_rate(data: CaseData) -> pd.DataFrame:
    c = data.cases
    with_deadline = ~np.isnat(c["due_date"].to_numpy())
    determined = c["determined"].to_numpy()
    on_time = c["on_time"].to_numpy()
    df = concat(
        [sum_cells(k, with_deadline, on_time=on_time, determined=determined) for k in keyed(data, opened_period(data))]
    )
    pending = 1 - df["determined"] / df["rows"]
    df = df[df["determined"] > 0].copy()
    df = proportion(df, df["on_time"], df["determined"])
    late = pending[df.index] > PROVISIONAL_SHARE
    df.loc[late, "note"] = [
        f"provisional: {p:.0%} of cases not yet past their deadline" for p in pending[df.index][late]
    ]
    return df


def proportion(df: pd.DataFrame, numerator: pd.Series, denominator: pd.Series) -> pd.DataFrame:
    num = numerator.to_numpy(dtype=float)
    den = denominator.to_numpy(dtype=float)
    df["numerator"], df["denominator"], df["n"] = num, den, den
    with np.errstate(divide="ignore", invalid="ignore"):
        df["value"] = np.where(den > 0, num / den, np.nan)
    df["ci_low"], df["ci_high"] = wilson(num, den)
    return df


def backlog_open(data: CaseData) -> pd.DataFrame:
    """Cases opened by a period's end and not closed by then (a stock, at period end)."""
    c = data.cases
    frames = []
    opened_date = c["opened_date"].to_numpy().astype("datetime64[D]")
    closed_date = c["closed_date"].to_numpy().astype("datetime64[D]")
    for grain in data.settings.metrics.grains:
        periods = data.periods(grain)
        last_days = period_last_day(grain, periods)
        # Index of the first period whose end the case is open at, and the first it is not.
        enters = np.searchsorted(last_days, opened_date, side="left")
        leaves = np.where(np.isnat(closed_date), periods.size, np.searchsorted(last_days, closed_date, side="left"))
        # A case closed on the last day of a period is closed at that period's end.
        frames.extend(_stock(data, grain, periods, enters, leaves))
    df = concat(frames)
    df["value"] = df["rows"]
    df["n"] = df["rows"]
    return df


def _stock(
    data: CaseData, grain: str, periods: np.ndarray, enters: np.ndarray, leaves: np.ndarray
) -> list[pd.DataFrame]:
    """Count of cases with enters <= p < leaves for every period p, per slice."""
    frames = []
    P = periods.size
    for k in keyed(data, {grain: np.zeros(len(data.cases), dtype=np.int64)}):
        L = k.L
        codes = k.slicing.codes
        ok = enters < leaves
        start = np.bincount(codes[ok] * (P + 1) + enters[ok], minlength=L * (P + 1)).reshape(L, P + 1)
        stop = np.bincount(codes[ok] * (P + 1) + leaves[ok], minlength=L * (P + 1)).reshape(L, P + 1)
        level = np.cumsum(start - stop, axis=1)[:, :P]
        seen = np.cumsum(start, axis=1)[:, :P] > 0  # the slice exists by then
        slice_code, p = np.nonzero(seen)
        frames.append(k.frame(p * L + slice_code, rows=level[slice_code, p]))
    return frames
