"""The auditors' methodology document, generated from the indicator catalogue.

`render_methodology(lang)` returns Markdown: fixed sections on the conventions every
indicator shares (cohorts, as_of, working days, uncertainty, suppression, missing values,
lineage), then one section per family with every indicator of `metrics.catalogue` in
catalogue order: its names, description, formula, unit, direction, what `n` counts,
version and the indicators it is computed from come from the catalogue itself; its
interval and caveats from the tables below. `docs/methodology.md` is this module's English
output, written by `write()`; a test keeps the two identical, so the document cannot drift
from the catalogue.

Regenerate the document after changing the catalogue or this module:

    .venv/bin/python -m metrics.methodology
    # or: python -c "from metrics.methodology import write; write()"
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

from metrics.catalogue import CATALOGUE_LIST, COUNTS, IDENTITIES, MetricDefinition, Text
from metrics.comparisons import COMPARABLE_UNITS, comparable
from metrics.config import PrivacySettings
from metrics.indicators.experience import FCR_WINDOW, REPEAT_WINDOW
from metrics.indicators.timeliness import BACKLOG_AGE_BANDS, PROVISIONAL_SHARE, SURVIVAL_DAYS, SURVIVAL_DIM
from metrics.indicators.uptake import UPTAKE_GRAINS
from metrics.stats import KM_TOLERANCE

REPO = Path(__file__).resolve().parents[1]
DOC_PATH = REPO / "docs" / "methodology.md"
REGENERATE = '.venv/bin/python -c "from metrics.methodology import write; write()"'

MIN_CELL = PrivacySettings.model_fields["min_cell_size"].default
REPEAT_DAYS = REPEAT_WINDOW.days
FCR_DAYS = FCR_WINDOW.days
PROVISIONAL_PCT = f"{PROVISIONAL_SHARE:.0%}"
KM_TOL = f"{KM_TOLERANCE:.0e}".replace("e-0", "e-")  # 1e-9
CURVE_DAYS = ", ".join(map(str, SURVIVAL_DAYS))

# Families in the order of METRICS.md: (catalogue key, heading, what the family asks).
FAMILIES: tuple[tuple[str, Text, Text], ...] = (
    (
        "equal_service",
        Text("Equal service", "平等服务"),
        Text(
            "Does every resident get the same standard of service, whatever their area or group?",
            "无论居住在哪个地区、属于哪个群体，每位居民是否获得同样标准的服务？",
        ),
    ),
    (
        "timeliness",
        Text("Timeliness", "按时办结"),
        Text(
            "Are cases settled, and settled within their statutory deadline?",
            "案件是否得到办结，是否在法定时限内办结？",
        ),
    ),
    (
        "rights_uptake",
        Text("Rights uptake", "权益获得"),
        Text(
            "Do the people entitled to a benefit actually receive it?",
            "有资格享受福利的人是否真正获得了福利？",
        ),
    ),
    (
        "citizen",
        Text("Citizen orientation", "以居民为中心"),
        Text(
            "Is a matter settled the first time, and are residents satisfied?",
            "事项是否一次办好，居民是否满意？",
        ),
    ),
    (
        "joined_up",
        Text("Joined-up government", "协同政府"),
        Text(
            "How often are residents passed between departments, and what does it cost them in time?",
            "居民被在部门之间转来转去的频率有多高，为此多花了多少时间？",
        ),
    ),
)

UNITS: dict[str, Text] = {
    "count": Text("count (a whole number)", "计数（整数）"),
    "per_1000": Text("cases per 1,000 residents of the slice, for the period", "本期每千名居民案件数"),
    "days": Text("days, fractional (elapsed time, not working days)", "天，可含小数（经过时间，非工作日）"),
    "hours": Text("hours (elapsed time, not working hours)", "小时（经过时间，非工作时间）"),
    "proportion": Text(
        "proportion between 0 and 1 (exported as a fraction, not a percentage)",
        "0至1之间的比例（导出为小数，而非百分数）",
    ),
    "score": Text("mean score on the 1-5 scale", "1-5分制平均分"),
    "ratio": Text("ratio (1 means equal)", "比值（1表示均等）"),
    "index": Text("inequality index (0 means equal)", "不平等指数（0表示均等）"),
    "points": Text("percentage points", "百分点"),
}

DIRECTIONS: dict[str, Text] = {
    "higher_is_better": Text("higher is better", "越高越好"),
    "lower_is_better": Text("lower is better", "越低越好"),
    "neutral": Text(
        "neither: a higher or lower value is not in itself better; read it in context",
        "无优劣方向：数值高低本身不代表好坏，需结合情况解读",
    ),
}

LABELS: dict[str, Text] = {
    "title": Text("Methodology of the civic-metrics indicators", "civic-metrics 指标方法说明"),
    "contents": Text("Indicators at a glance", "指标一览"),
    "formula": Text("Formula", "公式"),
    "unit": Text("Unit", "单位"),
    "direction": Text("Better", "方向"),
    "n": Text("n counts (decides suppression)", "n 的含义（决定是否抑制）"),
    "interval": Text("Interval", "区间"),
    "compared": Text("Compared with the reference group", "与参照组比较"),
    "requires": Text("Computed from", "依据指标"),
    "breakdown": Text("Broken down by", "分解维度"),
    "version": Text("Version", "版本"),
    "caveats": Text("Caveats", "注意事项"),
    "from_cases": Text("the cases directly", "直接由案件计算"),
    "not_count": Text(
        "no: a count depends on the size of the group, not on the service each resident gets",
        "否：计数取决于群体规模，而非每位居民所获的服务",
    ),
    "not_across": Text(
        "no: a summary across categories has no figure per group; compare the figures it summarises",
        "否：跨类别汇总指标没有各群体的数值；请比较其所汇总的各类别数值",
    ),
    "not_by_group": Text(
        "no: not broken down by population group",
        "否：未按人口群体分解",
    ),
    "not_curve": Text(
        "no: every point of a group's curve carries its own interval; compare the groups' curves side by side",
        "否：各群体曲线的每个点都有各自的区间；请并列比较各群体的曲线",
    ),
    "yes_compared": Text(
        "yes, ratio and difference with MOVER 95% intervals (see Uncertainty)",
        "是，比值与差值，附 MOVER 95% 区间",
    ),
    "family_col": Text("Family", "类别"),
    "name_col": Text("Indicator", "指标"),
    "id_col": Text("id", "id"),
    "undocumented": Text("not documented yet", "尚未说明"),
}

# --------------------------------------------------------------------------------------
# The interval each indicator carries, in words (the code is in metrics.stats and the
# indicator modules). Every catalogue id must have an entry; a test checks it.
WILSON = "95% Wilson score interval of numerator over denominator."
KM = (
    "95% interval from the pointwise log-log interval of the Kaplan-Meier curve (Greenwood variance); "
    "the upper limit is null (open above) when the upper curve never falls that far."
)
NONE_COUNT = "none: a count of the cases in the store, not an estimate from a sample."
NONE_ACROSS = (
    "none. The figure summarises several categories' estimates; judge differences between categories "
    "from the categories' own intervals and their comparison with the reference group."
)

INTERVALS: dict[str, str] = {
    "cases_opened": NONE_COUNT,
    "coverage_per_1000": (
        "95% exact (Garwood) Poisson interval of the count, divided by the population, which is taken as known."
    ),
    "resolution_days_median": KM,
    "resolution_days_median_closed": "none: a plain sample median, shown only beside the Kaplan-Meier figure.",
    "on_time_rate": WILSON,
    "backlog_open": NONE_COUNT,
    "satisfied_share": WILSON,
    "uptake_rate": (
        "95% Wilson score interval of recipients over eligible people; where the eligible-population table "
        "gives a low and a high estimate, instead the range recipients / high estimate to recipients / low "
        "estimate (the note says so), because the estimate of eligible people is then the larger uncertainty."
    ),
    "resolution_days_p90": KM,
    "still_open_share": (
        "95% pointwise log-log interval of S(t) with Greenwood's variance (the interval of "
        '`scipy.stats.ecdf(...).sf.confidence_interval(method="log-log")`, the one the medians are read off), '
        "for each day on its own, not for the whole curve at once. Before the first closure S is 1 and the "
        "interval has no width, as scipy's; where S has fallen to 0 it is 0 to 0."
    ),
    "first_response_hours_median": "none: a plain sample median.",
    "backlog_overdue": NONE_COUNT,
    "unclaimed_estimate": "none (its uncertainty is mostly that of the eligible-population estimate).",
    "grant_rate": WILSON,
    "decision_days_median": KM,
    "repeat_contact_rate": WILSON,
    "first_contact_resolution_rate": WILSON,
    "reopen_rate": WILSON,
    "satisfaction_mean": (
        "95% normal interval, mean ± 1.96 s / sqrt(n) with s the sample standard deviation; none for a single rating."
    ),
    "handoff_rate": WILSON,
    "handoff_resolution_days_median": KM,
    "direct_resolution_days_median": KM,
    "coverage_disparity_ratio": NONE_ACROSS,
    "coverage_gini": NONE_ACROSS,
    "coverage_theil": NONE_ACROSS,
    "coverage_theil_between": NONE_ACROSS,
    "coverage_theil_within": NONE_ACROSS,
    "service_standard_gap": NONE_ACROSS,
    "timeliness_ratio": NONE_ACROSS,
    "backlog_age": NONE_COUNT,
    "rating_share": WILSON + " Each score's interval holds for that score alone, not for the five at once.",
}

# Indicators with a comparable unit that are never broken down by a population group.
NO_GROUP_BREAKDOWN = frozenset({"rating_share"})
# Curves: broken down by group, but each day's point is not compared with the reference group.
CURVES = frozenset({"still_open_share"})

# Breakdowns that differ from the default (the whole population and every configured dimension).
ALL_DIMS = Text(
    "the whole population, and each category of every configured dimension (`metrics.dimensions` and the "
    "population-group attributes)",
    "总体，以及各配置维度（`metrics.dimensions` 及人口群体属性）的每个类别",
)
COVERAGE_DIMS = (
    "one value per period for the whole population, across the regions and across each population-group "
    "attribute in turn (named in the export's `across`)"
)
EVERY_DIM = (
    "one value per period for the whole population, across each configured dimension in turn (named in the "
    "export's `across`)"
)
REGIONS_ONLY = "one value per period for the whole population, across the regions"
UPTAKE_DIMS = "the whole population, and by service (programme), region and population-group attribute"
BREAKDOWNS: dict[str, str] = {
    "uptake_rate": UPTAKE_DIMS,
    "unclaimed_estimate": UPTAKE_DIMS,
    "coverage_disparity_ratio": COVERAGE_DIMS,
    "coverage_gini": COVERAGE_DIMS,
    "coverage_theil": COVERAGE_DIMS,
    "coverage_theil_between": REGIONS_ONLY,
    "coverage_theil_within": REGIONS_ONLY,
    "service_standard_gap": EVERY_DIM,
    "timeliness_ratio": EVERY_DIM,
    "backlog_age": "the whole population only, one cell per band of time waiting (dimension `backlog_age`)",
    "rating_share": "the whole population only, one cell per score (dimension `rating`)",
    "still_open_share": (
        f"every slice of the other timeliness indicators, one cell per slice and day (dimension `{SURVIVAL_DIM}`, "
        f"days {CURVE_DAYS}): the whole population's curve is `--by {SURVIVAL_DIM}`, a region's "
        f"`--by {SURVIVAL_DIM} --by region`"
    ),
}

# --------------------------------------------------------------------------------------
# Known caveats per indicator: what an auditor must know to read the figure correctly.
ACROSS_USED = (
    f"Only categories whose own figure rests on n >= `privacy.min_cell_size` (default {MIN_CELL}) cases take "
    "part, so a tiny category neither swings the figure nor exposes a small number; the note says how many "
    "categories were used, and the value is null when fewer than two qualify. Which categories qualify can "
    "change from period to period, so a change in the figure can come from a category entering or leaving."
)
ACROSS_N = (
    "`n` is the number of cases behind the categories used (the sum of their own `n`), not the number of "
    'categories. This departs from METRICS.md, which gives `n` as "categories used": a count of categories '
    "would put almost every value under the suppression threshold and says nothing about how much data the "
    "figure rests on; the number of categories is in the note instead. The whole population's figure less "
    "this `n` is the cases of the categories left out, so where that would give away a suppressed category "
    "(one small category left out alone), the figure is suppressed (see Small-number suppression)."
)
ACROSS_NOISE = (
    "Sampling noise in the categories' figures inflates a spread: the gap between the highest and lowest of "
    "several noisy estimates, and an inequality index over them, are larger on average than the true spread, "
    "most of all when categories are small. No interval is given."
)
COVERAGE_ACROSS = (
    "Computed across the regions and across each population-group attribute (a separate value for each, "
    "named in the export's `across`); METRICS.md names regions for Gini and Theil. Categories without a known "
    'population (typically "Not stated") cannot take part.'
)
COHORT_RECENT = (
    "Figures are by opening period, so the most recent periods are not final: they are revised by every "
    "refresh until their cases settle."
)


def snapshot(*fields: str) -> str:
    """The caveat for fields that carry no timestamp (see Conventions, as_of)."""
    names = " and ".join(f"`{f}`" for f in fields)
    verb = "carries" if len(fields) == 1 else "carry"
    return f"{names} {verb} no timestamp: taken as last loaded, also when `as_of` is set earlier (see Conventions)."


KM_CAVEATS = (
    "Open cases count as waiting so far (censored at `as_of`), so long waits are not hidden; this assumes "
    "that cases still open would, given time, close like comparable cases that did (non-informative "
    "censoring).",
    'Recent cohorts have been observed only briefly: the quantile is null with a "not reached" note until '
    "enough of their cases close, and can never exceed the time they have been observed.",
    "Durations are elapsed time from the stored UTC timestamps (a 36-hour wait is 1.5 days), not working "
    "days; the statutory deadline is measured in working days by `on_time_rate`.",
)
UPTAKE_WINDOW = (
    "Take-up is annual, as take-up statistics are published: every period shows people granted in the 12 "
    "months ending on the period's last day (at `as_of` for the period still running), over the people eligible "
    "in the calendar year in which that window ends. Consecutive monthly values therefore share 11 of their "
    "12 months: they are a rolling annual figure, not monthly take-up. Computed for the grains "
    f"{', '.join(UPTAKE_GRAINS)} only (weekly figures would repeat the monthly ones)."
)
UPTAKE_INCOMPLETE = (
    'A period whose 12-month window starts before the first case in the store is null with a note ("fewer '
    'than 12 months of cases") rather than understated.'
)
UPTAKE_SOURCES = (
    "Recipients are distinct people (by `citizen_key`; a case without one counts as one person) with an "
    "application of an entitlement programme (`services.<name>.entitlement: true`) closed as granted by "
    "`as_of`. For a programme whose recipients are published in the eligible-population table, the published "
    "annual figure is used instead, at the year grain only; at month and quarter grain only programmes counted "
    "from cases take part. People granted a programme whose eligible people are unknown for the year are left "
    "out of every slice they would share with other programmes (they would inflate its rate) and shown only in "
    "their own programme's slice."
)
UPTAKE_PUBLISHED = (
    "Published take-up tables are loaded as published. Where a publisher gives recipients and entitled "
    "non-recipients (the UK DWP), eligible people are their sum and the range of non-recipients gives the range "
    "of eligible people; DWP rounds counts to 10,000 and rates to whole percent, and a rate recomputed from the "
    "rounded counts agrees with the published one within the error those roundings allow (checked in the tests "
    "for every published figure, FYE 2010 to 2024). Where a publisher gives only the rate (the US IRS, EITC by "
    "state), the figure is the published rate and range with `n` unknown (null, not small: the publisher has "
    "applied its own disclosure control), and no count of people missing out is made up. A row for the whole "
    "area (a national row) is the whole population's figure, never a region's and never replaced by a sum of "
    "regions. Published years before the case history are shown, and a year the publisher left out is shown "
    "as missing with a note."
)

CAVEATS: dict[str, tuple[str, ...]] = {
    "cases_opened": (
        "Counts cases, not people: a resident with three requests counts three times.",
        f"A count below `privacy.min_cell_size` (default {MIN_CELL}) is suppressed. A slice with no case in a "
        "period has no record for it, not a record of 0 (see Missing is not zero).",
    ),
    "coverage_per_1000": (
        "The population is that of the slice for the period's calendar year from the population reference "
        "table: a region's residents; a group value's residents summed over regions; everyone for the whole "
        "population and for channels, services and departments (so a channel's figure is per 1,000 of all "
        "residents). A year without figures takes the latest earlier year, and the note names it; with no "
        "population at all the value is null with a note.",
        "The figure is per period, not annualised: a week's, a month's and a year's value are not on the same scale.",
        "Counts cases, not people. Neither direction is better: low coverage can mean residents are not "
        "reached, high coverage can mean failure demand; compare categories (the reference-group comparison "
        "and the equal-service indicators below).",
    ),
    "resolution_days_median": (
        *KM_CAVEATS,
        "Every closure is the event, whatever the outcome (resolved, refused, withdrawn, referred).",
        "Median = the smallest event time t with S(t) <= 0.5, S compared with a tolerance of "
        f"{KM_TOL}, as in METRICS.md.",
    ),
    "resolution_days_median_closed": (
        "Biased low while cases are open: it leaves out exactly the cases that have waited longest. It is "
        "published only because many reports use it, and always beside `resolution_days_median`.",
        "Even when every case is closed it can differ slightly from the Kaplan-Meier median: with an even "
        "number of cases it is the mean of the two middle durations, whereas the Kaplan-Meier median is the "
        "smaller of them.",
        "`n` is the closed cases, so it can be suppressed where the Kaplan-Meier median is not.",
    ),
    "on_time_rate": (
        "Only cases with a deadline count: a service with `deadline_working_days` in config, or a due time "
        "supplied by the source (`due_at`, whose local date then replaces the computed due date). Cases of "
        "other services are in no on-time figure.",
        "The denominator is determined cases (closed, or still open with `as_of` past the due date, which "
        "makes them late). A case closed on its due date is on time.",
        f"Provisional recent cohorts: where more than {PROVISIONAL_PCT} of a cell's cases with a deadline are "
        'not yet determined, the note says "provisional" and gives the share. Such a rate reads high: the '
        "quick cases are settled first, while the slow ones are not determined until their deadline passes.",
        "A cell with no determined case has no record.",
    ),
    "backlog_open": (
        "A stock, not a cohort: all cases open on the period's last day (on `as_of`'s local date for the "
        "period still running), whatever period they were opened in. A case closed on the last day is not "
        "in the backlog; one opened on it is.",
        "Local dates, as for periods. Every slice that has had a case has a record for every later period, "
        f"zero included; a backlog below `privacy.min_cell_size` (default {MIN_CELL}), zero included, shows "
        "as suppressed.",
    ),
    "satisfied_share": (
        "Only residents who answered the survey count, usually a minority; no weighting corrects for who "
        "answers, and the interval does not cover non-response.",
        "By the period the case was opened, not the date of the rating.",
        snapshot("rating"),
    ),
    "uptake_rate": (
        UPTAKE_WINDOW,
        UPTAKE_INCOMPLETE,
        UPTAKE_SOURCES,
        UPTAKE_PUBLISHED,
        "`n` is eligible people, so a figure with few recipients among many eligible people is shown. A "
        "value above 1 (more recipients than the eligible estimate) is shown as computed, not capped: it "
        "points to an eligible estimate that is too low or to recipients counted outside it.",
        "No eligible population known for a slice: null with a note.",
    ),
    "resolution_days_p90": (
        *KM_CAVEATS,
        'Reaching S(t) <= 0.1 needs nine in ten cases closed, so the p90 is "not reached" for more (and '
        "older) cohorts than the median, and its interval is more often open above.",
    ),
    "still_open_share": (
        *KM_CAVEATS[::2],
        f"The curve is stored at {CURVE_DAYS} days after opening (elapsed days, fractional durations): a "
        "point is S at that day, the share of the period's cases estimated to be still open then, computed "
        "with the same estimator, cases and censoring as `resolution_days_median`. The median is the first "
        "closure time at which S falls to 0.5, so S is at most 0.5 at every stored day from the median on, "
        "and above it at every stored day before.",
        "A day later than the longest time any case of the cohort has been followed (the oldest open case's "
        "wait, or the last closure) is null with the note \"not known\", not carried forward, unless every "
        "case has closed by then (then 0): recent cohorts have points only up to their age.",
        "`n` is the cases of the cohort, the same for every day of a slice's curve, so a slice's curve is "
        "shown or suppressed whole, exactly where `resolution_days_median` is. Late points rest on the few "
        "cases still followed then, and their intervals widen accordingly; the number at risk is not "
        "published, as it can be small.",
        COHORT_RECENT,
    ),
    "first_response_hours_median": (
        "A plain median over the cases that have had a first response by `as_of`: cases still waiting for "
        "one are left out, so, like the closed-only median, it is biased low while replies are outstanding. "
        "It is not a Kaplan-Meier estimate, and METRICS.md defines it this way.",
        "Elapsed hours from the UTC timestamps, not working hours: a request made on Friday evening and "
        "answered on Monday morning waited about 60 hours.",
    ),
    "backlog_overdue": (
        "Of the cases open on the period's last day (or `as_of`), those whose due date is before that day. "
        "Cases without a deadline are never overdue.",
        "`n` is the whole backlog of the slice, as METRICS.md sets it, so an overdue count below "
        f"`privacy.min_cell_size` (default {MIN_CELL}) is shown when the backlog it belongs to is large enough, "
        "and so is the rest of the backlog (`n` less the value, the same as `backlog_open` less this figure). "
        "It is suppressed exactly where `backlog_open` is.",
    ),
    "unclaimed_estimate": (
        "Eligible people minus recipients, over the same annual window as `uptake_rate` (see there); null "
        "where the take-up window is incomplete or no eligible population is known.",
        "An estimate: it inherits every error of the eligible-population table, and is negative when "
        "recipients exceed the eligible estimate.",
    ),
    "grant_rate": (
        "By the period the application was opened. Decided means closed by as_of with an outcome of granted "
        "or refused; withdrawn, referred and undecided applications are left out.",
        COHORT_RECENT + " Here the decisions that come quickly are in first, so if grants and refusals take "
        "different times the rate of recent periods leans towards the quicker one.",
        snapshot("outcome"),
        "Neither direction is better: a high grant rate can mean fair treatment or lax checking, a low one "
        "the reverse or many ill-founded applications.",
    ),
    "decision_days_median": (
        "The event is a decision (closed as granted or refused). An application withdrawn, referred or "
        "closed otherwise is censored at its closing, as if it could still have been decided: a competing "
        "outcome treated as censoring, which tends to make the median read low where many withdraw.",
        *KM_CAVEATS[1:],
    ),
    "repeat_contact_rate": (
        f"A case counts as a repeat when the same citizen (`citizen_key`) opened a case of the same service in "
        f"the {REPEAT_DAYS} days before it, `[t - {REPEAT_DAYS} days, t)`; exact ties are ordered by `case_key`. "
        "Only cases with a citizen key count, in numerator and denominator.",
        f"Cases opened in the first {REPEAT_DAYS} days of the data cannot see their whole window, so the first "
        "periods read low.",
        "Depends on the pseudonymous key being the same for a person across channels and sources; where it is "
        "not, repeats are missed.",
    ),
    "first_contact_resolution_rate": (
        f"Settled at first contact: closed, no handoff, never reopened, and no new case from the same citizen "
        f"about the same service in the {FCR_DAYS} days after closing (strictly after, up to and including "
        f"{FCR_DAYS} days).",
        f"Closures in the last {FCR_DAYS} days before `as_of` have not had their whole window yet, so the most "
        "recent periods read high until it has passed.",
        "A closed case without a `citizen_key` cannot be checked for a return and counts as settled when it "
        "meets the other conditions, so the rate reads high where keys are missing.",
        snapshot("handoffs", "reopened"),
    ),
    "reopen_rate": (
        "The denominator is cases closed by `as_of`; a case reopened and open again is not closed, so it "
        "falls out of both numerator and denominator and the rate reads low while reopened cases are open.",
        "Recent cohorts have had less time to be reopened. " + snapshot("reopened"),
    ),
    "satisfaction_mean": (
        "Treats the 1-5 scale as evenly spaced; `satisfied_share` gives the same ratings without that assumption.",
        "Only residents who answered the survey count; no weighting corrects for who answers, and the "
        "interval does not cover non-response. By the period the case was opened.",
        snapshot("rating"),
    ),
    "handoff_rate": (
        "All cases opened in the period are the denominator, open ones included; cases still open may yet be "
        "transferred, so recent periods read low.",
        snapshot("handoffs"),
    ),
    "handoff_resolution_days_median": (
        *KM_CAVEATS,
        "Read it beside `direct_resolution_days_median`. The difference is not the cost of a handoff alone: "
        "transferred cases are often harder to begin with. Membership of the group also depends on time: a "
        "case open longer has had more time to be transferred, which pushes this median up and the direct "
        "one down.",
    ),
    "direct_resolution_days_median": (
        *KM_CAVEATS,
        "A case counted here while open may still be transferred later and move to the other group; see "
        "`handoff_resolution_days_median`.",
    ),
    "coverage_disparity_ratio": (
        ACROSS_USED,
        ACROSS_N,
        COVERAGE_ACROSS,
        "Depends only on the two extreme categories, so it is the most sensitive of the coverage measures to "
        "one unusual category. " + ACROSS_NOISE,
    ),
    "coverage_gini": (
        ACROSS_USED,
        ACROSS_N,
        COVERAGE_ACROSS,
        "Population-weighted (each resident counts once), so it cannot reach 1 with few categories: its "
        "maximum is 1 minus the population share of the category holding all service.",
        ACROSS_NOISE,
    ),
    "coverage_theil": (
        ACROSS_USED,
        ACROSS_N,
        COVERAGE_ACROSS,
        "Unbounded above (at most ln(P / p_k) when all service is in category k); more sensitive than Gini "
        "to differences among the best-served categories.",
        ACROSS_NOISE,
    ),
    "coverage_theil_between": (
        "Computed across regions only, and only when every configured region names its larger area in "
        "config (`regions[].area`); otherwise the indicator has no records.",
        ACROSS_USED,
        "`n` is the number of cases behind the regions used (see `coverage_disparity_ratio`).",
        "Uses the regions that qualify; an area's rate is computed from its qualifying regions only.",
    ),
    "coverage_theil_within": (
        "Computed across regions only, and only when every region names its area (`regions[].area`).",
        "The remainder `coverage_theil` - `coverage_theil_between`, so the two parts add up exactly to the "
        "regions' Theil index of the same period.",
        "`n` is the number of cases behind the regions used (see `coverage_disparity_ratio`).",
    ),
    "service_standard_gap": (
        ACROSS_USED.replace("cases take", "determined cases take"),
        ACROSS_N,
        "Computed across every configured dimension (`metrics.dimensions` and the population-group "
        "attributes). The categories' own on-time rates carry their provisional notes, which apply here too.",
        ACROSS_NOISE,
    ),
    "backlog_age": (
        "Time waiting is counted in calendar days from the local opening date to the period's last day (to "
        "`as_of`'s local date for the period still running), in the bands "
        f"{', '.join(label for _, _, label in BACKLOG_AGE_BANDS)}: calendar days, not working days, and not "
        "measured against the case's deadline (that is `backlog_overdue`).",
        "The same stock as `backlog_open`: the bands of a period add up to the whole population's backlog.",
        "`n` is the count in the band: a band below `privacy.min_cell_size` (default "
        f"{MIN_CELL}), zero included, is suppressed, and since the bands add up to the backlog shown beside "
        "them, secondary suppression then hides another band too. Every band has a record in every "
        "period.",
    ),
    "rating_share": (
        "One share per score from 1 to 5; a period's five shares add up to 1. The distribution shows what a "
        "mean hides (for example many 1s and many 5s); neither direction is better for a single score.",
        "`n` is all the period's ratings, so the share of a score given by only a few residents is shown "
        "whenever the period has enough ratings in all.",
        "Only residents who answered the survey count; no weighting corrects for who answers. By the period "
        "the case was opened.",
        snapshot("rating"),
    ),
    "timeliness_ratio": (
        ACROSS_USED,
        ACROSS_N,
        "Computed across every configured dimension. Null when the whole population's median is not reached.",
        "Null too when a category with enough cases has not reached its median: it is then slower than any "
        "figure the others give, so the slowest is unknown (the note says so).",
        ACROSS_NOISE,
    ),
}

# --------------------------------------------------------------------------------------
# Fixed sections (English).

INTRO = f"""\
This document states how every indicator of civic-metrics is computed, what its number rests on, and
what can mislead a reader, so that an auditor can check any published figure against the data. It is
generated from the indicator catalogue (`metrics/catalogue.py`) by `metrics/methodology.py`; do not edit
it by hand. After changing the catalogue or the methodology text, regenerate it with

