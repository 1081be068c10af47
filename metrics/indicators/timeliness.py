"""Timeliness: resolution times (censoring-aware), statutory deadlines, backlog."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import (
    Keyed,
    concat,
    keyed,
    km_cells,
    km_curve_frame,
    km_fit,
    km_frame,
    median_cells,
    opened_period,
    sum_cells,
    time_order,
)
from metrics.periods import period_last_day
from metrics.stats import KMResult, wilson

NOT_REACHED = {
    "median": "not reached: fewer than half of the cases are resolved",
    "p90": "not reached: fewer than 90% of the cases are resolved",
}


# The days since opening at which the resolution curve is stored: dense where most cases
# close, sparse in the long tail, up to a year. One list, read by the indicator, the
# dashboard and the methodology.
SURVIVAL_DAYS = (1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 180, 365)
# The pseudo-dimension of a curve point's cell: {"days": "7"} is the point after 7 days.
SURVIVAL_DIM = "days"
NOT_OBSERVED = "not known: no case of the cohort has been followed this long yet"
NO_KEYS = np.empty(0, dtype=np.int64)


def km_indicator(
    data: CaseData, mask: np.ndarray, event: np.ndarray, t: np.ndarray | None = None, quantile: str = "median"
) -> pd.DataFrame:
    """A Kaplan-Meier quantile of time to `event` per cell, cases in `mask`, censored at as_of
    (or at their closing when they closed without the event)."""
    t = data.cases["duration_days"].to_numpy() if t is None else t
    by_time = time_order(t)
    cells = concat([km_cells(k, mask, t, event, by_time) for k in keyed(data, opened_period(data))])
    return km_quantile(cells, quantile)


def km_quantile(df: pd.DataFrame, quantile: str) -> pd.DataFrame:
    """The cells of one quantile ("median" or "p90") of km_frame's rows."""
    df["value"] = df[quantile]
    df["n"] = df["rows"]
    df["ci_low"] = df[f"{quantile}_low"]
    # The interval may be open above (null) while the quantile itself is known.
    df["ci_high"] = df[f"{quantile}_high"]
    df.loc[df["value"].isna(), "note"] = NOT_REACHED[quantile]
    return df


def resolution_fits(data: CaseData) -> list[tuple[Keyed, KMResult]]:
    """The resolution curve of every cell: all cases, time to closure, censored at as_of,
    with its points at SURVIVAL_DAYS. Estimated once per refresh: the median, the 90th
    percentile and the curve's points are read off the same estimate, so they cannot
    disagree, and the work is not done three times."""
    if "resolution_fits" not in data.memo:
        everyone = np.ones(len(data.cases), dtype=bool)
        t, closed = data.cases["duration_days"].to_numpy(), data.cases["closed"].to_numpy()
        by_time = time_order(t)
        # Kept without each grain and slicing's per-case keys (8 bytes a case each, 36 of
        # them): the frames are made from the fit and the slicing's labels only.
        data.memo["resolution_fits"] = [
            (replace(k, key=NO_KEYS), km_fit(k, everyone, t, closed, SURVIVAL_DAYS, by_time))
            for k in keyed(data, opened_period(data))
        ]
    return data.memo["resolution_fits"]  # type: ignore[return-value]


def resolution_days_median(data: CaseData) -> pd.DataFrame:
    return km_quantile(concat([km_frame(k, r) for k, r in resolution_fits(data)]), "median")


def resolution_days_p90(data: CaseData) -> pd.DataFrame:
    return km_quantile(concat([km_frame(k, r) for k, r in resolution_fits(data)]), "p90")


def still_open_share(data: CaseData) -> pd.DataFrame:
    """The Kaplan-Meier curve of resolution: the share of a period's cases still open after
    each of SURVIVAL_DAYS days, the same estimate as resolution_days_median's (whose median
    is where this curve falls to 0.5)."""
    df = concat([km_curve_frame(k, r, SURVIVAL_DAYS, SURVIVAL_DIM) for k, r in resolution_fits(data)])
    df["n"] = df["rows"]
    df.loc[df["value"].isna(), "note"] = NOT_OBSERVED
    return df


def first_response_hours_median(data: CaseData) -> pd.DataFrame:
    c = data.cases
    answered = c["first_response_at"].notna().to_numpy()
    hours = ((c["first_response_at"] - c["opened_at"]).dt.total_seconds() / 3600).to_numpy()
    return concat(
        [
            median_cells(k, answered, hours).assign(value=lambda f: f["median"], n=lambda f: f["rows"])
            for k in keyed(data, opened_period(data))
        ]
    )


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
    return _backlog(data, overdue=False)


def backlog_overdue(data: CaseData) -> pd.DataFrame:
    """Of the backlog, the cases already past their due date at the period's end."""
    return _backlog(data, overdue=True)


