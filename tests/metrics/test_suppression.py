"""Secondary suppression across tables: no suppressed n can be recovered by subtraction.

`leaks` below is a brute-force check written independently of metrics.suppression: it lists
every relation `total = sum of parts` between the figures of a set of cells (categories and
the whole, combined slices and single ones, months and quarters and years, the identities
between indicators, services and departments, indicators across categories) and reports each
one in which exactly one figure is not shown, since subtraction recovers that figure. Every
test runs it on what the suppression shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, insert, select

from metrics import query
from metrics.catalogue import CATALOGUE, CATALOGUE_LIST, validate_catalogue
from metrics.store.db import make_engine, upgrade
from metrics.store.models import MetricCell, RefreshRun
from metrics.suppression import apply, decide, family, suppress
from tests.support import demo_config, run

MIN = 10
MONTHS = [dt.date(2025, m, 1) for m in range(1, 7)]
QUARTERS = [dt.date(2025, 1, 1), dt.date(2025, 4, 1)]
YEAR = dt.date(2025, 1, 1)

# What n counts, per indicator, written out here rather than read from the catalogue, so the
# check does not share the code it checks.
COUNT = {
    "cases_opened": "cases", "coverage_per_1000": "cases", "resolution_days_median": "cases",
    "resolution_days_p90": "cases", "handoff_rate": "cases", "handoff_resolution_days_median": "handoff",
    "direct_resolution_days_median": "direct", "decision_days_median": "applications", "grant_rate": "decided",
    "on_time_rate": "determined", "backlog_open": "backlog", "backlog_overdue": "backlog", "backlog_age": "backlog",
    "satisfied_share": "ratings", "satisfaction_mean": "ratings", "rating_share": "ratings",
    "resolution_days_median_closed": "closed", "first_contact_resolution_rate": "closed", "reopen_rate": "closed",
    "first_response_hours_median": "first_response", "repeat_contact_rate": "keyed",
    "uptake_rate": "eligible", "unclaimed_estimate": "eligible",
    "coverage_disparity_ratio": "cases", "coverage_gini": "cases", "coverage_theil": "cases",
    "coverage_theil_between": "cases", "coverage_theil_within": "cases", "service_standard_gap": "determined",
    "timeliness_ratio": "cases", "still_open_share": "cases",
}  # fmt: skip
# Pseudo-dimensions whose categories all rest on the whole slice's n: each score's share on all
# the ratings, each day of the resolution curve on all the cases opened.
WHOLE = {"rating_share": "rating", "still_open_share": "days"}
OVER_TIME = {"cases", "handoff", "direct", "applications", "decided", "determined", "ratings", "closed",
             "first_response", "keyed"}  # fmt: skip


def test_every_indicator_is_in_the_check() -> None:
    assert set(COUNT) == set(CATALOGUE)
    assert all(CATALOGUE[m].count.adds_over_time == (c in OVER_TIME) for m, c in COUNT.items())


def test_the_catalogue_declares_its_counts_consistently() -> None:
    assert list(validate_catalogue()) == []
    # An indicator across categories adds up the n of what it is computed from: same count.
    wrong = dataclasses.replace(CATALOGUE["coverage_gini"], count=CATALOGUE["on_time_rate"].count)
    defs = tuple(wrong if m.id == "coverage_gini" else m for m in CATALOGUE_LIST)
    assert [p for p in validate_catalogue(defs) if "coverage_gini" in p]


# --- the brute-force check ---------------------------------------------------------------------


def _dims(key: str) -> frozenset[tuple[str, str]]:
    return frozenset(tuple(p.split("=", 1)) for p in key.split("|")) if key else frozenset()  # type: ignore[misc]


def _coarser(period: dt.date, grain: str) -> dt.date:
    return period.replace(month=(period.month - 1) // 3 * 3 + 1) if grain == "quarter" else period.replace(month=1)


def leaks(
    cells: pd.DataFrame, shown: pd.DataFrame, *, used_from: int = MIN,
    departments: dict[str, str] | None = None,
) -> list[str]:  # fmt: skip
    """Each relation between the figures of `cells` (as computed) in which exactly one figure
    is hidden in `shown` (the same cells, suppressed; row for row). `used_from` is the
    threshold the indicators across categories used for their categories."""
    cells = cells.reset_index(drop=True)
    periods = list(pd.to_datetime(cells["period"]).dt.date)
    n: dict[Any, float] = {}
    shown_any: dict[Any, bool] = defaultdict(bool)
    across_cells = []
    by_table: dict[tuple[str, str, dt.date], list[tuple[frozenset[tuple[str, str]], float, bool]]] = defaultdict(list)
    rows = zip(cells["metric"], cells["grain"], periods, cells["dims_key"], cells["across"], cells["n"],
               cells["value"], shown["suppressed"], strict=True)  # fmt: skip
    for i, (metric, grain, period, key, across, k, value, hidden) in enumerate(rows):
        dims = _dims(key)
        if across:
            node: Any = ("across", i)
            across_cells.append((i, metric, grain, period, dims, across))
        else:
            if metric in WHOLE:
                dims = frozenset(p for p in dims if p[0] != WHOLE[metric])
            node = (COUNT[metric], grain, period, dims)
            by_table[(metric, grain, period)].append((dims, k, pd.notna(value)))
        n[node] = k
        shown_any[node] |= not hidden
    relations: list[tuple[str, Any, list[Any]]] = []
    children: dict[Any, list[Any]] = defaultdict(list)
    for node in [x for x in n if x[0] != "across"]:
        count, grain, period, dims = node
        for part in dims:  # the slices sharing all but one dimension add up to that slice
            children[(count, grain, period, dims - {part}, "dim", part[0])].append(node)
        if count in OVER_TIME and grain in ("month", "quarter"):
            for coarse in ("quarter", "year") if grain == "month" else ("year",):
                children[(count, coarse, _coarser(period, coarse), dims, "time", grain)].append(node)
        if count in ("handoff", "direct"):
            children[("cases", grain, period, dims, "identity", "")].append(node)
        if count == "applications" and "service" in dict(dims):
            children[("cases", grain, period, dims, "within", "")].append(node)
        d = dict(dims)
        if departments and "service" in d and "department" not in d and d["service"] in departments:
            d["department"] = departments[d.pop("service")]
            children[(count, grain, period, frozenset(d.items()), "nest", "")].append(node)
    for (count, grain, period, dims, kind, what), parts in children.items():
        total = (count, grain, period, dims)
        if total in n:
            relations.append((f"{kind} {what}", total, parts))
    for i, metric, grain, period, dims, across in across_cells:
        required = CATALOGUE[metric].requires[0]
        # Its categories: the cells of the slice `dims` split further by the dimension across.
        wanted = {d for d, _ in dims} | {across}
        cats = [c for c in by_table[(required, grain, period)] if dims <= c[0] and {d for d, _ in c[0]} == wanted]
        node_of = [(COUNT[required], grain, period, c[0]) for c in cats]
        used = [x for x, c in zip(node_of, cats, strict=True) if c[2] and c[1] >= used_from]
        relations.append(("across used", ("across", i), used))
        whole = (COUNT[required], grain, period, dims)
        if whole in n:
            relations.append(("across rest", whole, [("across", i), *(x for x in node_of if x not in used)]))
    out = []
    for kind, total, parts in relations:
        hidden = [m for m in (total, *parts) if not shown_any[m]]
        if len(hidden) == 1:
            out.append(f"{kind}: {hidden[0]} (n={n[hidden[0]]}) = {total} less {len(parts) - 1} parts shown")
    return out


def hidden_nodes(shown: pd.DataFrame) -> set[tuple[str, str, dt.date, str]]:
    rows = shown[shown["suppressed"]]
    periods = pd.to_datetime(rows["period"]).dt.date
    return set(zip(rows["metric"], rows["grain"], periods, rows["dims_key"], strict=True))


# --- cells written by hand -----------------------------------------------------------------------


def cell(metric: str, period: dt.date, n: float, dims: dict[str, str] | None = None, grain: str = "month",
         across: str = "", value: float | None = 1.0) -> dict[str, Any]:  # fmt: skip
    dims = dims or {}
    return {
        "metric": metric, "definition_version": CATALOGUE[metric].version, "grain": grain, "period": period,
        "dim_names": ",".join(sorted(dims)), "dims_key": "|".join(f"{d}={dims[d]}" for d in sorted(dims)),
        "across": across, "value": value, "n": n, "numerator": None, "denominator": None, "ci_low": None,
        "ci_high": None, "suppressed": False, "note": None,
    }  # fmt: skip


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def counts(
    metric: str, table: dict[tuple[str, ...], dict[dt.date, int]], dim_names: tuple[str, ...],
) -> list[dict[str, Any]]:  # fmt: skip
    """Cells of every grain and every sub-table (the lattice) from counts per combination of
    the dimensions' values and month: what the refresh would store."""
    rows = []
    for r in range(len(dim_names) + 1):
        for sub in itertools.combinations(range(len(dim_names)), r):
            sums: dict[tuple[str, dt.date, tuple[str, ...]], int] = defaultdict(int)
            for values, months in table.items():
                for month, k in months.items():
                    key = tuple(values[i] for i in sub)
                    sums[("month", month, key)] += k
                    sums[("quarter", _coarser(month, "quarter"), key)] += k
                    sums[("year", _coarser(month, "year"), key)] += k
            for (grain, period, key), k in sums.items():
                if k:
                    dims = {dim_names[i]: v for i, v in zip(sub, key, strict=True)}
                    rows.append(cell(metric, period, k, dims, grain))
    return rows


