"""Rights uptake: the share of eligible people who receive their entitlement.

Take-up statistics are annual (as the UK DWP and the US IRS publish them), so every period
shows an annual figure: people granted an entitlement in the 12 months ending with the
period's last day (or with as_of, for the period still running), over the people eligible
in that year. Periods whose 12-month window
starts before the first case in the store are left out with a note rather than understated.
Weekly figures would repeat the monthly ones to no purpose and are not computed.

Published tables. Recipients may come from the eligible table itself (annual, so the year
grain only), eligible people with a low-high range (as the UK DWP publishes), and for some
publishers only the take-up rate (the US IRS for the EITC by state): such a slice shows the
published rate and its range, with no count and no estimate of people missing out. A row
for region '' is the whole area's own figure (a "National" row): it is used for the whole
population instead of a sum of regions, and never as a region. Published years outside the
span of the case history are shown too, so a take-up series can be longer than the cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import cell_slice, combinations, concat, finish, keyed, opened_period, sum_cells
from metrics.cells import parts as slice_parts
from metrics.indicators.timeliness import km_indicator, proportion
from metrics.periods import period_last_day

UPTAKE_GRAINS = ("month", "quarter", "year")


def uptake_dims(data: CaseData) -> tuple[str, ...]:
    return ("service", "region", *data.settings.groups)


def entitlement_programmes(data: CaseData) -> list[str]:
    return [k for k, v in data.settings.services.items() if v.entitlement]


def uptake_rate(data: CaseData) -> pd.DataFrame:
    return _uptake(data)


def unclaimed_estimate(data: CaseData) -> pd.DataFrame:
    """Eligible people who did not receive their entitlement: the people missing out."""
    df = _uptake(data)
    df["value"] = df["eligible"] - df["numerator"]
    df[["numerator", "denominator"]] = np.nan
    # As a count of people, the range follows the low and high estimates of eligible people.
    df["ci_low"] = df["eligible_low"] - df["recipients"]
    df["ci_high"] = df["eligible_high"] - df["recipients"]
    df.loc[df["value"].isna(), ["ci_low", "ci_high"]] = np.nan
    df.loc[df["eligible"].isna() & df["rate"].notna(), "note"] = "only a rate is published: no count of people"
    return df


def _uptake(data: CaseData) -> pd.DataFrame:
    """Recipients and eligible people per cell (shared by take-up and people missing out)."""
    if "uptake" not in data.memo:
        data.memo["uptake"] = _uptake_cells(data)
    return data.memo["uptake"].copy()  # type: ignore[attr-defined]


def _uptake_cells(data: CaseData) -> pd.DataFrame:
    s = data.settings
    programmes = entitlement_programmes(data)
    c = data.cases
    granted = c[(c["outcome"] == "granted") & c["service"].isin(programmes) & c["closed"]]
    granted = granted.assign(
        person=granted["citizen_key"].fillna("case:" + granted["case_key"]),
        decided=granted["closed_date"].to_numpy().astype("datetime64[D]"),
    ).sort_values("decided", kind="stable")
    people = Grants(granted, _slices(data))
    first_day = data.first_date
    frames = []
    for grain in (g for g in UPTAKE_GRAINS if g in s.metrics.grains):
        periods = data.periods(grain)
        for start, last in zip(periods, period_last_day(grain, periods), strict=True):
            if not data.wanted(grain, start):
                continue
            # The current period is still running: its window ends at as_of, not in the future.
            end = min(last, data.as_of_date)
            window_start = np.datetime64(
                (pd.Timestamp(end) + pd.Timedelta(days=1) - pd.DateOffset(months=12)).date(), "D"
            )
            year = int(str(end)[:4])
            win = (people, people.window(window_start, end))
            for dim in _slices(data):
                frames.append(_cells(data, grain, start, year, dim, win, programmes, window_start < first_day))
        if grain == "year":
            frames += _published_years_before_cases(data, periods)
    df = concat(frames)
    if df.empty:  # no entitlement programme, or no eligible population: no figure at all
        return finish(pd.DataFrame(columns=[*TABLE_COLUMNS, "incomplete"]))
    df = proportion(df, df["recipients"], df["eligible"])
    # Where the eligible population is published with a low and high estimate (as the UK
    # DWP does), take-up is a range: recipients over the high and over the low estimate.
    ranged = df["eligible_low"].notna() & df["eligible_high"].notna() & (df["eligible_low"] > 0)
    df.loc[ranged, "ci_low"] = df.loc[ranged, "recipients"] / df.loc[ranged, "eligible_high"]
    df.loc[ranged, "ci_high"] = df.loc[ranged, "recipients"] / df.loc[ranged, "eligible_low"]
    df.loc[ranged, "note"] = "range from the low and high estimates of eligible people"
    incomplete = df["incomplete"].astype(bool)
    df.loc[incomplete, ["value", "ci_low", "ci_high", "numerator"]] = np.nan
    df.loc[incomplete, "note"] = "fewer than 12 months of cases before this period's end"
    rate_only = df["eligible"].isna() & df["rate"].notna()
    df.loc[df["eligible"].isna() & ~rate_only, "note"] = "no eligible population known for this slice"
    # A published rate without counts: the publisher's figure and range, resting on no count
    # we know (n unknown, not small: the publisher has already protected it).
    df.loc[rate_only, "value"] = df.loc[rate_only, "rate"]
    df.loc[rate_only, "ci_low"] = df.loc[rate_only, "rate_low"]
    df.loc[rate_only, "ci_high"] = df.loc[rate_only, "rate_high"]
    df.loc[rate_only, ["numerator", "denominator", "n", "recipients"]] = np.nan
    df.loc[rate_only, "note"] = "published rate; the publisher gives no counts"
    return df


def _published_years_before_cases(data: CaseData, periods: np.ndarray) -> list[pd.DataFrame]:
    """Year cells for published tables' years before the first case (programmes whose
    recipients or rates are published only: counted ones have no cases then)."""
    e = data.eligible
    published = _published_programmes(data)
    has_years = e["programme"].isin(published)
    if not has_years.any():
        return []
    last = int(str(data.as_of_date)[:4])
    first = int(e.loc[has_years, "year"].min())
    # Every year from the first published one, gaps included: a missing year is shown.
    years = sorted(set(range(first, last + 1)) - {int(str(p)[:4]) for p in periods})
    frames = []
    for year in years:
        start = np.datetime64(f"{year:04d}-01-01", "D")
        for dim in _slices(data):
            frames.append(_cells(data, "year", start, year, dim, None, sorted(published), False))
    return frames


def grant_rate(data: CaseData) -> pd.DataFrame:
    """Granted applications / decided (granted or refused) applications, by opening period."""
    c = data.cases
    applications = c["service"].isin(entitlement_programmes(data)).to_numpy()
    # Decided by as_of: an outcome recorded for a case closed later was not known then.
    decided = applications & c["closed"].to_numpy() & c["outcome"].isin(["granted", "refused"]).to_numpy()
    granted = (c["outcome"] == "granted").to_numpy()
    df = concat([sum_cells(k, decided, granted=granted) for k in keyed(data, opened_period(data))])
    return proportion(df, df["granted"], df["rows"])


def decision_days_median(data: CaseData) -> pd.DataFrame:
    """Kaplan-Meier median of application to decision; an application withdrawn or still
    open is censored at its closing or at as_of."""
    c = data.cases
    applications = c["service"].isin(entitlement_programmes(data)).to_numpy()
    decision = c["closed"].to_numpy() & c["outcome"].isin(["granted", "refused"]).to_numpy()
    return km_indicator(data, applications, decision)


TABLE_COLUMNS = ["eligible", "eligible_low", "eligible_high", "recipients", "rate", "rate_low", "rate_high"]
COUNTS = TABLE_COLUMNS[:4]
RATES = TABLE_COLUMNS[4:]


def _table_sums(e: pd.DataFrame, dim: str) -> pd.DataFrame:
    """Eligible people (with their low/high estimates), published recipients and published
    rates per slice (`dim` one dimension or a combination "a,b"). A programme's whole-area
    row (region '') stands for the programme over all regions, so regions are summed only
    for programmes without one. A table breaks people down by one group attribute at a
    time: a slice of two attributes at once has no eligible figure."""
    names = dim.split(",") if dim else []
    attrs = [d for d in names if d not in ("service", "region")]
    if len(attrs) > 1:
        return pd.DataFrame(columns=TABLE_COLUMNS, dtype=float)
    rows = e[e["attribute"] == (attrs[0] if attrs else "")]
    whole = rows["region"] == ""
    with_whole = rows["programme"].isin(set(rows.loc[whole, "programme"]))
    rows = rows[~whole] if "region" in names else rows[whole | ~with_whole]
    values = {"service": rows["programme"], "region": rows["region"]}
    columns = pd.DataFrame({d: values.get(d, rows["group_value"]).astype(str) for d in names}, index=rows.index)
    # A cell's dim_value: the value itself, or a combined cell's stored key (metrics.cells).
    records = columns.to_dict("records") if names else [{}] * len(rows)
    key = pd.Series([cell_slice(r)[1] for r in records], index=rows.index, dtype=object)
    table = rows.reindex(columns=TABLE_COLUMNS).astype(float)
    grouped = table.groupby(key.to_numpy())
    # min_count: a slice whose rows all lack a figure has none, not 0.
    sums = grouped[COUNTS].sum(min_count=1)
    # A range summed over rows of which some have no estimate would be no range at all.
    complete = grouped[["eligible_low", "eligible_high"]].count().min(axis=1) == grouped.size()
    sums.loc[~complete, ["eligible_low", "eligible_high"]] = np.nan
    # Rates do not add up: a slice has a published rate only where one row gives it.
    single = grouped.size() == 1
    for col in RATES:
        sums[col] = grouped[col].first().where(single)
    return sums


def _year_sums(data: CaseData, year: int, programmes: list[str], dim: str) -> pd.DataFrame:
    """`_table_sums` of one year's rows of some programmes: the same for every period ending
    in that year (twelve months, 52 weeks), so worked out once per refresh."""
    key = ("uptake_year_sums", year, tuple(programmes), dim)
    if key not in data.memo:
        e = data.eligible
        data.memo[key] = _table_sums(e[(e["year"] == year) & e["programme"].isin(programmes)], dim)
    return data.memo[key]  # type: ignore[return-value]


def _slices(data: CaseData) -> tuple[str, ...]:
    """The whole population, each dimension of take-up, and the configured combinations of
    them (other dimensions, such as channel, say nothing about who is eligible)."""
    own = uptake_dims(data)
    combos = [",".join(c) for c in combinations(data) if set(c) <= set(own)]
    return ("", *own, *combos)


class Grants:
    """The grants of a refresh sorted by decision day, each slicing's code per grant and
    a code per person, so that a 12-month window is a range of rows and its distinct people
    per slice one np.unique of (slice, person) codes: a pandas group-by with nunique per
    window and slicing cost more than the rest of the refresh on a million cases."""

    def __init__(self, granted: pd.DataFrame, dims: tuple[str, ...]) -> None:
        self.decided = granted["decided"].to_numpy().astype("datetime64[D]")
        self.person = pd.factorize(granted["person"])[0].astype(np.int64)
        self.people = int(self.person.max()) + 1 if self.person.size else 1
        self.service_codes, self.services = pd.factorize(granted["service"])
        self.codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for dim in dims:
            self.codes[dim] = _slice_codes(granted, dim)

    def window(self, first: np.datetime64, last: np.datetime64) -> tuple[int, int]:
        """The rows decided from `first` to `last`, both included."""
        lo = int(np.searchsorted(self.decided, first, side="left"))
        hi = int(np.searchsorted(self.decided, last, side="right"))
        return lo, hi

    def counted(self, rows: tuple[int, int], services: list[str], dim: str) -> pd.Series:
        """Distinct people granted one of `services` in `rows`, per slice key (every slice
        with a grant; the whole population's key '' even with none)."""
        lo, hi = rows
        wanted = np.isin(self.service_codes[lo:hi], np.flatnonzero(self.services.isin(services)))
        codes, labels = self.codes[dim]
        pairs = np.unique(codes[lo:hi][wanted] * self.people + self.person[lo:hi][wanted])
        per_slice = np.bincount(pairs // self.people, minlength=len(labels))
        if dim == "":
            return pd.Series({"": int(per_slice[0])})
        present = np.flatnonzero(per_slice)
        return pd.Series(per_slice[present], index=labels[present])


def _nobody(dim: str) -> pd.Series:
    """No one granted: the whole population's count is 0, and no slice has one."""
    return pd.Series({"": 0}) if dim == "" else pd.Series(dtype=np.int64)


def _slice_codes(granted: pd.DataFrame, dim: str) -> tuple[np.ndarray, np.ndarray]:
    """Per grant, the code of its slice under `dim` (one dimension, a combination "a,b" or
    '' for everyone), and the slice key of each code (a combination's stored key)."""
    if dim == "":
        return np.zeros(len(granted), dtype=np.int64), np.array([""], dtype=object)
    names = dim.split(",")
    if len(names) == 1:
        codes, labels = pd.factorize(granted[dim])
        return codes.astype(np.int64), np.asarray(labels, dtype=object)
    # Mixed-radix codes of the parts' codes, then factorized: only combinations that occur.
    mixed = np.zeros(len(granted), dtype=np.int64)
    parts = []
    for name in names:
        codes, labels = pd.factorize(granted[name])
        mixed = mixed * max(len(labels), 1) + codes
        parts.append((codes, labels))
    _, first, codes = np.unique(mixed, return_index=True, return_inverse=True)
    keys = [cell_slice({n: labels[c[i]] for n, (c, labels) in zip(names, parts, strict=True)})[1] for i in first]
    return codes.astype(np.int64), np.array(keys, dtype=object)


def _cells(
    data: CaseData,
    grain: str,
    start: np.datetime64,
    year: int,
    dim: str,
    win: tuple[Grants, tuple[int, int]] | None,
    programmes: list[str],
    incomplete: bool,
) -> pd.DataFrame:
    published = _published_programmes(data)
    # Published recipients are annual: they count for the year grain only; otherwise only
    # programmes whose recipients are counted from cases take part.
    counted = [p for p in programmes if p not in published]
    used = programmes if grain == "year" else counted
    e = data.eligible
    table = _year_sums(data, year, used, dim)
    table_recipients = (
        _year_sums(data, year, sorted(published), dim)["recipients"]
        if grain == "year" and published
        else pd.Series(dtype=float)
    )
    recip = pd.Series(dtype=float)
    if "service" not in dim.split(","):
        # People granted a programme whose eligible people are unknown this year have no
        # place in a take-up rate shared with other programmes: they would inflate it.
        known = set(e.loc[(e["year"] == year) & e["eligible"].notna(), "programme"])
        counted = [p for p in counted if p in known]
    if counted:
        recip = win[0].counted(win[1], counted, dim) if win is not None else _nobody(dim)
    idx = table.index.union(recip.index).union(table_recipients.index)
    if dim == "service":
        idx = idx.intersection(pd.Index(used))
    elif "service" in dim.split(","):
        idx = pd.Index([k for k in idx if slice_parts(dim, k)["service"] in used])
    if dim == "" and used:
        # The whole population always has a cell: a year the publisher left out (DWP's FYE
        # 2021) shows as missing with its note, not as a silent gap in the series.
        idx = idx.union(pd.Index([""]))
    if len(idx) == 0:
        return pd.DataFrame()
    eligible = table["eligible"].reindex(idx).to_numpy(dtype=float)
    eligible[eligible <= 0] = np.nan
    # Counted from cases, a slice without grants has 0 recipients; from a table, a slice it
    # does not give has an unknown number (null), never 0.
    counted_part = recip.reindex(idx).fillna(0) if counted else pd.Series(np.nan, index=idx)
    parts = pd.concat([counted_part, table_recipients.reindex(idx)], axis=1)
    recipients = parts.sum(axis=1, min_count=1).to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "grain": grain,
            "period": start,
            "dim": dim,
            "dim_value": idx.astype(str),
            "recipients": recipients,
            "eligible": eligible,
            "incomplete": incomplete and bool(counted),
        }
    )
    if "service" in dim.split(","):  # a published programme's own figure does not wait for case history
        out["incomplete"] &= out["dim_value"].map(lambda k: slice_parts(dim, k)["service"]).isin(counted)
    for col in ("eligible_low", "eligible_high", *RATES):
        out[col] = table[col].reindex(idx).to_numpy(dtype=float)
    # A rate stands only for its own row: summed with counted programmes it would mislead.
    if grain != "year":
        out[RATES] = np.nan
    return out


def _published_programmes(data: CaseData) -> set[str]:
    """Programmes whose recipients come from the reference table rather than from cases
    (asked for every period and slice, so worked out once per refresh)."""
    if "published_programmes" not in data.memo:
        e = data.eligible
        given = e["recipients"].notna() | e["rate"].notna() if len(e) else pd.Series(dtype=bool)
        data.memo["published_programmes"] = set(e.loc[given, "programme"])
    return data.memo["published_programmes"]  # type: ignore[return-value]
