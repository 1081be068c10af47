"""Volume and equal coverage: cases opened, and cases per 1,000 residents."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import concat, keyed, opened_period, parts, sum_cells
from metrics.stats import poisson_interval


def opened_counts(data: CaseData) -> pd.DataFrame:
    ones = np.ones(len(data.cases), dtype=bool)
    return concat([sum_cells(k, ones) for k in keyed(data, opened_period(data))])


def cases_opened(data: CaseData) -> pd.DataFrame:
    df = opened_counts(data)
    df["value"] = df["rows"]
    df["n"] = df["rows"]
    return df


def coverage_per_1000(data: CaseData) -> pd.DataFrame:
    df = opened_counts(data)
    years = pd.to_datetime(df["period"]).dt.year.to_numpy()
    pop, pop_year = slice_population(
        data.populations, df["dim"].to_numpy(), df["dim_value"].to_numpy(), years, data.settings.groups
    )
    count = df["rows"].to_numpy(dtype=float)
    low, high = poisson_interval(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["value"] = np.where(pop > 0, count / pop * 1000, np.nan)
        df["ci_low"] = np.where(pop > 0, low / pop * 1000, np.nan)
        df["ci_high"] = np.where(pop > 0, high / pop * 1000, np.nan)
    df["n"] = count
    df["numerator"] = count
    df["denominator"] = np.where(pop > 0, pop, np.nan)
    notes = np.full(len(df), None, dtype=object)
    notes[~(pop > 0)] = "no population known for this slice"
    stale = (pop > 0) & (pop_year != years)
    notes[stale] = ["population of " + str(int(y)) for y in pop_year[stale]]
    df["note"] = notes
    return df


def slice_population(
    populations: pd.DataFrame, dims: np.ndarray, values: np.ndarray, years: np.ndarray, groups: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Residents of each (dimension, value, year) slice, with the year the figure is for.

    Region: the region's total; a group value: summed over regions; the whole population,
    channels and services: everyone. A combined slice counts the residents of its region
    and group parts (channel, service and department do not narrow the residents): region x
    group from the table's rows giving both, where it has them; two group attributes at once
    (age x sex) the table never gives, so those slices have no population. A year without
    figures takes the latest earlier year (population tables are published years apart),
    and says so in the cell's note.
    """
    out = np.full(len(dims), np.nan)
    out_year = np.full(len(dims), -1)
    if populations.empty or len(dims) == 0:
        return out, out_year
    p = populations
    totals = p[p["attribute"] == ""]
    tables: dict[tuple[tuple[str, str], ...], pd.Series] = {}

    def series(residents_of: tuple[tuple[str, str], ...]) -> pd.Series:
        if residents_of not in tables:
            region = next((v for d, v in residents_of if d == "region"), None)
            attrs = [(d, v) for d, v in residents_of if d != "region"]
            if len(attrs) > 1:
                rows = p.iloc[:0]
            elif attrs:
                (attr, value), *_ = attrs
                rows = p[(p["attribute"] == attr) & (p["group_value"] == value)]
                if region is not None:
                    rows = rows[rows["region"] == region]
            else:
                rows = totals if region is None else totals[totals["region"] == region]
            tables[residents_of] = rows.groupby("year")["population"].sum().sort_index()
        return tables[residents_of]

    # Many cells share a slice and year: look each (slice, year) up once.
    frame = pd.DataFrame({"dim": dims, "value": values, "year": years})
    slice_year, where = np.unique(frame.to_numpy(dtype=str), axis=0, return_inverse=True)
    found = np.full(len(slice_year), np.nan)
    found_year = np.full(len(slice_year), -1)
    for i, (dim, value, year) in enumerate(slice_year):
        residents_of = tuple(sorted((d, v) for d, v in parts(dim, value).items() if d == "region" or d in groups))
        s = series(residents_of)
        known = s[s.index <= int(year)]
        if len(known):
            found[i] = known.iloc[-1]
            found_year[i] = known.index[-1]
    where = where.reshape(-1)
    return found[where], found_year[where]
