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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import cell_slice, combinations, parts

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
    # Called once per period and slice: bincount rather than a DataFrame groupby.
    code, _ = pd.factorize(pd.Series(area))
    known = code >= 0  # a category in no area takes no part, as groupby drops it
    area_pop = np.bincount(code[known], weights=pop[known])
    area_cases = np.bincount(code[known], weights=(rate * pop)[known])
    return theil(area_cases / area_pop, area_pop)


def views(data: CaseData, dims: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """(across, by) pairs to compute: across each of `dims` for the whole population, and
    across each of them within the slices of the rest of every configured combination that
    holds it ([region, age_band]: across age bands within each region, and across regions
    within each age band).

    Only within slices that are themselves computed (a dimension, or a configured
    combination): a figure within a slice is read beside the slice's own figures, and
    the slowest-over-own ratio needs them.
    """
    sliced = {(d,) for d in data.dims} | set(combinations(data))
    out = [(d, ()) for d in dims]
    for combo in combinations(data):
        for d in combo:
            by = tuple(x for x in combo if x != d)
            if d in dims and by in sliced:
                out.append((d, by))
    return out


def _categories(base: pd.DataFrame, across: str, by: tuple[str, ...]) -> pd.DataFrame:
    """The cells of `base` that are categories of `across` within the slices of `by`, with
    the slice they belong to (`dim`, `dim_value`) and their category (`cat`)."""
    rows = base[base["dim"] == ",".join(sorted((across, *by)))]
    if not by:
        return rows.assign(dim="", dim_value="", cat=rows["dim_value"])
    split = [parts(d, v) for d, v in zip(rows["dim"], rows["dim_value"], strict=True)]
    within = [cell_slice({k: x[k] for k in by}) for x in split]
    return rows.assign(dim=[w[0] for w in within], dim_value=[w[1] for w in within], cat=[x[across] for x in split])


@dataclass(frozen=True)
class Categories:
    """The categories used in one period and slice: their values, residents (denominator)
    and names, and the slice's own value (the whole population's, or the region's when across
    age bands within regions; None where the slice has no cell of its own)."""

    value: np.ndarray
    pop: np.ndarray
    cat: np.ndarray
    own: float | None


def _across(
    data: CaseData, base: pd.DataFrame, dims: tuple[str, ...], need_population: bool,
    stat: Callable[[Categories], float | None], waiting_note: str | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Apply `stat` to the categories used in every (grain, period, slice) of each view.

    With `waiting_note`, a slice in which a category with enough cases has no value yet gets
    no value either, with that note.
    """
    min_cell = data.settings.privacy.min_cell_size
    keys = ["grain", "period", "dim", "dim_value"]
    own = base.set_index(keys)["value"].to_dict()
    rows = []
    for across, by in views(data, dims):
        cats = _categories(base, across, by)
        ok = cats["value"].notna() & (cats["n"] >= min_cell)
        if need_population:
            ok &= cats["denominator"] > 0
        waiting = cats[cats["value"].isna() & (cats["n"] >= min_cell)]
        waiting_in = set(waiting.set_index(keys).index)
        used = cats[ok]
        value, pop = used["value"].to_numpy(dtype=float), used["denominator"].to_numpy(dtype=float)
        cat, n = used["cat"].to_numpy(dtype=object), used["n"].to_numpy(dtype=float)
        label = across.replace("_", " ")
        # Thousands of small groups with combinations: plain arrays per group, not frames.
        for key, at in sorted(used.groupby(keys, sort=False).indices.items()):
            x = own.get(key)
            result = (
                stat(Categories(value[at], pop[at], cat[at], None if x is None or np.isnan(x) else float(x)))
                if len(at) >= 2
                else None
            )
            if len(at) < 2:
                note = f"fewer than two {label} categories with enough cases"
            elif result is None:  # e.g. a lowest rate of 0, or no median of the slice itself
                note = f"undefined over the {len(at)} categories of {label} used"
            else:
                note = f"{len(at)} categories of {label} used"
            if waiting_note and key in waiting_in:
                result, note = None, waiting_note
            grain, period, dim, dim_value = key
            rows.append({
                "grain": grain, "period": period, "dim": dim, "dim_value": dim_value, "across": across,
                "value": np.nan if result is None else result, "n": float(n[at].sum()), "note": note,
            })  # fmt: skip
    return pd.DataFrame(rows)


def disparity(values: np.ndarray) -> float | None:
    """Highest over lowest; undefined when the lowest is 0."""
    return float(values.max() / values.min()) if values.min() > 0 else None


def coverage_disparity_ratio(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True, lambda g: disparity(g.value))


def coverage_gini(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True, lambda g: gini(g.value, g.pop))


def coverage_theil(data: CaseData, cells: Cells) -> pd.DataFrame:
    return _across(data, cells["coverage_per_1000"], population_dims(data), True, lambda g: theil(g.value, g.pop))


def _areas(data: CaseData) -> dict[str, str] | None:
    areas = {r.id: r.area for r in data.settings.regions if r.area}
    return areas if areas and len(areas) == len(data.settings.regions) else None


def coverage_theil_between(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Theil T between the larger areas regions nest in (config `regions[].area`)."""
    areas = _areas(data)
    if areas is None:
        return pd.DataFrame()
    return _across(data, cells["coverage_per_1000"], ("region",), True,
                   lambda g: theil_between(g.value, g.pop, _area_of(g.cat, areas)))  # fmt: skip


def coverage_theil_within(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Theil T within areas: the total less the part between them (T decomposes exactly)."""
    areas = _areas(data)
    if areas is None:
        return pd.DataFrame()

    def within(g: Categories) -> float:
        return theil(g.value, g.pop) - theil_between(g.value, g.pop, _area_of(g.cat, areas))

    return _across(data, cells["coverage_per_1000"], ("region",), True, within)


def _area_of(regions: np.ndarray, areas: dict[str, str]) -> np.ndarray:
    return np.array([areas.get(r) for r in regions], dtype=object)


def service_standard_gap(data: CaseData, cells: Cells) -> pd.DataFrame:
    """Highest minus lowest on-time rate across categories, in percentage points."""
    return _across(data, cells["on_time_rate"], data.dims, False,
                   lambda g: float((g.value.max() - g.value.min()) * 100))  # fmt: skip


def timeliness_ratio(data: CaseData, cells: Cells) -> pd.DataFrame:
    """The slowest category's median resolution over the slice's own (the whole population's,
    or the region's within a region)."""

    def ratio(g: Categories) -> float | None:
        if g.own is None or not g.own > 0:
            return None
        return float(g.value.max() / g.own)

    # A category that has not reached its median yet is slower than any figure we could
    # give: the ratio is then unknown, not the (lower) ratio of the others.
    return _across(data, cells["resolution_days_median"], data.dims, False, ratio,
                   waiting_note="a category has not reached its median yet: the slowest is unknown")  # fmt: skip
