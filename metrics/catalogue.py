"""The indicator catalogue: one frozen, typed definition per indicator of METRICS.md.

A definition is data (id, names, unit, direction, version) plus the one function that
computes it. Changing what a function computes means bumping `version`: the new values
start a new series beside the old one instead of silently rewriting published history.

It also declares what each indicator's `n` counts (a `Count`) and the identities between
counts (`IDENTITIES`): small-number suppression (metrics.suppression) reads them to know
which published figures add up to which, so that no suppressed figure can be recovered by
subtraction. These are facts about the definitions, so they live here rather than being
guessed from the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from metrics.indicators import equity, experience, joined_up, timeliness, uptake, volume

Unit = Literal["count", "per_1000", "days", "hours", "proportion", "score", "ratio", "index", "points"]
Direction = Literal["higher_is_better", "lower_is_better", "neutral"]


@dataclass(frozen=True)
class Text:
    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Count:
    """What an indicator's `n` counts, as far as small-number suppression is concerned.

    Indicators whose `n` is the same Count publish the same number in every cell (the cases
    behind cases_opened, coverage_per_1000, resolution_days_median...), so they must hide the
    same cells: suppression is decided per Count, never per indicator, or one indicator would
    show the n another hides.
    """

    id: str
    description: str
    # True when a quarter's n is the sum of its months' n and a year's the sum of its
    # quarters': counts of cases by opening period (cohorts). False for stocks at period end
    # (backlog) and 12-month windows (take-up). ISO weeks do not nest in months, so weeks
    # never add up to anything.
    adds_over_time: bool
    # (count id, dimension): this count is *all* the cases of the parent count in some
    # categories of `dimension` and none in the others, so in a slice of one category of
    # that dimension the two are equal (applications are the cases of entitlement services).
    within: tuple[str, str] | None = None
    # The count this one is a part of (closed cases are some of the cases opened): where the
    # two are equal in a slice they are the same cases, and one must not show what the other hides.
    part_of: str | None = None


@dataclass(frozen=True)
class Identity:
    """In every grain, period and slice, `total` = the sum of `parts` (count ids)."""

    total: str
    parts: tuple[str, ...]
    why: str


CASES = Count("cases", "cases opened in the period", adds_over_time=True)
CLOSED = Count("closed", "cases opened in the period and closed by as_of", adds_over_time=True, part_of="cases")
DETERMINED = Count("determined", "cases opened in the period whose on-time status is determined", adds_over_time=True,
                   part_of="cases")  # fmt: skip
FIRST_RESPONSES = Count("first_responses", "cases opened in the period with a first response", adds_over_time=True,
                        part_of="cases")  # fmt: skip
RATINGS = Count("ratings", "ratings of cases opened in the period", adds_over_time=True, part_of="cases")
KEYED = Count("keyed_cases", "cases opened in the period with a citizen key", adds_over_time=True, part_of="cases")
HANDOFF_CASES = Count("handoff_cases", "cases opened in the period with at least one handoff", adds_over_time=True,
                      part_of="cases")  # fmt: skip
DIRECT_CASES = Count("direct_cases", "cases opened in the period without a handoff", adds_over_time=True,
                     part_of="cases")  # fmt: skip
APPLICATIONS = Count(
    "applications", "applications (cases of entitlement programmes) opened in the period", adds_over_time=True,
    within=("cases", "service"), part_of="cases",
)  # fmt: skip
DECIDED = Count("decided", "applications opened in the period and decided by as_of", adds_over_time=True,
                part_of="applications")  # fmt: skip
BACKLOG = Count("backlog", "cases open at the period's end", adds_over_time=False)
ELIGIBLE = Count("eligible", "people eligible for an entitlement in the window's year", adds_over_time=False)

COUNTS: dict[str, Count] = {
    c.id: c
    for c in (CASES, CLOSED, DETERMINED, FIRST_RESPONSES, RATINGS, KEYED, HANDOFF_CASES, DIRECT_CASES,
              APPLICATIONS, DECIDED, BACKLOG, ELIGIBLE)
}  # fmt: skip

# Identities between the counts of different indicators. Those within one count follow from
# the dimensions and `Count.adds_over_time` (categories add up to the whole, combined slices
# to single ones, months to quarters); backlog_age's bands are a dimension of the backlog, and
# backlog_overdue's n is the backlog itself, so both share backlog_open's count.
IDENTITIES: tuple[Identity, ...] = (
    Identity(
        "cases", ("handoff_cases", "direct_cases"),
        "every case has had a handoff or has not",
    ),
)  # fmt: skip


# How many months a period of each grain spans (a week is less than one).
GRAIN_MONTHS = {"week": 0, "month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class MetricDefinition:
    id: str
    name: Text
    description: Text
    formula: str
    unit: Unit
    direction: Direction
    version: int
    family: Literal["equal_service", "timeliness", "rights_uptake", "citizen", "joined_up"]
    n_means: str  # what `n` counts, which decides suppression
    count: Count  # the same, for suppression: indicators with one Count hide the same cells
    compute: Callable[..., pd.DataFrame]
    # Indicators computed across the categories of a dimension from other indicators'
    # cells: `compute(data, cells_by_metric)`; `requires` names those indicators. Their `n`
    # is the sum of the n of the categories used, a count of `requires[0]`'s Count.
    requires: tuple[str, ...] = ()
    # Dimensions whose categories all rest on the n of the slice they split, instead of
    # splitting it (rating_share: each score's share rests on all the period's ratings).
    n_whole_dims: tuple[str, ...] = ()
    # Kaplan-Meier figures: open cases count as waiting until as_of, so a later as_of can
    # change a period's figure with no case changing (metrics.incremental checks them).
    censored: bool = False
    # A curve rather than one figure: the days at which it is read, each point a cell with
    # the day in a pseudo-dimension of `n_whole_dims`. Its figures are shares, not times, so
    # metrics.incremental tells which points a later as_of can move by these days instead.
    curve_days: tuple[int, ...] = ()
    # Each period's figure covers the `window_months` to its end (take-up: the 12 months to
    # it). At a shorter grain neighbouring figures share most of their cases, so tests that
    # assume independent points (XmR signals, before/after) must not be run on them.
    window_months: int = 0

    @property
    def is_across(self) -> bool:
        return bool(self.requires)

    def overlaps(self, grain: str) -> bool:
        """Whether consecutive figures at `grain` cover overlapping windows of time."""
        return self.window_months > GRAIN_MONTHS.get(grain, 0)


CATALOGUE_LIST: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        id="cases_opened",
        name=Text("Cases opened", "新开案件数"),
        description=Text("How many cases residents opened in the period.", "本期居民新开的案件数量。"),
        formula="count of cases whose local opening date falls in the period",
        unit="count",
        direction="neutral",
        version=1,
        family="equal_service",
        n_means="cases opened",
        count=CASES,
        compute=volume.cases_opened,
    ),
    MetricDefinition(
        id="coverage_per_1000",
        name=Text("Cases per 1,000 residents", "每千名居民案件数"),
        description=Text(
            "How much each area or group uses the service, allowing for its size. Large "
            "differences can mean some residents are not reached.",
            "按人口规模调整后各地区或群体使用服务的程度。差异过大可能意味着部分居民未被覆盖。",
        ),
        formula="cases_opened / population of the slice for the period's year × 1000 (exact Poisson interval)",
        unit="per_1000",
        direction="neutral",
        version=1,
        family="equal_service",
        n_means="cases opened",
        count=CASES,
        compute=volume.coverage_per_1000,
    ),
    MetricDefinition(
        id="resolution_days_median",
        name=Text("Median days to resolve", "办结天数中位数"),
        description=Text(
            "Half of the cases are resolved within this many days. Cases still open count "
            "as waiting so far, so long waits are not hidden.",
            "一半案件在此天数内办结。尚未办结的案件按已等待时间计入，不隐藏长时间等待。",
        ),
        formula="Kaplan-Meier median of closed_at - opened_at in days, open cases censored at as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="cases opened",
        count=CASES,
        compute=timeliness.resolution_days_median,
        censored=True,
    ),
    MetricDefinition(
        id="resolution_days_median_closed",
        name=Text("Median days to resolve (closed cases only)", "办结天数中位数（仅已办结）"),
        description=Text(
            "The plain median over closed cases, as many reports publish it. It is biased "
            "low: cases still waiting are left out.",
            "仅按已办结案件计算的中位数，许多报告采用此口径。由于未计入仍在等待的案件，数值偏低。",
        ),
        formula="median of closed_at - opened_at in days over cases closed by as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="closed cases",
        count=CLOSED,
        compute=timeliness.resolution_days_median_closed,
    ),
    MetricDefinition(
        id="on_time_rate",
        name=Text("Settled within the statutory deadline", "法定时限内办结率"),
        description=Text(
            "Share of cases settled within their legal deadline in working days, among "
            "cases whose outcome against the deadline is known.",
            "在结果已可判定的案件中，于法定工作日时限内办结的比例。",
        ),
        formula="on-time cases / determined cases; due = N working days after the (rolled-forward) local opening date",
        unit="proportion",
        direction="higher_is_better",
        version=1,
        family="timeliness",
        n_means="determined cases",
        count=DETERMINED,
        compute=timeliness.on_time_rate,
    ),
    MetricDefinition(
        id="backlog_open",
        name=Text("Open cases (backlog)", "未结案件（积压）"),
        description=Text(
            "Cases opened by the end of the period and not yet closed then.",
            "截至期末已开立但尚未办结的案件数。",
        ),
        formula="cases with opened_at <= period end and (closed_at is null or closed_at > period end)",
        unit="count",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="open cases",
        count=BACKLOG,
        compute=timeliness.backlog_open,
    ),
    MetricDefinition(
        id="satisfied_share",
        name=Text("Satisfied residents", "满意度"),
        description=Text(
            "Share of residents who answered the survey with 4 or 5 out of 5. Only a "
            "minority answers; the number of responses is shown.",
            "回答满意度调查并给出4或5分（满分5分）的居民比例。仅少数居民作答，并显示答卷数。",
        ),
        formula="ratings >= 4 / ratings",
        unit="proportion",
        direction="higher_is_better",
        version=1,
        family="citizen",
        n_means="ratings",
        count=RATINGS,
        compute=experience.satisfied_share,
    ),
    MetricDefinition(
        id="uptake_rate",
        name=Text("Benefit take-up", "福利领取率"),
        description=Text(
            "Share of the people entitled to a benefit who received it in the last 12 "
            "months. The rest are missing out on their rights.",
            "有资格领取福利的人中，过去12个月实际获得的比例。其余的人未能享受应得权利。",
        ),
        formula="distinct people granted in the 12 months to the period's end / eligible people that year",
        unit="proportion",
        direction="higher_is_better",
        version=1,
        family="rights_uptake",
        n_means="eligible people",
        count=ELIGIBLE,
        compute=uptake.uptake_rate,
        window_months=12,
    ),
    MetricDefinition(
        id="resolution_days_p90",
        name=Text("Days within which 90% are resolved", "90%案件办结天数"),
        description=Text(
            "Nine in ten cases are resolved within this many days: the long waits that a median hides.",
            "九成案件在此天数内办结，反映中位数掩盖的长时间等待。",
        ),
        formula="smallest t with Kaplan-Meier S(t) <= 0.1, open cases censored at as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="cases opened",
        count=CASES,
        compute=timeliness.resolution_days_p90,
        censored=True,
    ),
    MetricDefinition(
        id="still_open_share",
        name=Text("Share still open, by days since opening", "按开立天数计仍未办结的比例"),
        description=Text(
            "Of the cases opened in the period, the share still not resolved a given number of days after "
            "opening: the whole curve that the median and the 90% figure are two points of. Cases still "
            "open count as waiting so far.",
            "本期开立的案件中，开立若干天后仍未办结的比例：中位数和90%办结天数只是这条曲线上的两个点。"
            "尚未办结的案件按已等待时间计入。",
        ),
        formula=f"Kaplan-Meier S(t) of closed_at - opened_at in days, open cases censored at as_of, at t = "
        f"{', '.join(map(str, timeliness.SURVIVAL_DAYS))} (dimension {timeliness.SURVIVAL_DIM})",
        unit="proportion",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="cases opened",
        count=CASES,
        compute=timeliness.still_open_share,
        n_whole_dims=(timeliness.SURVIVAL_DIM,),
        censored=True,
        curve_days=timeliness.SURVIVAL_DAYS,
    ),
    MetricDefinition(
        id="first_response_hours_median",
        name=Text("Median hours to first response", "首次回复小时数中位数"),
        description=Text(
            "How long residents wait for a first reply, among cases that have had one.",
            "在已获回复的案件中，居民等待首次回复的时间。",
        ),
        formula="median of first_response_at - opened_at in hours over cases with a first response",
        unit="hours",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="cases with a first response",
        count=FIRST_RESPONSES,
        compute=timeliness.first_response_hours_median,
    ),
    MetricDefinition(
        id="backlog_overdue",
        name=Text("Open cases past their deadline", "逾期未结案件"),
        description=Text(
            "Of the cases open at the end of the period, those already past their statutory deadline.",
            "期末未结案件中已超过法定时限的案件数。",
        ),
        formula="cases open at the period's end whose due date is before its last day",
        unit="count",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="open cases (backlog_open)",
        count=BACKLOG,
        compute=timeliness.backlog_overdue,
    ),
    MetricDefinition(
        id="unclaimed_estimate",
        name=Text("People missing out on benefits", "未领取福利人数"),
        description=Text(
            "Estimated number of people entitled to a benefit who did not receive it in the last 12 months.",
            "估计有资格但过去12个月未获得福利的人数。",
        ),
        formula="eligible people that year - distinct people granted in the 12 months to the period's end",
        unit="count",
        direction="lower_is_better",
        version=1,
        family="rights_uptake",
        n_means="eligible people",
        count=ELIGIBLE,
        compute=uptake.unclaimed_estimate,
        window_months=12,
    ),
    MetricDefinition(
        id="grant_rate",
        name=Text("Applications granted", "申请批准率"),
        description=Text(
            "Share of decided benefit applications that were granted.", "已作决定的福利申请中获批的比例。"
        ),
        formula="granted / (granted + refused) applications, by the period the application was made",
        unit="proportion",
        direction="neutral",
        version=1,
        family="rights_uptake",
        n_means="decided applications",
        count=DECIDED,
        compute=uptake.grant_rate,
    ),
    MetricDefinition(
        id="decision_days_median",
        name=Text("Median days to a benefit decision", "福利决定天数中位数"),
        description=Text(
            "Half of benefit applications are decided within this many days; applications still "
            "waiting count as waiting so far.",
            "一半福利申请在此天数内作出决定；仍在等待的申请按已等待时间计入。",
        ),
        formula="Kaplan-Meier median of application to decision (granted or refused); withdrawn and open "
        "applications censored at closing or as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="rights_uptake",
        n_means="applications",
        count=APPLICATIONS,
        compute=uptake.decision_days_median,
        censored=True,
    ),
    MetricDefinition(
        id="repeat_contact_rate",
        name=Text("Repeat contacts", "重复来访率"),
        description=Text(
            "Share of cases where the same resident had already contacted us about the same service in the "
            "30 days before: demand caused by not settling things the first time.",
            "同一居民在此前30天内已就同一服务联系过的案件比例，反映首次未能解决而产生的需求。",
        ),
        formula="cases with a case of the same citizen and service in [t - 30 days, t) / cases with a citizen key",
        unit="proportion",
        direction="lower_is_better",
        version=1,
        family="citizen",
        n_means="cases with a citizen key",
        count=KEYED,
        compute=experience.repeat_contact_rate,
    ),
    MetricDefinition(
        id="first_contact_resolution_rate",
        name=Text("Settled at the first contact", "首次接触解决率"),
        description=Text(
            "Share of closed cases settled without a handoff, never reopened, and with no new case from the "
            "same resident about the same service within 7 days.",
            "已结案件中，未经转办、未重开、且7天内同一居民未就同一服务再次来访的比例。",
        ),
        formula="closed cases with no handoff, no reopening and no new case (same citizen and service) "
        "within 7 days after closing / closed cases",
        unit="proportion",
        direction="higher_is_better",
        version=1,
        family="citizen",
        n_means="closed cases",
        count=CLOSED,
        compute=experience.first_contact_resolution_rate,
    ),
    MetricDefinition(
        id="reopen_rate",
        name=Text("Cases reopened", "重开率"),
        description=Text("Share of closed cases that had to be reopened.", "已结案件中被重新打开的比例。"),
        formula="closed cases reopened at least once / closed cases",
        unit="proportion",
        direction="lower_is_better",
        version=1,
        family="citizen",
        n_means="closed cases",
        count=CLOSED,
        compute=experience.reopen_rate,
    ),
    MetricDefinition(
        id="satisfaction_mean",
        name=Text("Average satisfaction (1-5)", "平均满意度（1-5分）"),
        description=Text(
            "Average score residents gave, from 1 (very dissatisfied) to 5 (very satisfied).",
            "居民给出的平均分，1分为非常不满意，5分为非常满意。",
        ),
        formula="mean rating with a 95% normal interval",
        unit="score",
        direction="higher_is_better",
        version=1,
        family="citizen",
        n_means="ratings",
        count=RATINGS,
        compute=experience.satisfaction_mean,
    ),
    MetricDefinition(
        id="handoff_rate",
        name=Text("Cases passed between departments", "跨部门转办率"),
        description=Text(
            "Share of cases transferred at least once between departments.", "至少在部门间转办一次的案件比例。"
        ),
        formula="cases with at least one handoff / cases",
        unit="proportion",
        direction="lower_is_better",
        version=1,
        family="joined_up",
        n_means="cases opened",
        count=CASES,
        compute=joined_up.handoff_rate,
    ),
    MetricDefinition(
        id="handoff_resolution_days_median",
        name=Text("Median days to resolve, with handoffs", "转办案件办结天数中位数"),
        description=Text(
            "Median days to resolve cases that passed between departments; compare with cases that did not.",
            "跨部门转办案件的办结天数中位数，可与未转办案件比较。",
        ),
        formula="Kaplan-Meier median resolution of cases with handoffs, open cases censored at as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="joined_up",
        n_means="cases with handoffs",
        count=HANDOFF_CASES,
        compute=joined_up.handoff_resolution_days_median,
        censored=True,
    ),
    MetricDefinition(
        id="direct_resolution_days_median",
        name=Text("Median days to resolve, without handoffs", "未转办案件办结天数中位数"),
        description=Text(
            "Median days to resolve cases one department handled alone.", "由单一部门处理的案件办结天数中位数。"
        ),
        formula="Kaplan-Meier median resolution of cases without handoffs, open cases censored at as_of",
        unit="days",
        direction="lower_is_better",
        version=1,
        family="joined_up",
        n_means="cases without handoffs",
        count=DIRECT_CASES,
        compute=joined_up.direct_resolution_days_median,
        censored=True,
    ),
    MetricDefinition(
        id="coverage_disparity_ratio",
        name=Text("Coverage gap: highest to lowest", "覆盖差距：最高与最低之比"),
        description=Text(
            "How many times more cases per resident the most served category has than the least served "
            "(categories with enough cases only). 1 means equal coverage.",
            "案件人均数最高的类别是最低类别的多少倍（仅计案件数足够的类别）。1表示覆盖均等。",
        ),
        formula="max(coverage_per_1000) / min(coverage_per_1000) over categories with n >= min_cell_size",
        unit="ratio",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the categories used",
        count=CASES,
        compute=equity.coverage_disparity_ratio,
        requires=("coverage_per_1000",),
    ),
    MetricDefinition(
        id="coverage_gini",
        name=Text("Coverage inequality (Gini)", "覆盖不平等（基尼系数）"),
        description=Text(
            "Inequality of cases per resident across categories, each resident counted once: 0 is equal "
            "coverage, 1 is all service in one place.",
            "各类别人均案件数的不平等程度，每位居民计一次：0为完全均等，1为全部集中于一处。",
        ),
        formula="sum_i sum_j p_i p_j |r_i - r_j| / (2 P^2 rbar), rbar = sum p_i r_i / P",
        unit="index",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the categories used",
        count=CASES,
        compute=equity.coverage_gini,
        requires=("coverage_per_1000",),
    ),
    MetricDefinition(
        id="coverage_theil",
        name=Text("Coverage inequality (Theil)", "覆盖不平等（泰尔指数）"),
        description=Text(
            "Inequality of cases per resident across categories (0 is equal); unlike Gini it splits "
            "into the part between larger areas and the part within them.",
            "各类别人均案件数的不平等程度（0为均等）；与基尼系数不同，可分解为大区之间与大区内部两部分。",
        ),
        formula="sum_i (p_i/P) (r_i/rbar) ln(r_i/rbar), with 0 ln 0 = 0",
        unit="index",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the categories used",
        count=CASES,
        compute=equity.coverage_theil,
        requires=("coverage_per_1000",),
    ),
    MetricDefinition(
        id="coverage_theil_between",
        name=Text("Coverage inequality between areas (Theil)", "大区之间的覆盖不平等（泰尔）"),
        description=Text(
            "The part of Theil's index due to differences between the larger areas regions belong to.",
            "泰尔指数中由各地区所属大区之间差异造成的部分。",
        ),
        formula="Theil T of the areas' own rates, weighted by area populations",
        unit="index",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the regions used",
        count=CASES,
        compute=equity.coverage_theil_between,
        requires=("coverage_per_1000",),
    ),
    MetricDefinition(
        id="coverage_theil_within",
        name=Text("Coverage inequality within areas (Theil)", "大区内部的覆盖不平等（泰尔）"),
        description=Text(
            "The part of Theil's index due to differences between regions of the same larger area.",
            "泰尔指数中由同一大区内各地区之间差异造成的部分。",
        ),
        formula="coverage_theil - coverage_theil_between (= sum over areas of s_a T_a, s_a the area's share of cases)",
        unit="index",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the regions used",
        count=CASES,
        compute=equity.coverage_theil_within,
        requires=("coverage_per_1000",),
    ),
    MetricDefinition(
        id="service_standard_gap",
        name=Text("Gap in deadlines met", "时限达标率差距"),
        description=Text(
            "Difference, in percentage points, between the category with the highest and the one with "
            "the lowest share of cases settled on time.",
            "按时办结比例最高与最低类别之间的差距（百分点）。",
        ),
        formula="(max - min) of on_time_rate over categories with n >= min_cell_size, x 100",
        unit="points",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the categories used",
        count=DETERMINED,
        compute=equity.service_standard_gap,
        requires=("on_time_rate",),
    ),
    MetricDefinition(
        id="timeliness_ratio",
        name=Text("Slowest category against the whole", "最慢类别与总体之比"),
        description=Text(
            "How many times longer the slowest category's median wait is than everyone's.",
            "最慢类别的等待时间中位数是总体的多少倍。",
        ),
        formula="max over categories (n >= min_cell_size) of resolution_days_median / the whole population's",
        unit="ratio",
        direction="lower_is_better",
        version=1,
        family="equal_service",
        n_means="cases behind the categories used",
        count=CASES,
        compute=equity.timeliness_ratio,
        requires=("resolution_days_median",),
    ),
    MetricDefinition(
        id="backlog_age",
        name=Text("Open cases by time waiting", "未结案件按等待时长"),
        description=Text(
            "Open cases at the end of the period by how long they have been open: 0-7, 8-30, 31-90 and over 90 days.",
            "期末未结案件按已开立时长分组：0-7天、8-30天、31-90天和90天以上。",
        ),
        formula="cases open at the period's end, by calendar days since the local opening date, in bands",
        unit="count",
        direction="lower_is_better",
        version=1,
        family="timeliness",
        n_means="open cases in the band",
        count=BACKLOG,
        compute=timeliness.backlog_age,
    ),
    MetricDefinition(
        id="rating_share",
        name=Text("Ratings by score", "各评分占比"),
        description=Text(
            "The full distribution of satisfaction ratings: the share of responses at each score from 1 to 5.",
            "满意度评分的完整分布：1至5分各占答卷的比例。",
        ),
        formula="ratings equal to s / ratings, for s = 1..5",
        unit="proportion",
        direction="neutral",
        version=1,
        family="citizen",
        n_means="ratings",
        count=RATINGS,
        compute=experience.rating_distribution,
        n_whole_dims=("rating",),
    ),
)

CATALOGUE: dict[str, MetricDefinition] = {m.id: m for m in CATALOGUE_LIST}


def validate_catalogue(defs: tuple[MetricDefinition, ...] = CATALOGUE_LIST) -> Iterator[str]:
    """Every problem with the catalogue itself, all at once."""
    seen: set[str] = set()
    for m in defs:
        if m.id in seen:
            yield f"{m.id}: defined twice"
        seen.add(m.id)
        if not m.id.isidentifier() or m.id != m.id.lower():
            yield f"{m.id}: id must be lower_snake_case"
        if m.version < 1:
            yield f"{m.id}: version must be 1 or more"
        for lang in ("en", "zh"):
            if not m.name.get(lang).strip():
                yield f"{m.id}: no name in {lang}"
            if not m.description.get(lang).strip():
                yield f"{m.id}: no description in {lang}"
        if m.unit == "proportion" and not (m.id.endswith("_rate") or m.id.endswith("_share")):
            yield f"{m.id}: a proportion's id must end in _rate or _share (the export contract relies on it)"
        if m.curve_days and (not m.n_whole_dims or not m.censored):
            yield f"{m.id}: a curve's points all rest on the slice's n and move with as_of (n_whole_dims, censored)"
        if not callable(m.compute):
            yield f"{m.id}: compute is not callable"
        if COUNTS.get(m.count.id) is not m.count:
            yield f"{m.id}: count {m.count.id!r} is not one of COUNTS"
        required = [d for d in defs if d.id in m.requires]
        # An indicator computed across categories adds up its categories' n (suppression relies on it).
        if m.is_across and (not required or required[0].count is not m.count):
            yield f"{m.id}: its count must be that of {m.requires[0]}, whose categories' n it adds up"
    for identity in IDENTITIES:
        for c in (identity.total, *identity.parts):
            if c not in COUNTS:
                yield f"identity {identity.total} = {' + '.join(identity.parts)}: unknown count {c!r}"
    for c in COUNTS.values():
        if c.within is not None and c.within[0] not in COUNTS:
            yield f"count {c.id}: within unknown count {c.within[0]!r}"
        if c.part_of is not None and c.part_of not in COUNTS:
            yield f"count {c.id}: part of unknown count {c.part_of!r}"