```sh
{REGENERATE}
```

The definitions follow `METRICS.md` (the design document of the indicator catalogue); where they depart
from it, the indicator's caveats say so."""

ZH_NOTE = """\
> 说明：本文件的指标名称、描述、单位与方向为中文；公式、“n 的含义”、区间、分解维度、注意事项以及各通用
> 章节（约定、不确定性、小数抑制、缺失与零、数据血缘）保留英文原文，并以英文为准。"""

CONVENTIONS = """\
## Conventions

- **Case.** One citizen contact or request handled by a public body: a service request, a benefit
  application, a complaint. It is identified by `case_key` (source + source id). Every indicator is a count
  or statistic over cases, except that rights uptake divides by people (the eligible-population reference
  table).
- **Time is stored in UTC; periods are local.** `opened_at`, `first_response_at` and `closed_at` are stored in
  UTC, and durations are measured between them, so days and hours are elapsed time, not working time.
  Periods, working days and due dates use local dates in the configured `timezone`.
- **Periods.** ISO week (Monday to Sunday), calendar month, quarter and year (`metrics.grains`; the month is
  always computed).
- **Cohort, or stock at period end.** A case belongs to the period in which it was opened (its local opening
  date), for every flow indicator: the March figure of median days to resolve describes the cases opened
  in March, however long they took. The backlog indicators are stocks, counted on the period's last day
  (on `as_of`'s local date for the period still running). Rights take-up uses annual windows (see its
  section).
- **Recent periods are provisional.** Because of the cohort view, the cases of a recent period have had
  little time to close, to pass their deadline, to be transferred or reopened. Every refresh recomputes all
  periods from the cases as they stand at `as_of`, so recent values are revised until their cases settle;
  the notes flag the cases known to matter (for example `on_time_rate`'s "provisional").
- **`as_of`, the data cut-off.** `as_of` in config (a time written without an offset is local wall-clock
  time), else the latest `opened_at` or `closed_at` in the store. A case opened after `as_of` is left out; a
  closure or first response after `as_of` is treated as not having happened yet. A case is **open at
  `as_of`** when it was opened at or before `as_of` and not closed at or before it; its duration runs to
  `as_of`, where survival estimates censor it. Every exported figure carries the `as_of` it was computed
  with, so a refresh with an earlier cut-off reproduces what was known then, with one limit: `outcome`,
  `handoffs`, `reopened` and `rating` carry no timestamp, and are taken as last loaded.
- **Working days.** Monday to Friday, minus the public holidays of `calendar.holiday_country` (and
  `calendar.holiday_subdivision`) from the `holidays` package and the dates in `calendar.extra_holidays`,
  plus the dates in `calendar.extra_working_days` (weekend make-up days, as in China; a date listed there is
  a working day even if it is also a holiday).
- **Due date.** `d0` is the local opening date, rolled forward to the first working day on or after it; the
  due date is the `N`-th working day after that, `N` being the service's `deadline_working_days`
  (`numpy.busday_offset(d0, N, roll="forward")` semantics, with make-up days honoured). A case opened on a
  Saturday with `N = 1` rolls to Monday and is due on Tuesday; with `N = 0` it is due on Monday. Where the
  source supplies a due time (`due_at`), its local date replaces the computed one. A case is **on time** if
  its local closing date is on or before the due date, and **determined** once it is closed or `as_of`'s local
  date is past the due date (then it is late).
- **Every grain is computed from the cases.** Each week, month, quarter and year figure is computed directly
  from the case rows it covers, never by averaging or adding figures of shorter periods: a quarter's median
  is not the mean of its months' medians, nor a year's rate the mean of twelve monthly rates. Likewise the
  whole-population figure is computed from all cases, not from the categories' figures.
- **Slices.** Each indicator is computed for the whole population (`dims` is `{}`) and for each category of
  each configured dimension: `metrics.dimensions` (region, channel, service, department) and every
  population-group attribute in `groups`; and for every combination of categories of the dimensions named
  together in `metrics.combinations` (e.g. region x age band, to see gaps within regions), computed from the
  cases like any other slice. A case without a value falls in the category "Not stated", which is a category
  of its own, shown and compared like any other. Residents per combined slice come from the population table
  where it gives them (region x group); two group attributes at once are never given, so such a rate per
  1,000 residents is null with a note. `backlog_age` and `rating_share` keep their own bands and are not
  combined; `still_open_share` adds its day (dimension `days`) to every slice.
- **Durations** are computed exactly from the timestamps (METRICS.md also allows one-minute histograms; they
  are not used)."""

