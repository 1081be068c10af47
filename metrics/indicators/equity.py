"""Equal service across the categories of a dimension: disparity, inequality indices,
service-standard gaps.

These are computed from the cells of other indicators (coverage per 1,000, on-time rate,
median resolution), one value per period for each dimension they run across. Only
categories resting on at least `min_cell_size` cases take part, so a tiny category cannot
swing the figure and no small number is exposed. `n` is the number of cases behind the
categories used; the note says how many categories those were.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from metrics.casedata import CaseData

Cells = dict[str, pd.DataFrame]


def population_dims(data: CaseData) -> tuple[str, ...]:
    """Dimensions whose categories have residents of their own (coverage makes sense)."""
    return ("region", *data.settings.groups)


def gini(rate: np.ndarray, pop: np.ndarray) -> float:
    """Population-weighted Gini: sum_i sum_j p_i p_j |r_i - r_j| / (2 P^2 rbar)."""
    P = pop.sum()
    rbar = (pop * rate).sum() / P
    return float((pop[:, None] * pop[None, :] * np.abs(rate[:, None] - rate[None, :])).sum() / (2 * P * P * rbar))


def theil(rate: np.ndarray, pop: np.ndarray) -> float:
    """Population-weighted Theil T: sum_i (p_i/P)(r_i/rbar) ln(r_i/rbar), with 0 ln 0 = 0."""
    P = pop.sum()
    rbar = (pop * rate).sum() / P
    x = rate / rbar
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(x > 0, x * np.log(x), 0.0)
    return float((pop / P * terms).sum())


def theil_between(rate: np.ndarray, pop: np.ndarray, area: np.ndarray) -> float:
    """The part of Theil T between larger areas: Theil T of the areas' own rates."""
    frame = pd.DataFrame({"cases": rate * pop, "pop": pop, "area": area}).groupby("area").sum()
    return theil((frame["cases"] / frame["pop"]).to_numpy(), frame["pop"].to_numpy())


def _used(cells: pd.DataFrame, dim: str, min_cell: int, need_population: bool = False) -> pd.DataFrame:
    ok = (cells["dim"] == dim) & cells["value"].notna() & (cells["n"] >= min_cell)
    if need_population:
        ok &= cells["denominator"] > 0
    return cells[ok]


def _across(
    data: CaseData, base: pd.DataFrame, dims: tuple[str, ...], need_population: bool,
    stat: Callable[[pd.DataFrame, pd.Series | None], float | None],
) -> pd.DataFrame:  # fmt: skip
    """Apply `stat` to the categories used in every (grain, period) of each dimension."""
    min_cell = data.settings.privacy.min_cell_size
    overall = base[base["dim"] == ""].set_index(["grain", "period"])
    rows = []
    for dim in dims:
        used = _used(base, dim, min_cell, need_population)
        for (grain, period), g in used.groupby(["grain", "period"], sort=True):
            whole = overall.loc[(grain, period)] if (grain, period) in overall.index else None
            value = stat(g, whole) if len(g) >= 2 else None
            label = dim.replace("_", " ")
            note = (
                f"{len(g)} categories of {label} used"
                if value is not None
                else f"fewer than two {label} categories with enough cases"
            )
            rows.append({
                "grain": grain, "period": period, "dim": "", "dim_value": "", "across": dim,
                "value": np.nan if value is None else value, "n": float(g["n"].sum()), "note": note,
            })  # fmt: skip
    return pd.DataFrame(rows)


def disparity(values: np.ndarray) -> float | None:
    """Highest over lowest; undefined when the lowest is 0."""
    return float(values.max() / values.min()) if values.min() > 0 else None


def coverage_disparity_ratio(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True,
                   lambda g, _: disparity(g["value"].to_numpy()))  # fmt: skip


def coverage_gini(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True,
                   lambda g, _: gini(g["value"].to_numpy(), g["denominator"].to_numpy()))  # fmt: skip


def coverage_theil(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True,
                   lambda g, _: theil(g["value"].to_numpy(), g["denominator"].to_numpy()))  # fmt: skip


def _areas(data: CaseData) -> dict[str, str] | None:
    areas = {r.id: r.area for r in data.settings.regions if r.area}
    return areas if areas and len(areas) == len(data.settings.regions) else None


def coverage_theil_between(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Theil T between the larger areas regions nest in (config `regions[].area`)."""
    areas = _areas(data)
    if areas is None:
        return pd.DataFrame()
    return _across(data, cells["coverage_per_1000"], ("region",), True,
                   lambda g, _: theil_between(g["value"].to_numpy(), g["denominator"].to_numpy(),
                                              g["dim_value"].map(areas).to_numpy()))  # fmt: skip


def coverage_theil_within(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Theil T within areas: the total less the part between them (T decomposes exactly)."""
    areas = _areas(data)
    if areas is None:
        return pd.DataFrame()

    def within(g: pd.DataFrame, _: pd.Series | None) -> float:
        rate, pop = g["value"].to_numpy(), g["denominator"].to_numpy()
        return theil(rate, pop) - theil_between(rate, pop, g["dim_value"].map(areas).to_numpy())

    return _across(data, cells["coverage_per_1000"], ("region",), True, within)


def service_standard_gap(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Highest minus lowest on-time rate across categories, in percentage points."""
    return _across(data, cells["on_time_rate"], data.dims, False,
                   lambda g, _: float((g["value"].max() - g["value"].min()) * 100))  # fmt: skip


def timeliness_ratio(data: CaseData, cells: Cells) -> pd.DataFrame:
    """The slowest category's median resolution over the whole population's."""

    def ratio(g: pd.DataFrame, whole: pd.Series | None) -> float | None:
        if whole is None or not whole["value"] > 0:
            return None
        return float(g["value"].max() / whole["value"])

    base = cells["resolution_days_median"]
    out = _across(data, base, data.dims, False, ratio)
    if out.empty:
        return out
    # A category that has not reached its median yet is slower than any figure we could
    # give: the ratio is then unknown, not the (lower) ratio of the others.
    min_cell = data.settings.privacy.min_cell_size
    waiting = base[(base["dim"] != "") & base["value"].isna() & (base["n"] >= min_cell)]
    unknown = pd.MultiIndex.from_frame(waiting[["grain", "period", "dim"]].drop_duplicates())
    hit = pd.MultiIndex.from_frame(out[["grain", "period", "across"]]).isin(unknown)
    out.loc[hit, "value"] = np.nan
    out.loc[hit, "note"] = "a category has not reached its median yet: the slowest is unknown"
    return out