REGIONS = ("North", "South", "East", "West")


def regional(small: dict[tuple[str, dt.date], int] | None = None, metric: str = "cases_opened") -> pd.DataFrame:
    """cases_opened by region for six months, 40 cases a month and region unless `small` says otherwise."""
    table = {(r,): {m: (small or {}).get((r, m), 40) for m in MONTHS} for r in REGIONS}
    return frame(counts(metric, table, ("region",)))


def test_a_month_cannot_be_recovered_from_its_quarter() -> None:
    cells = regional({("North", MONTHS[1]): 4})
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    hidden = hidden_nodes(shown)
    assert ("cases_opened", "month", MONTHS[1], "region=North") in hidden
    # Another month of North in that quarter goes too, else the quarter less two months gives it.
    assert len({m for _, g, m, k in hidden if g == "month" and k == "region=North" and m < QUARTERS[1]}) == 2
    # Totals are kept where parts suffice: the whole population and the quarters stay shown.
    assert not any(k == "" for *_, k in hidden)
    assert not any(g in ("quarter", "year") for _, g, _, _ in hidden)


def test_within_one_table_alone_it_would_leak() -> None:
    """The check does see the leak the old per-table rule left: suppressing in the month
    table alone (the quarter shown in full) gives a month away."""
    cells = regional({("North", MONTHS[1]): 4})
    months_only = suppress(cells[cells["grain"] == "month"], MIN)
    shown = pd.concat([months_only, cells[cells["grain"] != "month"]]).loc[cells.index]
    assert any(leak.startswith("time") for leak in leaks(cells, shown))