def _backlog(data: CaseData, overdue: bool) -> pd.DataFrame:
    c = data.cases
    frames = []
    opened_date = c["opened_date"].to_numpy().astype("datetime64[D]")
    closed_date = c["closed_date"].to_numpy().astype("datetime64[D]")
    due = c["due_date"].to_numpy().astype("datetime64[D]")
    for grain in data.settings.metrics.grains:
        periods = data.periods(grain)
        # The stock is taken at the period's last day, or at as_of for the period running.
        last_days = np.minimum(period_last_day(grain, periods), data.as_of_date)
        # Index of the first period whose end the case is open at, and the first it is not;
        # a case closed on a period's last day is closed at that period's end.
        enters = np.searchsorted(last_days, opened_date, side="left")
        leaves = np.where(np.isnat(closed_date), periods.size, np.searchsorted(last_days, closed_date, side="left"))
        if overdue:
            # Past due once the period's last day is after the due date.
            late_from = np.where(np.isnat(due), periods.size, np.searchsorted(last_days, due, side="right"))
            enters = np.maximum(enters, late_from)
        frames.extend(
            _stock(data, grain, periods, enters, leaves, counted_from=np.searchsorted(last_days, opened_date))
        )
    df = concat(frames)
    df["value"] = df["rows"]
    df["n"] = df["rows"] if not overdue else df["backlog"]
    return df


def _level(codes: np.ndarray, L: int, P: int, start_at: np.ndarray, leaves: np.ndarray) -> np.ndarray:
    """(slice, period) count of cases with start_at <= p < leaves."""
    ok = start_at < leaves
    size = L * (P + 1)
    start = np.bincount(codes[ok] * (P + 1) + start_at[ok], minlength=size).reshape(L, P + 1)
    stop = np.bincount(codes[ok] * (P + 1) + leaves[ok], minlength=size).reshape(L, P + 1)
    return np.cumsum(start - stop, axis=1)[:, :P]


def _stock(
    data: CaseData, grain: str, periods: np.ndarray, enters: np.ndarray, leaves: np.ndarray, counted_from: np.ndarray
) -> list[pd.DataFrame]:
    """Count of cases with enters <= p < leaves for every period p, per slice, beside the
    whole backlog (counted_from <= p < leaves), on which a part of it rests."""
    frames = []
    P = periods.size
    for k in keyed(data, {grain: np.zeros(len(data.cases), dtype=np.int64)}):
        L, codes = k.L, k.slicing.codes
        part, whole = _level(codes, L, P, enters, leaves), _level(codes, L, P, counted_from, leaves)
        opened = np.bincount(codes * (P + 1) + np.minimum(counted_from, P), minlength=L * (P + 1))
        seen = np.cumsum(opened.reshape(L, P + 1), axis=1)[:, :P] > 0  # the slice exists by then
        slice_code, p = np.nonzero(seen)
        frames.append(k.frame(p * L + slice_code, rows=part[slice_code, p], backlog=whole[slice_code, p]))
    return frames


BACKLOG_AGE_BANDS = ((0, 7, "0-7 days"), (8, 30, "8-30 days"), (31, 90, "31-90 days"), (91, None, "over 90 days"))


def backlog_age(data: CaseData) -> pd.DataFrame:
    """Open cases at each period's end by how long they have been open (calendar days from
    the local opening date), one cell per band (dimension `backlog_age`)."""
    c = data.cases
    # No case feed at all (published tables only): the backlog is unknown, not 0. (With
    # `first` set, the cases are those of some periods only, and none open means 0.)
    if c.empty and data.first is None:
        return pd.DataFrame(columns=["grain", "period", "dim", "dim_value", "rows", "value", "n"])
    opened_date = c["opened_date"].to_numpy().astype("datetime64[D]")
    closed_date = c["closed_date"].to_numpy().astype("datetime64[D]")
    edges = np.array([lo for lo, _, _ in BACKLOG_AGE_BANDS[1:]])
    labels = [label for _, _, label in BACKLOG_AGE_BANDS]
    rows = []
    for grain in data.settings.metrics.grains:
        periods = data.periods(grain)
        for start, last in zip(periods, np.minimum(period_last_day(grain, periods), data.as_of_date), strict=True):
            if not data.wanted(grain, start):
                continue
            open_then = (opened_date <= last) & (np.isnat(closed_date) | (closed_date > last))
            age = (last - opened_date[open_then]).astype(np.int64)
            counts = np.bincount(np.searchsorted(edges, age, side="right"), minlength=len(labels))
            rows += [
                {"grain": grain, "period": start, "dim": "backlog_age", "dim_value": label, "rows": int(k)}
                for label, k in zip(labels, counts, strict=True)
            ]
    df = pd.DataFrame(rows)
    df["value"] = df["rows"]
    df["n"] = df["rows"]
    return df