UNCERTAINTY = f"""\
## Uncertainty

Every interval is a 95% interval for random variation, given the data as recorded. It does not cover errors
in the data (wrong dates, missing citizen keys, out-of-date populations) nor non-response to surveys.

- **Proportions** (unit `proportion`): Wilson score interval for `k` of `n`. Unlike the textbook Wald
  interval it stays inside [0, 1] and keeps its coverage for small `n` and for rates near 0 or 1.
- **Cases per 1,000 residents**: exact (Garwood) Poisson interval for the count, from chi-square quantiles,
  divided by the population, which is treated as known.
- **Medians and 90th percentiles of durations** (resolution, decision): from the Kaplan-Meier product-limit
  estimate `S(t)`, open cases censored at `as_of` (censored cases at an event time are still at risk at that
  time). The quantile is the smallest event time `t` with `S(t) <= 0.5` (`<= 0.1` for the 90th percentile),
  comparing with a tolerance of {KM_TOL} so that floating-point products landing on the threshold
  count. Its interval is read off the pointwise 95% log-log interval of `S` with Greenwood's variance (the
  interval of `scipy.stats.ecdf(...).sf.confidence_interval(method="log-log")`): the limits are the times at
  which the lower and upper curves first reach the level. When the upper curve never falls that far the upper
  limit is null (open above) while the quantile itself is known; when `S` never reaches the level, the
  quantile is null with a "not reached" note.
- **The resolution curve** (`still_open_share`): `S(t)` itself at each stored day, with the same pointwise
  log-log interval (not the Wilson interval of other proportions: `S` is a product-limit estimate, not a
  share of `n`).
- **Means** (`satisfaction_mean`): normal interval, mean ± 1.96 s / sqrt(n), `s` the sample standard
  deviation.
- **No interval**: counts of cases (they are not estimates from a sample), the plain medians
  (`resolution_days_median_closed`, `first_response_hours_median`), `unclaimed_estimate`, and the indicators
  computed across categories. Each indicator's section below names its interval.
- **Comparison with a reference group.** Every figure broken down by a population-group attribute is also
  shown against that attribute's reference group (`groups.<name>.reference`): the ratio and the difference,
  each with a 95% interval by MOVER, the method of variance estimates recovery (Zou & Donner 2008), built
  from the two cells' own intervals. For proportions the difference interval is Newcombe's method 10; the
  ratio interval is MOVER-R (Donner & Zou 2012), given only when both values and both lower limits are
  positive. MOVER assumes the two cells are independent, which holds for the disjoint categories of one
  dimension. Only figures that are a level of service each resident gets are compared (units
  {", ".join(f"`{u}`" for u in sorted(COMPARABLE_UNITS))}); counts and the indicators computed across
  categories are not. "Not stated" is compared with the reference like any other group; the reference row
  itself shows ratio 1 and difference 0, untested.
- **What "real gap" means.** `real_gap` is true when the 95% interval of the difference excludes 0 (the
  ratio's interval, whenever it exists, then excludes 1: the two cannot disagree). False means the data are
  consistent with no difference: it is not evidence of equal service, and a small group can have a large
  gap that cannot be told from chance. Null means not tested: a cell suppressed or without a value or
  interval, or no reference-group figure for the period.
- **No correction for multiple comparisons.** Each comparison is tested at the 5% level on its own. With many
  groups, dimensions, indicators and periods, about one comparison in twenty where service is in truth equal
  is flagged as a real gap by chance alone. Look for gaps that persist over periods and show in more than one
  indicator before drawing conclusions; a claim about a whole family of comparisons needs a stricter level
  (for example Bonferroni), which the exports do not apply."""