def test_snapshots_do_not_add_up_over_time() -> None:
    """A small backlog in one month hides no other month: a stock is not summed over time."""
    table = {(r,): {m: 40 for m in MONTHS} for r in REGIONS}
    table[("North",)][MONTHS[1]] = 3
    cells = frame(counts("backlog_open", table, ("region",)))
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    north = {m for _, g, m, k in hidden_nodes(shown) if k == "region=North"}
    assert north == {MONTHS[1]}


def backlog_cells(open_by_region: dict[str, int], bands: dict[str, int]) -> pd.DataFrame:
    rows = []
    for m in MONTHS[:2]:
        total = sum(open_by_region.values())
        rows.append(cell("backlog_open", m, total))
        rows.append(cell("backlog_overdue", m, total, value=total // 2))
        for r, k in open_by_region.items():
            rows.append(cell("backlog_open", m, k, {"region": r}))
            rows.append(cell("backlog_overdue", m, k, {"region": r}, value=k // 2))
        assert sum(bands.values()) == total
        for band, k in bands.items():
            rows.append(cell("backlog_age", m, k, {"backlog_age": band}))
    return frame(rows)


def test_backlog_age_bands_add_up_to_the_backlog() -> None:
    cells = backlog_cells({"North": 50, "South": 70}, {"0-7 days": 5, "8-30 days": 40, "31-90 days": 45,
                                                       "over 90 days": 30})  # fmt: skip
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    bands = {k for met, _, _, k in hidden_nodes(shown) if met == "backlog_age"}
    assert bands == {"backlog_age=0-7 days", "backlog_age=over 90 days"}  # the smallest other band


def test_backlog_overdue_hides_what_backlog_open_hides() -> None:
    """backlog_overdue's n is the whole backlog, so it must hide exactly the cells
    backlog_open hides, or its n would show the backlog hidden there."""
    cells = backlog_cells({"North": 6, "South": 70, "East": 20}, {"0-7 days": 20, "8-30 days": 40,
                                                                   "31-90 days": 26, "over 90 days": 10})  # fmt: skip
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    by_metric = defaultdict(set)
    for met, g, p, k in hidden_nodes(shown):
        by_metric[met].add((g, p, k))
    assert by_metric["backlog_open"] == by_metric["backlog_overdue"]
    assert {k for _, _, k in by_metric["backlog_open"]} == {"region=North", "region=East"}


def test_cases_with_and_without_handoffs_add_up_to_the_cases() -> None:
    rows = [
        cell(m, MONTHS[0], k)
        for m, k in (
            ("cases_opened", 100),
            ("handoff_resolution_days_median", 6),
            ("direct_resolution_days_median", 94),
        )
    ]
    cells = frame(rows)
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    # The direct median goes (a part), not the cases opened (the total).
    assert {m for m, *_ in hidden_nodes(shown)} == {"handoff_resolution_days_median", "direct_resolution_days_median"}


def test_indicators_of_one_count_hide_the_same_cells() -> None:
    cells = pd.concat([regional({("North", MONTHS[2]): 3}), regional({("North", MONTHS[2]): 3}, "handoff_rate"),
                       regional({("North", MONTHS[2]): 3}, "resolution_days_median")])  # fmt: skip
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    patterns = {m: {h[1:] for h in hidden_nodes(shown) if h[0] == m} for m in set(cells["metric"])}
    assert patterns["cases_opened"] == patterns["handoff_rate"] == patterns["resolution_days_median"]
    assert patterns["cases_opened"]


def test_applications_are_the_cases_of_their_service() -> None:
    rows = [cell("cases_opened", MONTHS[0], 200)]
    for s, k in (("pothole", 150), ("child_benefit", 30), ("pension_credit", 20)):
        rows.append(cell("cases_opened", MONTHS[0], k, {"service": s}))
    rows += [cell("decision_days_median", MONTHS[0], 50)]
    rows += [cell("decision_days_median", MONTHS[0], k, {"service": s}) for s, k in
             (("child_benefit", 30), ("pension_credit", 20))]  # fmt: skip
    rows.append(cell("cases_opened", MONTHS[0], 4, {"service": "housing_benefit"}))
    rows.append(cell("decision_days_median", MONTHS[0], 4, {"service": "housing_benefit"}))
    cells = frame(rows)
    cells.loc[cells["dims_key"] == "", "n"] = [204, 54]
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    hidden = hidden_nodes(shown)
    # child_benefit or pension_credit goes in both indicators alike.
    assert {k for m, _, _, k in hidden if m == "cases_opened"} == {k for m, _, _, k in hidden
                                                                  if m == "decision_days_median"}  # fmt: skip


def test_services_add_up_to_their_department() -> None:
    departments = {"pothole": "Transport", "street_lighting": "Transport", "bin_collection": "Environment",
                   "fly_tipping": "Environment"}  # fmt: skip
    per_service = {"pothole": 40, "street_lighting": 5, "bin_collection": 30, "fly_tipping": 25}
    rows = [cell("cases_opened", MONTHS[0], 100)]
    rows += [cell("cases_opened", MONTHS[0], k, {"service": s}) for s, k in per_service.items()]
    rows += [cell("cases_opened", MONTHS[0], 45, {"department": "Transport"}),
             cell("cases_opened", MONTHS[0], 55, {"department": "Environment"})]  # fmt: skip
    cells = frame(rows)
    nest = {("service", "department"): departments}
    shown = suppress(cells, MIN, nest)
    assert not leaks(cells, shown, departments=departments)
    # Without the nesting, the next smallest service (of another department) would go instead.
    assert leaks(cells, suppress(cells, MIN), departments=departments)


def across_cells(north: int) -> pd.DataFrame:
    sizes = {"North": north, "South": 300, "East": 200, "West": 100}
    rows = [cell("coverage_per_1000", MONTHS[0], sum(sizes.values()))]
    rows += [cell("coverage_per_1000", MONTHS[0], k, {"region": r}) for r, k in sizes.items()]
    rows += [cell("cases_opened", MONTHS[0], sum(sizes.values()))]
    rows += [cell("cases_opened", MONTHS[0], k, {"region": r}) for r, k in sizes.items()]
    used = sum(k for k in sizes.values() if k >= MIN)
    rows += [cell(m, MONTHS[0], used, across="region", value=0.2) for m in ("coverage_gini", "coverage_theil")]
    return frame(rows)


def test_the_n_of_an_indicator_across_categories_is_a_sum_too() -> None:
    """coverage_gini's n is the cases of the regions it used: the whole less that n is the one
    small region left out, so the indices go (parts of "whole = used + left out") rather
    than the whole population's figure."""
    cells = across_cells(north=4)
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    hidden = hidden_nodes(shown)
    assert {(m, k) for m, _, _, k in hidden} == {
        ("cases_opened", "region=North"), ("coverage_per_1000", "region=North"),
        ("cases_opened", "region=West"), ("coverage_per_1000", "region=West"),  # the smallest other region
        ("coverage_gini", ""), ("coverage_theil", ""),
    }  # fmt: skip


def test_an_indicator_across_categories_that_leaves_out_two_stays() -> None:
    cells = across_cells(north=4)
    extra = [cell(m, MONTHS[0], 6, {"region": "Fen"}) for m in ("cases_opened", "coverage_per_1000")]
    cells = pd.concat([cells, frame(extra)], ignore_index=True)
    cells.loc[(cells["dims_key"] == "") & (cells["across"] == ""), "n"] += 6
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    assert not shown.loc[cells["across"] != "", "suppressed"].any()


def test_an_indicator_across_regions_within_an_age_band() -> None:
    """Across regions within each age band (a combined slice): its n is the cases of the
    regions used in that band, so the band less it is the one small region left out."""
    table = {(a, r): {MONTHS[0]: 30} for a in ("18-34", "65+") for r in REGIONS}
    table[("65+", "East")][MONTHS[0]] = 4
    rows = counts("coverage_per_1000", table, ("age_band", "region"))
    rows = [r for r in rows if r["grain"] == "month"]
    rows += [cell("coverage_gini", MONTHS[0], 120, {"age_band": "18-34"}, across="region")]
    rows += [cell("coverage_gini", MONTHS[0], 90, {"age_band": "65+"}, across="region")]
    cells = frame(rows)
    shown = suppress(cells, MIN)
    assert not leaks(cells, shown)
    hidden = hidden_nodes(shown)
    assert ("coverage_gini", "month", MONTHS[0], "age_band=65+") in hidden
    assert ("coverage_gini", "month", MONTHS[0], "age_band=18-34") not in hidden


def test_an_indicator_across_categories_whose_categories_cannot_be_told_is_hidden() -> None:
    cells = across_cells(north=40)
    cells.loc[cells["across"] != "", "n"] = 123  # adds up to no set of regions
    shown = suppress(cells, MIN)
    assert shown.loc[cells["across"] != "", "suppressed"].all()


def test_rating_shares_rest_on_all_ratings() -> None:
    rows = [cell("satisfied_share", MONTHS[0], 8)]
    rows += [cell("rating_share", MONTHS[0], 8, {"rating": str(s)}) for s in range(1, 6)]
    rows += [cell("satisfied_share", MONTHS[1], 80)]
    rows += [cell("rating_share", MONTHS[1], 80, {"rating": str(s)}) for s in range(1, 6)]
    shown = suppress(frame(rows), MIN)
    hidden = hidden_nodes(shown)
    assert {p for _, _, p, _ in hidden} == {MONTHS[0]}
    assert len(hidden) == 6


def test_an_undefined_figure_keeps_saying_why() -> None:
    """A figure with no value (a median not reached) that is suppressed says both."""
    rows = [cell("resolution_days_median", MONTHS[0], 4, value=None), cell("resolution_days_median", MONTHS[1], 40)]
    rows[0]["note"] = "not reached: fewer than half of the cases are resolved"
    shown = suppress(frame(rows), MIN)
    assert shown["note"].tolist() == [
        "not reached: fewer than half of the cases are resolved; suppressed: fewer than 10 cases",
        None,
    ]


def test_a_count_without_an_n_is_not_shown() -> None:
    """Take-up where no eligible population is known has no n but still counts its recipients
    (3 here): nothing shows that count to rest on enough cases. A publisher's rate without
    counts (no numerator, no n) stays."""
    rows = [cell("uptake_rate", MONTHS[0], None, {"region": "North"}, value=None),
            cell("uptake_rate", MONTHS[0], None, {"region": "South"}, value=0.8),
            cell("uptake_rate", MONTHS[0], 400, {"region": "East"}, value=0.5)]  # fmt: skip
    rows[0].update(numerator=3.0, note="no eligible population known for this slice")
    rows[1]["note"] = "published rate; the publisher gives no counts"
    rows[2].update(numerator=200.0, denominator=400.0)
    shown = suppress(frame(rows), MIN)
    assert shown["suppressed"].tolist() == [True, False, False]
    assert shown.loc[0, ["value", "n", "numerator", "denominator"]].isna().all()
    assert shown.loc[0, "note"] == ("no eligible population known for this slice; "
                                    "suppressed: counts resting on an unknown number of cases")  # fmt: skip
    assert shown.loc[1, "value"] == 0.8 and shown.loc[2, "numerator"] == 200


def test_families_join_indicators_tied_by_a_relation() -> None:
    assert set(family("cases_opened")) >= {"coverage_gini", "timeliness_ratio", "handoff_resolution_days_median",
                                           "direct_resolution_days_median", "decision_days_median"}  # fmt: skip
    assert set(family("backlog_open")) == {"backlog_open", "backlog_overdue", "backlog_age"}
    # Counts that are part of the cases opened (determined, keyed, closed...) join their family.
    assert set(family("cases_opened")) >= {"on_time_rate", "service_standard_gap", "repeat_contact_rate",
                                           "reopen_rate", "satisfied_share", "grant_rate"}  # fmt: skip
    assert set(family("uptake_rate")) == {"uptake_rate", "unclaimed_estimate"}


def test_a_part_equal_to_its_whole_hides_with_it() -> None:
    """Every case has a citizen key here, so repeat_contact_rate's n (keyed cases) is the cases
    opened: where a region is small and its sibling hidden to protect it, the sibling's keyed
    count must be hidden too, or the whole less the siblings shown gives the small one away."""
    rows = [cell(m, MONTHS[0], k, {"region": r} if r else None)
            for m in ("cases_opened", "repeat_contact_rate")
            for r, k in (("", 100), ("North", 4), ("South", 40), ("East", 56))]  # fmt: skip
    shown = suppress(frame(rows), MIN)
    hidden = set(zip(shown.loc[shown["suppressed"], "metric"], shown.loc[shown["suppressed"], "dims_key"],
                     strict=True))  # fmt: skip
    assert {("cases_opened", "region=North"), ("repeat_contact_rate", "region=North")} <= hidden
    cases = {k for m, k in hidden if m == "cases_opened"}
    assert cases == {k for m, k in hidden if m == "repeat_contact_rate"} and len(cases) == 2
    # Where the keyed cases are fewer than the cases, they are other figures: no tie.
    rows[4]["n"], rows[6]["n"] = 99, 39  # a case of South without a citizen key
    shown = suppress(frame(rows), MIN)
    keyed = shown[shown["metric"] == "repeat_contact_rate"]
    assert keyed.loc[keyed["suppressed"], "dims_key"].tolist() == ["region=North", "region=South"]
    assert not shown.loc[(shown["metric"] == "cases_opened") & (shown["dims_key"] == ""), "suppressed"].any()


# --- random tables -----------------------------------------------------------------------------


@st.composite
def lattices(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    """A small region x age table over four months (with their quarters and years), all its
    sub-tables, and a threshold."""
    regions = draw(st.integers(1, 3))
    ages = draw(st.integers(1, 3))
    months = MONTHS[:4]
    k = st.integers(0, 25)
    table = {(f"R{r}", f"A{a}"): {m: draw(k) for m in months} for r in range(regions) for a in range(ages)}
    return frame(counts("cases_opened", table, ("age_band", "region"))), draw(st.integers(1, 15))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lattices())
def test_no_random_table_gives_a_suppressed_figure_away(case: tuple[pd.DataFrame, int]) -> None:
    cells, threshold = case
    assume(len(cells) > 0)
    shown = suppress(cells, threshold)
    assert not leaks(cells, shown)
    small = (cells["n"] < threshold).to_numpy()
    assert shown["suppressed"].to_numpy()[small].all()
    assert shown.loc[small, "note"].eq(f"suppressed: fewer than {threshold} cases").all()
    kept = ~shown["suppressed"].to_numpy()
    assert (shown["n"].to_numpy()[kept] == cells["n"].to_numpy()[kept]).all()
    assert shown.loc[shown["suppressed"], ["value", "n"]].isna().all().all()


# --- through the store ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    return engine


def write(engine: Engine, rows: list[dict[str, Any]]) -> int:
    as_of = dt.datetime(2025, 7, 1)
    with engine.begin() as conn:
        values = {"started_at": as_of, "finished_at": as_of, "status": "succeeded", "as_of": as_of, "cells": len(rows)}
        run_id = conn.execute(insert(RefreshRun).values(**values)).inserted_primary_key[0]
        conn.execute(insert(MetricCell), [{**r, "as_of": as_of, "refresh_run_id": run_id} for r in rows])
    return int(run_id)


def combined() -> dict[tuple[str, ...], dict[dt.date, int]]:
    """Age band x region counts with one small combined cell."""
    table = {(a, r): {m: 30 for m in MONTHS} for a in ("18-34", "35-64", "65+") for r in REGIONS}
    table[("65+", "East")][MONTHS[4]] = 3
    return table


def read_all(engine: Engine, metric: str, tables: list[tuple[str, ...]], min_cell_size: int = MIN) -> pd.DataFrame:
    frames = []
    for by in tables:
        for grain in ("month", "quarter", "year"):
            frames.append(query.read_cells(engine, metric, by, grain, min_cell_size=min_cell_size))
    return pd.concat(frames, ignore_index=True)


TABLES = [(), ("region",), ("age_band",), ("region", "age_band")]


def test_combined_slices_add_up_to_single_ones(store: Engine) -> None:
    rows = counts("cases_opened", combined(), ("age_band", "region"))
    write(store, rows)
    shown = read_all(store, "cases_opened", TABLES)
    raw = read_all(store, "cases_opened", TABLES, min_cell_size=0)
    assert len(shown) == len(rows)
    assert not leaks(raw, shown)
    hidden = hidden_nodes(shown)
    assert ("cases_opened", "month", MONTHS[4], "age_band=65+|region=East") in hidden
    # Its row and its column in the combined table each lose another cell, as do the months
    # of its quarter: the single tables can stay whole.
    assert sum(1 for _, g, p, k in hidden if g == "month" and p == MONTHS[4] and "age_band=65+|" in k) >= 2
    assert sum(1 for _, g, p, k in hidden if g == "month" and p == MONTHS[4] and k.endswith("region=East")) >= 2
    assert not any("," not in k and "|" not in k for *_, k in hidden)


def test_every_read_of_a_family_agrees(store: Engine) -> None:
    """Reading one table or another, with or without filters, shows one pattern."""
    write(store, counts("cases_opened", combined(), ("age_band", "region"))
          + counts("resolution_days_median", combined(), ("age_band", "region")))  # fmt: skip
    a = read_all(store, "cases_opened", TABLES)
    b = read_all(store, "resolution_days_median", TABLES)
    assert hidden_nodes(a) and {h[1:] for h in hidden_nodes(a)} == {h[1:] for h in hidden_nodes(b)}
    cut = query.read_cells(store, "cases_opened", ("age_band", "region"), start=MONTHS[4], end=MONTHS[4],
                           values={"region": ["East"]}, min_cell_size=MIN)  # fmt: skip
    assert set(cut.loc[cut["suppressed"], "dims_key"]) == {
        k for _, g, p, k in hidden_nodes(a) if g == "month" and p == MONTHS[4] and k.endswith("region=East")
    }


def test_the_decision_follows_the_store(store: Engine) -> None:
    write(store, counts("cases_opened", combined(), ("age_band", "region")))
    before = hidden_nodes(read_all(store, "cases_opened", TABLES))
    assert before
    with store.begin() as conn:
        conn.execute(MetricCell.__table__.delete())
    write(store, counts("cases_opened", {k: {m: 30 for m in MONTHS} for k in combined()}, ("age_band", "region")))
    assert not hidden_nodes(read_all(store, "cases_opened", TABLES))
    # A different threshold is a different decision, taken from the same stored cells.
    assert hidden_nodes(read_all(store, "cases_opened", TABLES, min_cell_size=31))


def test_a_table_the_decision_did_not_see_is_hidden() -> None:
    cells = regional()
    decision = decide(cells[cells["grain"] != "year"], MIN)
    years = cells[cells["grain"] == "year"]
    assert decision.pattern(years).hidden.all()
    assert not decision.pattern(cells[cells["grain"] == "month"]).hidden.any()


# --- the real pipeline ---------------------------------------------------------------------------


COLUMNS = ["metric", "grain", "period", "dims_key", "across", "value", "n", "suppressed", "note"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A store built by the real CLI from 1,500 demo cases (many small cells)."""
    folder = tmp_path_factory.mktemp("suppression-demo")
    config = demo_config(folder)
    run(config, "demo-data", "--cases", "1500", "--out", str(folder / "demo"))
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return create_engine(f"sqlite:///{folder / 'store.db'}")


def test_no_figure_of_the_demo_can_be_recovered(demo: Engine) -> None:
    """Every family of the catalogue as the query layer suppresses it: no relation between
    any of its tables leaves exactly one figure hidden. (Each read applies the same decision
    to its own table; a few reads check that.)"""
    departments = query.nesting(demo)[("service", "department")]
    t = MetricCell.__table__
    checked, hidden = 0, 0
    for fam in sorted({family(m) for m in CATALOGUE}):
        with demo.connect() as conn:
            raw = pd.read_sql(select(*(t.c[c] for c in COLUMNS)).where(t.c.metric.in_(fam)), conn)
        shown = apply(raw, query.suppression_decision(demo, fam[0], MIN).pattern(raw), MIN)
        assert not leaks(raw, shown, departments=departments), fam
        checked += len(raw)
        hidden += int(shown["suppressed"].sum())
        plain = [m for m in fam if not CATALOGUE[m].is_across]
        for metric, by, grain in ((plain[0], ("region",), "week"), (plain[-1], (), "month")):
            read = query.read_cells(demo, metric, by, grain, min_cell_size=MIN)
            table = (shown["metric"] == metric) & (shown["grain"] == grain) & (shown["across"] == "")
            table &= shown["dims_key"].str.fullmatch("region=[^|]*") if by else shown["dims_key"].eq("")
            mine = shown[table].sort_values(["period", "dims_key"])
            assert read["suppressed"].tolist() == mine["suppressed"].tolist(), (metric, by, grain)
    assert checked > 20_000 and hidden > 100


def test_warming_works_out_the_decision_a_later_read_uses(demo: Engine) -> None:
    query._decision.cache_clear()
    query.warm(demo, ["on_time_rate", "cases_opened", "repeat_contact_rate"], MIN)
    warmed = query._decision.cache_info()
    assert warmed.misses == len({family(m) for m in ("on_time_rate", "cases_opened", "repeat_contact_rate")})
    query.read_cells(demo, "cases_opened", by=("region",), min_cell_size=MIN)
    after = query._decision.cache_info()
    assert after.misses == warmed.misses and after.hits == warmed.hits + 1
