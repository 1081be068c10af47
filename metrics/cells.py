"""Reducing per-case arrays to cells: one row per (grain, period, dimension, value).

Every indicator is a reduction of per-case quantities over cells. These helpers do the
reduction for all grains and slices at once with integer keys and bincount, so an
indicator function only says what to count, not how to loop.

A combined slicing (config `metrics.combinations`, e.g. region x age_band) is one more
slicing whose code is the combination of its dimensions' codes, so every indicator built on
`keyed` gets its combined cells without knowing about them. Its cells carry `dim` =
"age_band,region" (sorted, comma-joined) and `dim_value` = the stored key
"age_band=25-44|region=North"; a single dimension keeps `dim` = "region", `dim_value` =
"North" (see `dims_key` and `parts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.stats import KMResult, grouped_km

CELL_COLUMNS = (
    "grain",
    "period",
    "dim",
    "dim_value",
    "value",
    "n",
    "numerator",
    "denominator",
    "ci_low",
    "ci_high",
    "note",
)


@dataclass(frozen=True)
class Slicing:
    dim: str  # '' for the whole population; "a,b" (sorted) for a combination
    codes: np.ndarray  # per case
    labels: np.ndarray  # code -> value (for a combination, the stored key "a=x|b=y")


def combinations(data: CaseData) -> tuple[tuple[str, ...], ...]:
    """The configured combinations, each sorted and named once: [region, age_band] and
    [age_band, region] are the same cells, and storing them twice would break the store's
    unique key."""
    out: dict[tuple[str, ...], None] = {}
    for combo in data.settings.metrics.combinations:
        out[tuple(sorted(combo))] = None
    return tuple(out)


def dims_key(dim: str, value: str) -> str:
    """The stored key of a cell (metrics.query.parse_dims reads it back)."""
    if not dim:
        return ""
    return value if "," in dim else f"{dim}={value}"


def parts(dim: str, value: str) -> dict[str, str]:
    """{dimension: value} of a cell, for single and combined slices alike."""
    if not dim:
        return {}
    if "," not in dim:
        return {dim: value}
    return dict(p.split("=", 1) for p in value.split("|"))


def cell_slice(values: dict[str, str]) -> tuple[str, str]:
    """(dim, dim_value) of the cell for {dimension: value}: the inverse of `parts`."""
    names = sorted(values)
    if len(names) <= 1:
        return (names[0], values[names[0]]) if names else ("", "")
    return ",".join(names), "|".join(f"{d}={values[d]}" for d in names)


def slicings(data: CaseData, dims: tuple[str, ...] | None = None) -> list[Slicing]:
    """The whole population and each dimension's slicing; by default (dims None) the
    configured dimensions and combinations, otherwise exactly `dims`, no combination."""
    combos = combinations(data) if dims is None else ()
    dims = data.dims if dims is None else dims
    key = ("slicings", dims, combos)
    if key not in data.memo:
        n = len(data.cases)
        out = [Slicing("", np.zeros(n, dtype=np.int64), np.array([""], dtype=object))]
        single: dict[str, Slicing] = {}
        for dim in dict.fromkeys((*dims, *(d for c in combos for d in c))):
            codes, labels = pd.factorize(data.cases[dim], sort=True)
            single[dim] = Slicing(dim, codes.astype(np.int64), np.asarray(labels, dtype=object))
        out += [single[d] for d in dims]
        out += [_combined([single[d] for d in combo]) for combo in combos]
        data.memo[key] = out
    return data.memo[key]  # type: ignore[return-value]


def _combined(sorted_parts: list[Slicing]) -> Slicing:
    """One slicing over the combinations of values that occur (mixed-radix code of the parts'
    codes, factorized), so no empty combination costs a cell or a bincount slot."""
    mixed = np.zeros(len(sorted_parts[0].codes), dtype=np.int64)
    for s in sorted_parts:
        mixed = mixed * max(len(s.labels), 1) + s.codes
    codes, seen = pd.factorize(mixed, sort=True)
    index = np.asarray(seen, dtype=np.int64)
    digits = []
    for s in reversed(sorted_parts):
        size = max(len(s.labels), 1)
        digits.append(s.labels[index % size])
        index = index // size
    digits.reverse()
    keys = ["|".join(f"{s.dim}={v}" for s, v in zip(sorted_parts, combo, strict=True))
            for combo in zip(*digits, strict=True)]  # fmt: skip
    labels = np.array(keys, dtype=object)
    name = ",".join(s.dim for s in sorted_parts)
    return Slicing(name, codes.astype(np.int64), labels)


@dataclass(frozen=True)
class Keyed:
    """Cases keyed by cell for one grain and slicing."""

    grain: str
    slicing: Slicing
    periods: np.ndarray
    key: np.ndarray  # per case: period index * L + slice code, -1 outside
    L: int

    def frame(self, keys: np.ndarray, **columns: np.ndarray) -> pd.DataFrame:
        keys = np.asarray(keys, dtype=np.int64)
        df = pd.DataFrame(
            {
                "grain": self.grain,
                "period": self.periods[keys // self.L],
                "dim": self.slicing.dim,
                "dim_value": self.slicing.labels[keys % self.L],
            }
        )
        for name, col in columns.items():
            df[name] = col
        return df


def keyed(
    data: CaseData, period_of_case: dict[str, np.ndarray], dims: tuple[str, ...] | None = None
) -> Iterator[Keyed]:
    """For each grain (with its per-case period index) and each slicing, the cell keys."""
    for grain, pidx in period_of_case.items():
        periods = data.periods(grain)
        for s in slicings(data, dims):
            L = max(len(s.labels), 1)
            key = np.where(pidx >= 0, pidx * L + s.codes, -1)
            yield Keyed(grain, s, periods, key, L)


def opened_period(data: CaseData) -> dict[str, np.ndarray]:
    if "opened_period" not in data.memo:
        dates = data.cases["opened_date"].to_numpy().astype("datetime64[D]")
        data.memo["opened_period"] = {g: data.period_of(g, dates) for g in data.settings.metrics.grains}
    return data.memo["opened_period"]  # type: ignore[return-value]


def sum_cells(k: Keyed, mask: np.ndarray, **values: np.ndarray) -> pd.DataFrame:
    """Counts (`rows`) and sums of `values` over the cases in `mask`, per cell."""
    sel = mask & (k.key >= 0)
    keys = k.key[sel]
    size = k.periods.size * k.L
    rows = np.bincount(keys, minlength=size)
    present = np.flatnonzero(rows)
    cols = {"rows": rows[present]}
    for name, v in values.items():
        cols[name] = np.bincount(keys, weights=np.asarray(v, dtype=float)[sel], minlength=size)[present]
    return k.frame(present, **cols)


def time_order(t: np.ndarray) -> np.ndarray:
    """The cases in order of duration (stable), shared by every grain and slicing."""
    return np.argsort(np.asarray(t, dtype=float), kind="stable")


def selected_order(by_time: np.ndarray | None, sel: np.ndarray) -> np.ndarray | None:
    """`by_time` of all cases restricted to those in `sel`, as positions among them."""
    if by_time is None:
        return None
    chosen = by_time[sel[by_time]]
    return (np.cumsum(sel) - 1)[chosen]


def km_fit(
    k: Keyed,
    mask: np.ndarray,
    t: np.ndarray,
    event: np.ndarray,
    at: tuple[int, ...] | None = None,
    by_time: np.ndarray | None = None,
) -> KMResult:
    """The Kaplan-Meier estimate of every cell of `k` over the cases in `mask` (with the curve
    at the times `at`, if given); `by_time` (time_order(t)) saves sorting the durations again
    for each grain and slicing."""
    sel = mask & (k.key >= 0)
    times = None if at is None else np.asarray(at, dtype=float)
    return grouped_km(k.key[sel], t[sel], event[sel], at=times, by_time=selected_order(by_time, sel))


def km_frame(k: Keyed, r: KMResult) -> pd.DataFrame:
    """Medians and 90th percentiles of a fit, one row per cell."""
    return k.frame(
        r.groups,
        rows=r.n,
        events=r.events,
        median=r.median,
        median_low=r.median_low,
        median_high=r.median_high,
        p90=r.p90,
        p90_low=r.p90_low,
        p90_high=r.p90_high,
    )


def km_cells(
    k: Keyed, mask: np.ndarray, t: np.ndarray, event: np.ndarray, by_time: np.ndarray | None = None
) -> pd.DataFrame:
    """Kaplan-Meier medians and 90th percentiles per cell."""
    return km_frame(k, km_fit(k, mask, t, event, by_time=by_time))


def km_curve_frame(k: Keyed, r: KMResult, at: tuple[int, ...], dim: str) -> pd.DataFrame:
    """The Kaplan-Meier curve S(a) of every cell at each time a of `at` (a fit made with the
    same `at`), one row per cell and time: the time is one more dimension `dim` of the cell
    (the day 7 point of the North's curve is dims {region: North, dim: 7}), so the points are
    stored, suppressed, exported and refreshed like any other cell. `rows` is the cell's
    cases, on which every point rests."""
    assert r.curve is not None and r.curve_low is not None and r.curve_high is not None
    base = k.frame(r.groups, rows=r.n)
    name = ",".join(sorted([*filter(None, k.slicing.dim.split(",")), dim]))
    frames = []
    for j, a in enumerate(at):
        # The slice's key with the time added, per label of the slicing (few) rather than per row.
        point = np.array(
            [cell_slice({**parts(k.slicing.dim, str(label)), dim: str(a)})[1] for label in k.slicing.labels],
            dtype=object,
        )
        frames.append(
            base.assign(
                dim=name,
                dim_value=point[r.groups % k.L] if r.groups.size else base["dim_value"],
                value=r.curve[:, j],
                ci_low=r.curve_low[:, j],
                ci_high=r.curve_high[:, j],
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else base


def median_cells(k: Keyed, mask: np.ndarray, x: np.ndarray) -> pd.DataFrame:
    sel = mask & (k.key >= 0)
    s = pd.Series(np.asarray(x, dtype=float)[sel]).groupby(k.key[sel])
    agg = pd.DataFrame({"rows": s.size(), "median": s.median()})
    return k.frame(agg.index.to_numpy(), rows=agg["rows"].to_numpy(), median=agg["median"].to_numpy())


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """Add the cell columns an indicator does not set (working columns are kept)."""
    for col in CELL_COLUMNS:
        if col not in df:
            df[col] = None if col == "note" else np.nan
    return df.reset_index(drop=True)


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    # Keep one empty frame when nothing matched, so the working columns still exist.
    kept = [f for f in frames if len(f)] or frames[:1]
    if not kept:
        return finish(pd.DataFrame())
    return finish(pd.concat(kept, ignore_index=True))