def _code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds."""
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _counts_table() -> str:
    """The counts behind `n`, from the catalogue: which indicators share one, and whether it
    adds up over time."""
    rows = [
        "| Count | What it counts | Adds up over time | Indicators whose `n` it is |",
        "|---|---|---|---|",
    ]
    for c in COUNTS.values():
        users = [m.id for m in CATALOGUE_LIST if m.count is c]
        if users:
            rows.append(
                f"| {_code(c.id)} | {_cell(c.description)} | {'yes' if c.adds_over_time else 'no'} "
                f"| {', '.join(_code(u) for u in users)} |"
            )
    return "\n".join(rows)


def _identities() -> str:
    """The identities between counts of different indicators, from the catalogue."""
    items = [f"{_code(i.total)} = {' + '.join(_code(p) for p in i.parts)} ({i.why})" for i in IDENTITIES]
    for c in COUNTS.values():
        if c.within is not None:
            parent, dim = c.within
            label = dim.replace("_", " ")
            items.append(f"{_code(c.id)} = {_code(parent)} within each {label} that has any (all its cases count)")
    return "\n".join(
        textwrap.fill(f"- {item};", 110, initial_indent="    ", subsequent_indent="      ") for item in items
    )


SUPPRESSION = f"""\
## Small-number suppression

