"""Citizen orientation: failure demand (repeat contacts), first-contact resolution,
reopened cases, and satisfaction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import concat, keyed, opened_period, sum_cells
from metrics.indicators.timeliness import proportion
from metrics.stats import Z95

REPEAT_WINDOW = pd.Timedelta(days=30)
FCR_WINDOW = pd.Timedelta(days=7)


def share(data: CaseData, mask: np.ndarray, hit: np.ndarray) -> pd.DataFrame:
    df = concat([sum_cells(k, mask, hit=hit) for k in keyed(data, opened_period(data))])
    return proportion(df, df["hit"], df["rows"])


def repeat_flags(cases: pd.DataFrame) -> np.ndarray:
    """True where the same citizen opened a case of the same service in the 30 days before
    (`[t - 30d, t)`; exact ties ordered by case_key)."""
    known = cases["citizen_key"].notna().to_numpy()
    c = cases[known]
    # Sorted codes order as the text they stand for: sorting integers is several times
    # faster than sorting the 64-character pseudonyms themselves.
    person = pd.factorize(c["citizen_key"], sort=True)[0]
    service = pd.factorize(c["service"], sort=True)[0]
    key = pd.factorize(c["case_key"], sort=True)[0]
    opened = c["opened_at"].to_numpy().astype("datetime64[ns]")
    order = np.lexsort((key, opened, service, person))
    p, sv, t = person[order], service[order], opened[order]
    hit = np.zeros(len(c), dtype=bool)
    hit[1:] = (p[1:] == p[:-1]) & (sv[1:] == sv[:-1]) & (t[1:] - t[:-1] <= REPEAT_WINDOW.to_timedelta64())
    flags = np.zeros(len(cases), dtype=bool)
    flags[np.flatnonzero(known)[order]] = hit
    return flags


def repeat_contact_rate(data: CaseData) -> pd.DataFrame:
    c = data.cases
    return share(data, c["citizen_key"].notna().to_numpy(), repeat_flags(c))


def came_back_within(cases: pd.DataFrame, window: pd.Timedelta) -> np.ndarray:
    """True where, after a case closed, the same citizen opened a new case of the same
    service within `window` (the classic sign that the first answer did not settle it).
    "After" is strictly after, so a case closed the instant it opened is not its own return."""
    # One integer per (citizen, service): merge_asof matches integer keys far faster than text.
    person = pd.factorize(cases["citizen_key"].fillna(""))[0].astype(np.int64)
    service, services = pd.factorize(cases["service"])
    pair = person * max(len(services), 1) + service
    c = cases.assign(_group=pair)
    closed = c[c["closed"] & c["citizen_key"].notna()][["_group", "closed_at"]].sort_values("closed_at")
    later = c[c["citizen_key"].notna()][["_group", "opened_at"]].sort_values("opened_at")
    found = pd.merge_asof(
        closed.reset_index(), later.rename(columns={"opened_at": "next_opened"}),
        left_on="closed_at", right_on="next_opened", by="_group", direction="forward",
        tolerance=window, allow_exact_matches=False,
    )  # fmt: skip
    flag = pd.Series(False, index=cases.index)
    flag[found["index"].to_numpy()] = found["next_opened"].notna().to_numpy()
    return flag.to_numpy()


def first_contact_resolution_rate(data: CaseData) -> pd.DataFrame:
    c = data.cases
    closed = c["closed"].to_numpy()
    settled = closed & (c["handoffs"] == 0).to_numpy() & (c["reopened"] == 0).to_numpy()
    settled &= ~came_back_within(c, FCR_WINDOW)
    return share(data, closed, settled)


def reopen_rate(data: CaseData) -> pd.DataFrame:
    c = data.cases
    return share(data, c["closed"].to_numpy(), (c["reopened"] > 0).to_numpy())


def satisfied_share(data: CaseData) -> pd.DataFrame:
    rating = data.cases["rating"]
    return share(data, rating.notna().to_numpy(), (rating >= 4).to_numpy())


def satisfaction_mean(data: CaseData) -> pd.DataFrame:
    """Mean rating (1-5) with a 95% normal interval, from additive sums."""
    rating = data.cases["rating"].astype(float)
    rated = rating.notna().to_numpy()
    r = rating.fillna(0).to_numpy()
    df = concat([sum_cells(k, rated, s1=r, s2=r * r) for k in keyed(data, opened_period(data))])
    n = df["rows"].to_numpy(dtype=float)
    mean = df["s1"].to_numpy() / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, (df["s2"].to_numpy() - n * mean**2) / (n - 1), np.nan)
        half = Z95 * np.sqrt(np.maximum(var, 0) / n)
    df["value"], df["n"] = mean, n
    df["numerator"], df["denominator"] = df["s1"], n
    df["ci_low"], df["ci_high"] = np.minimum(mean - half, mean), np.maximum(mean + half, mean)
    return df


def rating_distribution(data: CaseData) -> pd.DataFrame:
    """Share of the ratings at each score 1-5, one cell per score (dimension `rating`); the
    share rests on all the period's ratings, which decide suppression."""
    rating = data.cases["rating"]
    rated = rating.notna().to_numpy()
    frames = []
    for k in keyed(data, opened_period(data), dims=()):
        scores = {f"s{i}": (rating == i).to_numpy() for i in range(1, 6)}
        cells = sum_cells(k, rated, **scores)
        for i in range(1, 6):
            frames.append(
                cells.assign(dim="rating", dim_value=str(i), hit=cells[f"s{i}"])[
                    ["grain", "period", "dim", "dim_value", "rows", "hit"]
                ]
            )
    df = concat(frames)
    return proportion(df, df["hit"], df["rows"])