- **Primary.** A figure resting on fewer than `privacy.min_cell_size` cases (default {MIN_CELL}) is suppressed.
  What `n` counts is stated for every indicator below: cases, determined cases, ratings, eligible people and
  so on.
- **Secondary, across all tables.** A suppressed figure must not be recoverable by subtraction from figures
  shown anywhere: in the same table, at another grain, in another breakdown or in another indicator. The
  counts behind `n` are tied by relations *total = sum of parts*:
  - **slices**: the categories of a dimension add up to the whole population; a combined slice (such as age
    band x region, `metrics.combinations`) adds up, over each of its dimensions, to the slice without that
    dimension (the age bands of a region to the region, the regions of an age band to the age band); the
    bands of `backlog_age` add up to the backlog;
  - **departments**: the services of a department add up to the department (every service whose cases all
    belong to one department);
  - **time**: where `n` counts cases by the period they were opened in (see the table below), the months of
    a quarter add up to the quarter and the quarters of a year to the year. Stocks at the period's end (the
    backlog) and the 12-month windows of take-up do not add up over time, and ISO weeks do not nest in
    months, so none of these are tied over time;
  - **between indicators**: indicators whose `n` is the same count publish the same number in every cell and
    therefore hide the same cells (table below; `backlog_overdue`'s `n` is the backlog itself). Besides:
{_identities()}
  - **indicators computed across categories**: their `n` is the sum of the `n` of the categories used, so the
    categories used add up to it, and it plus the categories left out add up to the slice's own figure.

  Whenever one of these relations has exactly one suppressed member among its total and parts, that member
  could be recovered, so one more member is suppressed: a part rather than the total (totals are the most
  used figures), among the parts the one that closes the most such relations at once, then the one with the
  smallest `n`. This repeats until no relation has exactly one suppressed member, so no suppressed figure can
  be recovered from any one relation (a total less the parts shown). The decision is taken at once over the
  whole family of related tables (every grain, breakdown and related indicator), so every table shows the
  same pattern, whichever is read and in whatever order. It is the standard heuristic for linked tables: it
  does not audit combinations of several relations solved together, which would take an integer program.

{_counts_table()}

- **A count that is part of another hides with it.** Where a count is a subset of another (closed cases,
  determined cases, first responses, ratings, cases with a citizen key, handed-off and direct cases and
  applications are all part of the cases opened; decided applications part of the applications) and the two
  are equal in a cell, publishing the part would publish the hidden whole: such counts are tied to each
  other in secondary suppression, and one equal to a suppressed whole is suppressed too.
- **Counts without `n` are not shown.** A cell that carries a numerator or denominator but no `n` (take-up of a
  programme whose eligible people are not known still counts its recipients) gives no way to tell that its
  counts, and what subtracting them from one another would give, rest on enough people: it is suppressed
  ("counts resting on an unknown number of cases"). A publisher's rate that comes without counts has neither,
  and is shown.
- **A suppressed figure carries no number.** Its value, `n`, numerator, denominator and interval are all null,
  `suppressed` is true, and the note says whether it was primary ("fewer than N cases") or secondary ("would
  reveal a smaller suppressed figure"). It is never shown as 0, and it is not compared with the reference
  group. A secondary suppression can hide a figure of an indicator computed across categories (its `n`
  would give away the category left out), and a month or a category that is not small.
- **Applied at read time, in one place.** The refresh stores every cell as computed; suppression is applied
  where cells are read, in the one query layer (`metrics.query.read_cells`) that the dashboard, the exports,
  the reports and the API all read through. So every reader gets the same protection, and a change of
  `min_cell_size` applies at once without recomputing. The decision for a family is taken once per state of
  the store (refresh run) and threshold, and kept. A filter on periods or category values applies after
  suppression, so a filtered view hides what the full view hides. The store itself holds the unsuppressed
  cells and case rows and must be protected accordingly.
- **Indicators computed across categories** use only categories with `n >= min_cell_size`, so they rest on no
  small number.
- **Limits.** Figures exported at different `as_of` can be differenced (a later export less an earlier one).
  `n` decides suppression: where it counts a larger population than the numerator (`backlog_overdue`,
  `uptake_rate`, `unclaimed_estimate`, `rating_share`, and every proportion), a small numerator, and the
  rest of `n` beside it, can be shown. So the backlog not yet overdue (`backlog_open` less
  `backlog_overdue`) is shown whatever its size: it is `backlog_overdue`'s own `n` less its value."""

MISSING = """\
## Missing is not zero

- **0** is a counted zero: there were cases, and none met the condition (no case reopened, no case overdue).
- **null with `suppressed: true`**: a small number, hidden (see above).
- **null with a note**: the value is undefined, and the note says why: no population or eligible population
  known for the slice, a median or 90th percentile "not reached", fewer than two categories with enough
  cases, an incomplete 12-month take-up window, no reference-group figure for a comparison.
- **No record at all**: no case in that cell. Cells exist only where there are cases, so a region with no case
  opened in a week has no record for that week, not a record of 0. The backlog indicators are the exception:
  every slice that has had a case has a record for every later period, zero included.
- A missing dimension value is the category "Not stated", not a gap.
- When using exports, never replace nulls by 0, and never add or average the categories' figures to get a
  total: read the total (`dims` is `{}`), which is computed from the cases."""

LINEAGE = """\
## Lineage

- **ETL run.** Every load of a source file is an ETL run (table `etl_runs`: job, file, its SHA-256, rows read,
  loaded, new, changed and quarantined, status). Each case row and each reference-table row records the ETL
  run that last wrote it; a case whose source row changed is replaced, and a newly published reference table
  replaces the years it covers. Rows that fail validation are quarantined with their run and reason, not
  dropped silently.
- **Refresh run.** Every metric refresh is a refresh run (table `refresh_runs`: start and finish, status,
  `as_of`, number of cases read and cells written, and the last successful ETL run when it started). Every
  stored cell records its `refresh_run_id` and `as_of`. A refresh replaces the cells of the indicators it
  computes in one transaction, so readers see the old figures or the new ones, never a mixture.
- **Definition version.** Every indicator has a `version` in the catalogue, and every stored cell and exported
  record carries its `definition_version`. Changing what an indicator computes bumps its version: the new
  values start a new series beside the old one instead of silently rewriting published history. Cells of an
  older version stay in the store and are no longer refreshed; reads and exports give the current version.
  A correction of the data (a file loaded again) is not a change of definition: it revises figures within
  the same version, through a new refresh run.
- **Tracing a figure.** An exported record names its indicator, `definition_version` and `as_of`; the stored
  cell behind it names its refresh run, which names the last ETL run before it, which names its source file
  by hash."""


# --------------------------------------------------------------------------------------


def _label(key: str, lang: str) -> str:
    return LABELS[key].get(lang)


def _by_family(defs: Iterable[MetricDefinition]) -> dict[str, list[MetricDefinition]]:
    known = [f for f, _, _ in FAMILIES]
    out: dict[str, list[MetricDefinition]] = {f: [] for f in known}
    for m in defs:
        if m.family not in out:
            raise ValueError(f"{m.id}: family {m.family!r} has no section in the methodology; expected one of {known}")
        out[m.family].append(m)
    return out


def _compared(m: MetricDefinition) -> str:
    """The label key saying whether (and why not) `m` is compared with the reference group."""
    if m.id in NO_GROUP_BREAKDOWN:
        return "not_by_group"
    if m.id in CURVES:
        return "not_curve"
    if comparable(m.unit):
        return "yes_compared"
    return "not_across" if m.is_across else "not_count"


def _indicator(m: MetricDefinition, lang: str) -> list[str]:
    if m.unit not in UNITS or m.direction not in DIRECTIONS:
        raise ValueError(f"{m.id}: unit {m.unit!r} or direction {m.direction!r} is not described in the methodology")
    requires = ", ".join(_code(r) for r in m.requires) if m.requires else _label("from_cases", lang)
    compared = _compared(m)
    breakdown = BREAKDOWNS.get(m.id) or ALL_DIMS.get(lang)
    undocumented = f"({_label('undocumented', lang)})"
    colon = "：" if lang == "zh" else ":"

    def item(key: str, text: str) -> str:
        return f"- **{_label(key, lang)}{colon}** {text}"

    lines = [
        f"### {m.name.get(lang)} ({_code(m.id)})",
        "",
        m.description.get(lang),
        "",
        item("formula", _code(m.formula)),
        item("unit", f"{UNITS[m.unit].get(lang)} ({_code(m.unit)})"),
        item("direction", f"{DIRECTIONS[m.direction].get(lang)} ({_code(m.direction)})"),
        item("n", m.n_means),
        item("interval", INTERVALS.get(m.id, undocumented)),
        item("compared", _label(compared, lang)),
        item("requires", requires),
        item("breakdown", breakdown),
        item("version", str(m.version)),
        f"- **{_label('caveats', lang)}{colon}**",
    ]
    caveats = CAVEATS.get(m.id) or (undocumented,)
    lines += [f"  - {c}" for c in caveats]
    lines.append("")
    return lines


def render(defs: Iterable[MetricDefinition], lang: str = "en") -> str:
    """The methodology document for the definitions `defs` (see `render_methodology`)."""
    if lang not in ("en", "zh"):
        raise ValueError(f"unknown language {lang!r}; expected 'en' or 'zh'")
    defs = list(defs)
    families = _by_family(defs)
    heading = {f: h for f, h, _ in FAMILIES}
    out = [f"# {_label('title', lang)}", ""]
    if lang == "zh":
        out += [ZH_NOTE, ""]
    out += [INTRO, ""]
    out += [f"## {_label('contents', lang)}", ""]
    out += [
        f"| {_label('family_col', lang)} | {_label('name_col', lang)} | {_label('id_col', lang)} "
        f"| {_label('unit', lang)} | {_label('direction', lang)} | n | {_label('version', lang)} |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, members in families.items():
        for m in members:
            out.append(
                f"| {heading[family].get(lang)} | {_cell(m.name.get(lang))} | {_code(m.id)} | {_code(m.unit)} "
                f"| {_code(m.direction)} | {_cell(m.n_means)} | {m.version} |"
            )
    out += ["", CONVENTIONS, "", UNCERTAINTY, "", SUPPRESSION, "", MISSING, "", LINEAGE, ""]
    for family, title, question in FAMILIES:
        out += [f"## {title.get(lang)}", "", question.get(lang), ""]
        for m in families[family]:
            out += _indicator(m, lang)
    return "\n".join(out).rstrip("\n") + "\n"


def render_methodology(lang: str = "en") -> str:
    """The methodology document as Markdown, in English (`"en"`) or with Chinese names and
    descriptions (`"zh"`; the explanatory sections stay in English, with a note saying so)."""
    return render(CATALOGUE_LIST, lang)


def write(path: str | Path | None = None) -> Path:
    """Write the English document to `path` (default docs/methodology.md); returns the path."""
    target = Path(path) if path is not None else DOC_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_methodology("en"), encoding="utf-8", newline="\n")
    return target


if __name__ == "__main__":
    print(f"wrote {write()}")
