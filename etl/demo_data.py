"""Synthetic export of a fictional case system, for demos and tests.

Writes three CSV files shaped like the nightly export of the Westmark Ministry of Community
Services that config.yaml (``etl.sources``) maps: ``cases.csv`` with the case system's own
column names and codes, and the reference tables ``population.csv`` and ``eligible.csv``.

The data carry patterns that are known in advance, so the dashboard can be checked against
the truth: weekly, seasonal and holiday load; office-hours peaks for phone and in-person
contact; a growing backlog in Housing; a slow rural region (Highmoor) with lower uptake of
entitlement programmes; a group that waits longer (language ``OTH``); repeat contacts;
handoffs and reopened cases; a few malformed rows. Everything is drawn from one
``numpy.random.Generator`` seeded by the caller, so equal arguments give byte-identical files.

Like a real case system's export, ``cases.csv`` also carries each citizen's personal details
(``Customer Name``, ``Address``, ``Phone``, ``NI Number``), which config.yaml marks as
``personal_columns`` so the loader drops them unread. They are fake: names from short lists,
addresses in Westmark's fictional ``WM`` postcode area, telephone numbers from the ranges
Ofcom keeps for drama (never anyone's), and national-insurance-like numbers. They come from
a generator of their own, so the other columns are the same with or without them.

All work is vectorised over cases: 200,000 cases take a few seconds.

Usage: ``python -m etl.demo_data OUT_DIR [--cases N] [--seed S] [--end YYYY-MM-DD]``.
"""

import argparse
import datetime
from dataclasses import dataclass
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

DEFAULT_END = datetime.date(2026, 10, 31)
DATETIME_FORMAT = "%d/%m/%Y %H:%M"

CASE_COLUMNS = [
    "Ref No", "Logged", "First Reply", "Closed On", "Case Type", "Contact Method", "District",
    "Age Group", "Sex", "Disability Flag", "Language", "Status", "Result", "Customer Ref",
    "Customer Name", "Address", "Phone", "NI Number", "Transfers", "Times Reopened", "Satisfaction",
]  # fmt: skip
# The personal details among them (config.yaml's `personal_columns`).
PERSONAL_COLUMNS = ["Customer Name", "Address", "Phone", "NI Number"]
POPULATION_COLUMNS = ["Year", "District", "Breakdown", "Category", "Residents"]
ELIGIBLE_COLUMNS = [
    "Year", "Programme", "District", "Breakdown", "Category", "Eligible", "Eligible Low",
    "Eligible High",
]  # fmt: skip
TOTAL_LABEL = "All residents"
NOT_STATED = "UNK"

_MIN_PER_DAY = 1440
_OFFICE_OPENS = 8 * 60  # staff work 08:00-18:00: replies and closures fall in those hours
_OFFICE_CLOSES = 18 * 60
_OFFICE_DAY = _OFFICE_CLOSES - _OFFICE_OPENS  # working minutes in a working day


# --------------------------------------------------------------------------------------
# The fictional ministry: services, districts, population groups, channels
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Service:
    code: str  # "Case Type" code in the export
    name: str  # canonical service id of config.yaml
    department: str
    deadline_working_days: int
    share: float  # relative intake volume
    median_days: float  # median resolution time in working days (before any slowdown)
    sigma: float  # lognormal spread of the resolution time
    winter: float = 0.0  # seasonal swing of the intake: > 0 peaks in winter, < 0 in summer
    entitlement: bool = False


# Medians and spreads are set so that the share resolved within the statutory deadline is
# 80-95% for most services before the deliberate slowdowns (Highmoor, OTH, Housing trend).
SERVICES: tuple[_Service, ...] = (
    _Service("ENV-BIN", "bin_collection", "Environment", 3, 0.16, 0.6, 1.1, 0.10),
    _Service("ENV-FLY", "fly_tipping", "Environment", 5, 0.06, 1.5, 0.9, -0.15),
    _Service("ENV-NOISE", "noise_complaint", "Environment", 10, 0.05, 3.0, 0.9, -0.35),
    _Service("ENV-PEST", "pest_control", "Environment", 5, 0.04, 1.6, 0.8, -0.50),
    _Service("TRN-POTHOLE", "pothole", "Transport", 5, 0.13, 1.7, 0.9, 0.50),
    _Service("TRN-LIGHT", "street_lighting", "Transport", 5, 0.06, 1.5, 0.9, 0.50),
    _Service("TRN-PERMIT", "parking_permit", "Transport", 10, 0.05, 3.5, 0.7),
    _Service("HSG-REPAIR", "housing_repair", "Housing", 10, 0.08, 3.0, 0.9, 0.25),
    _Service("HSG-APPLY", "housing_application", "Housing", 20, 0.03, 7.0, 0.8),
    _Service("HSG-HOMELESS", "homelessness_support", "Housing", 10, 0.025, 3.0, 0.9, 0.15),
    _Service("SS-HB", "housing_benefit", "Social Security", 20, 0.075, 8.5, 0.6, 0.0, True),
    _Service("SS-CB", "child_benefit", "Social Security", 15, 0.06, 6.0, 0.6, 0.0, True),
    _Service("SS-PC", "pension_credit", "Social Security", 20, 0.05, 8.5, 0.6, 0.05, True),
    _Service("SS-DA", "disability_allowance", "Social Security", 30, 0.04, 13.0, 0.6, 0.0, True),
    _Service("CS-COMPLAINT", "general_complaint", "Customer Services", 20, 0.04, 7.0, 0.9),
)
CASE_TYPES: dict[str, str] = {s.code: s.name for s in SERVICES}
PROGRAMMES: tuple[str, ...] = tuple(s.code for s in SERVICES if s.entitlement)


@dataclass(frozen=True)
class _District:
    name: str
    rural: bool
    residents: int  # in the first calendar year of the history
    growth: float  # yearly population growth
    slowness: float  # resolution-time multiplier


DISTRICTS: tuple[_District, ...] = (
    _District("Northgate", False, 312_486, 0.011, 1.0),
    _District("Riverside", False, 254_113, 0.009, 1.0),
    _District("Harbourside", False, 197_842, 0.012, 1.0),
    _District("Old Town", False, 96_371, 0.006, 1.0),
    _District("Eastfield", False, 227_054, 0.010, 1.0),
    _District("Westmoor", False, 143_268, 0.008, 1.0),
    _District("Southbank", False, 118_519, 0.009, 1.0),
    _District("Millbrook", True, 57_231, 0.004, 1.1),
    _District("Lakeside", True, 38_047, 0.003, 1.1),
    _District("Fenwick", True, 23_866, 0.002, 1.1),
    _District("Greenvale", True, 31_402, 0.003, 1.1),
    _District("Highmoor", True, 45_719, 0.001, 1.8),  # the deliberately slow region
)
_HIGHMOOR = next(i for i, d in enumerate(DISTRICTS) if d.name == "Highmoor")

# Stated categories of each population-group attribute (the not-stated value comes on top).
AGE_GROUPS = ("<25", "25-44", "45-64", "65+")
SEXES = ("F", "M")
DISABILITY = ("Y", "N")
LANGUAGES = ("EN", "ZH", "OTH")
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "Age": (*AGE_GROUPS, NOT_STATED),
    "Sex": (*SEXES, NOT_STATED),
    "Disability": (*DISABILITY, NOT_STATED),
    "Language": (*LANGUAGES, NOT_STATED),
}
_AGE_SHARES = {False: (0.30, 0.32, 0.23, 0.15), True: (0.23, 0.22, 0.28, 0.27)}  # rural older
_LANGUAGE_SHARES = {False: (0.83, 0.07, 0.10), True: (0.94, 0.015, 0.045)}
_FEMALE_SHARE = 0.51
_DISABLED_BY_AGE = np.array([0.05, 0.09, 0.19, 0.36])
_CENSUS_NOT_STATED = 0.03  # census non-response, smaller than in the case system
_OTH = LANGUAGES.index("OTH")

# Share of cases whose citizen left an attribute blank: 5-10%, as in a real front office.
_NOT_STATED_RATE = {"age": 0.07, "sex": 0.06, "disability": 0.09, "language": 0.08}

# Service mix by true age band (<25, 25-44, 45-64, 65+); unlisted services are age-neutral.
_AGE_FACTORS: dict[str, tuple[float, float, float, float]] = {
    "SS-PC": (0.01, 0.01, 0.15, 4.0),
    "SS-CB": (1.2, 2.5, 0.6, 0.05),
    "SS-HB": (1.5, 1.2, 0.9, 0.7),
    "SS-DA": (0.5, 0.7, 1.1, 1.4),
    "HSG-HOMELESS": (2.0, 1.3, 0.8, 0.3),
    "HSG-APPLY": (1.6, 1.3, 0.8, 0.6),
    "TRN-PERMIT": (0.6, 1.2, 1.2, 0.8),
    "ENV-NOISE": (1.3, 1.1, 0.9, 0.8),
}
_RURAL_FACTORS = {
    "TRN-POTHOLE": 1.3, "TRN-LIGHT": 0.7, "ENV-FLY": 1.4, "ENV-NOISE": 0.5,
    "TRN-PERMIT": 0.4, "HSG-REPAIR": 0.7, "HSG-APPLY": 0.7, "HSG-HOMELESS": 0.6,
}  # fmt: skip
_DISABLED_FACTOR = {"SS-DA": (5.0, 0.3)}  # (disabled, not disabled)
_HIGHMOOR_ENTITLEMENT = 0.55  # lower uptake of entitlement programmes in Highmoor

CHANNELS = ("TEL", "WEB", "APP", "F2F", "POST")
# Channel mix at the start and at the end of the history: digital grows, phone/post shrink.
_CHANNEL_START = np.log([0.44, 0.30, 0.08, 0.13, 0.05])
_CHANNEL_END = np.log([0.33, 0.37, 0.19, 0.08, 0.03])
_CHANNEL_BY_AGE = np.array(
    [
        [-0.3, 0.2, 0.7, -0.2, -1.0],
        [0.0, 0.0, 0.2, 0.0, -0.3],
        [0.1, 0.0, -0.3, 0.1, 0.2],
        [0.5, -0.5, -1.3, 0.6, 0.9],
    ]
)
_CHANNEL_NON_ENGLISH = np.array([-0.1, 0.0, 0.0, 0.5, 0.0])  # interpreters at the front desk
_CHANNEL_OFF_DAY = np.array([-0.9, 0.3, 0.3, -3.5, -3.0])  # offices shut, lines reduced
# Intake by hour of day: phone and counters in office hours, web and app around the clock
# with an evening peak, letters logged when the post room opens them.
_HOURS = np.zeros((len(CHANNELS), 24))
_HOURS[0, 8:18] = [0.6, 1.0, 1.0, 0.9, 0.7, 0.8, 0.9, 0.8, 0.6, 0.4]
_HOURS[1] = [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 7, 7, 7, 7, 7, 7, 8, 9, 8, 6, 4]
_HOURS[2] = [3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 5, 5, 5, 6, 7, 8, 9, 10, 9, 7, 5]
_HOURS[3, 9:17] = [0.7, 1.0, 1.0, 0.8, 0.7, 0.9, 0.8, 0.5]
_HOURS[4, 9:17] = 1.0
_REPLY_HOURS = np.array([0.5, 6.0, 5.0, 0.3, 30.0])  # median hours to first reply, by channel

_WEEKDAY_LOAD = np.array([1.18, 1.06, 1.0, 0.97, 0.88, 0.32, 0.24])  # Monday first
_HOLIDAY_LOAD = 0.2
_SEASON_SWING = 0.15  # winter peak, summer dip
_DEMAND_GROWTH = 0.06  # over the whole history

_CITIZENS_PER_CASE = 0.55
_REPEAT_RATE = 0.072  # designed follow-ups; chance coincidences add the rest to ~8%
_TRANSFER_RATE = {
    "Environment": 0.05, "Transport": 0.05, "Housing": 0.18, "Social Security": 0.17,
    "Customer Services": 0.12,
}  # fmt: skip
_REOPEN_RATE = 0.04
_SURVEY_RATE = 0.2
_STUCK_RATE = 0.03  # cases nobody closes, in every real case system
_HOUSING_STUCK = (0.01, 0.14)  # Housing: extra cases left open, at start and growth to end
_HOUSING_SLOWDOWN = 0.9  # log growth of Housing resolution times over the history
_BAD_ROW_RATE = 0.00025  # per kind of defect; four kinds make ~0.1%


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def write_demo_data(
    out_dir: Path,
    cases: int = 200_000,
    seed: int = 0,
    end: datetime.date = DEFAULT_END,
) -> dict[str, Path]:
    """Write cases.csv, population.csv and eligible.csv into ``out_dir``.

    ``cases`` cases are opened over the three years ending on ``end`` (local time); the
    cut-off of the export is the end of that day. Returns the paths by table name.
    """
    if cases < 1:
        raise ValueError("cases must be positive")
    rng = np.random.default_rng(seed)
    cal = _Calendar.build(end)
    profiles = _DistrictProfiles.draw(rng)
    citizens = _Citizens.draw(rng, max(50, round(cases * _CITIZENS_PER_CASE)), profiles)
    personal = _personal_details(np.random.default_rng([seed, 1]), citizens)
    frame = _cases_frame(rng, cal, citizens, cases, personal)
    population = _population_frame(cal, profiles)
    eligible = _eligible_frame(rng, cal, frame)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.csv" for name in ("cases", "population", "eligible")}
    for name, table in (("cases", frame), ("population", population), ("eligible", eligible)):
        table.to_csv(paths[name], index=False, encoding="utf-8", lineterminator="\n")
    return paths


# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    start: datetime.date
    end: datetime.date
    days: np.ndarray  # datetime64[D], every day of the history
    holidays: np.ndarray  # datetime64[D], England public holidays (one year past the end)
    load: np.ndarray  # relative intake per day

    @classmethod
    def build(cls, end: datetime.date) -> "_Calendar":
        start = _years_before(end, 3) + datetime.timedelta(days=1)
        days = np.arange(np.datetime64(start), np.datetime64(end) + 1)
        # One year past the end so that closures after the cut-off can be rolled too.
        hols = holidays.country_holidays("GB", subdiv="ENG", years=range(start.year, end.year + 2))
        hol_days = np.array(sorted(hols), dtype="datetime64[D]")
        return cls(start, end, days, hol_days, _daily_load(days, hol_days))

    @property
    def cutoff_minute(self) -> int:
        """Local minute (since 1970) at the end of the ``end`` day."""
        return (int(self.days[-1].astype(np.int64)) + 1) * _MIN_PER_DAY

    @property
    def years(self) -> list[int]:
        return list(range(self.start.year, self.end.year + 1))

    def progress(self, day_index: np.ndarray) -> np.ndarray:
        """0 at the first day of the history, 1 at the last."""
        return day_index / max(1, len(self.days) - 1)

    def working(self, days: np.ndarray) -> np.ndarray:
        return np.is_busday(days, holidays=self.holidays)


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _day_of_year(days: np.ndarray) -> np.ndarray:
    return (days - days.astype("datetime64[Y]")).astype(np.int64)


def _weekday(days: np.ndarray) -> np.ndarray:
    # 1970-01-01 was a Thursday; shift so that Monday is 0.
    return (days.astype(np.int64) + 3) % 7


def _winter_curve(days: np.ndarray) -> np.ndarray:
    """+1 in mid-January, -1 in mid-July."""
    return np.cos(2 * np.pi * (_day_of_year(days) - 15) / 365.25)


def _daily_load(days: np.ndarray, hol_days: np.ndarray) -> np.ndarray:
    load = _WEEKDAY_LOAD[_weekday(days)]
    load = np.where(np.isin(days, hol_days), np.minimum(load, _HOLIDAY_LOAD), load)
    load = load * (1 + _SEASON_SWING * _winter_curve(days))
    return load * (1 + _DEMAND_GROWTH * np.linspace(0, 1, len(days)))


# --------------------------------------------------------------------------------------
# Districts and citizens
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DistrictProfiles:
    age: np.ndarray  # (district, age band) shares
    language: np.ndarray  # (district, language) shares

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "_DistrictProfiles":
        # Each district departs a little from its urban/rural type so no two look alike.
        age = np.array([_AGE_SHARES[d.rural] for d in DISTRICTS])
        lang = np.array([_LANGUAGE_SHARES[d.rural] for d in DISTRICTS])
        age = _normalise(age * rng.lognormal(0, 0.06, age.shape))
        lang = _normalise(lang * rng.lognormal(0, 0.15, lang.shape))
        return cls(age, lang)

    def shares(self, breakdown: str) -> np.ndarray:
        """(district, category) census shares including the not-stated category."""
        n = len(DISTRICTS)
        if breakdown == "Age":
            stated = self.age
        elif breakdown == "Sex":
            stated = np.tile([_FEMALE_SHARE, 1 - _FEMALE_SHARE], (n, 1))
        elif breakdown == "Disability":
            disabled = self.age @ _DISABLED_BY_AGE
            stated = np.column_stack([disabled, 1 - disabled])
        else:
            stated = self.language
        return np.column_stack([stated * (1 - _CENSUS_NOT_STATED), np.full(n, _CENSUS_NOT_STATED)])


@dataclass(frozen=True)
class _Citizens:
    """A pool of residents who contact the ministry; their cases share these attributes."""

    district: np.ndarray
    age: np.ndarray  # true attributes drive behaviour ...
    disabled: np.ndarray
    language: np.ndarray
    age_code: np.ndarray  # ... stated ones are what the export shows
    sex_code: np.ndarray
    disability_code: np.ndarray
    language_code: np.ndarray
    activity: np.ndarray  # relative propensity to contact the ministry
    pseudonym: np.ndarray  # "Customer Ref"

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, profiles: _DistrictProfiles) -> "_Citizens":
        rural = np.array([d.rural for d in DISTRICTS])
        # Rural residents contact a little less per head: offices are far, needs differ.
        weight = np.array([d.residents for d in DISTRICTS]) * np.where(rural, 0.9, 1.0)
        district = rng.choice(len(DISTRICTS), size=n, p=weight / weight.sum())
        age = _choose_rows(rng, profiles.age[district])
        disabled = rng.random(n) < _DISABLED_BY_AGE[age]
        language = _choose_rows(rng, profiles.language[district])
        female = rng.random(n) < _FEMALE_SHARE
        # Heavy-tailed activity: most people write once, a few many times.
        activity = rng.gamma(0.6, 1.0, n) * np.where(disabled | (age == 3), 1.2, 1.0)
        return cls(
            district=district,
            age=age,
            disabled=disabled,
            language=language,
            age_code=_stated(rng, np.array(AGE_GROUPS)[age], "age", ("UNK", "")),
            sex_code=_stated(rng, np.where(female, "F", "M"), "sex", ("X", "", "", "")),
            disability_code=_stated(rng, np.where(disabled, "Y", "N"), "disability", ("",)),
            language_code=_stated(rng, np.array(LANGUAGES)[language], "language", ("",)),
            activity=activity,
            # Pseudonyms scattered over a large range, as a real key would be.
            pseudonym=_codes("C", rng.choice(10_000_000, size=n, replace=False)),
        )


# --------------------------------------------------------------------------------------
# Personal details: what the export carries and the loader must never store
# --------------------------------------------------------------------------------------

_GIVEN = {
    ("EN", "F"): ("Olivia", "Amelia", "Isla", "Grace", "Emily", "Margaret", "Susan", "Joan", "Hannah", "Chloe"),
    ("EN", "M"): ("Oliver", "George", "Harry", "Jack", "Thomas", "William", "David", "Peter", "James", "Arthur"),
    ("ZH", "F"): ("Fang", "Xiu Ying", "Li Na", "Mei", "Jing", "Yan", "Hui Min", "Xiao Hong"),
    ("ZH", "M"): ("Wei", "Jian", "Hao", "Jun", "Ming", "Qiang", "Lei", "Zhi Peng"),
    ("OTH", "F"): ("Aisha", "Zofia", "Fatima", "Ana", "Amina", "Priya", "Leila", "Ewa"),
    ("OTH", "M"): ("Mohammed", "Piotr", "Ahmed", "Tomasz", "Yusuf", "Rahul", "Omar", "Andrei"),
}
_FAMILY = {
    "EN": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Wright", "Hughes",
           "Roberts", "Clarke", "Hall", "Turner", "Baker", "Fletcher"),
    "ZH": ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"),
    "OTH": ("Kowalski", "Khan", "Nowak", "Hussain", "Popescu", "Ali", "Patel", "Mohamed", "Silva", "Begum"),
}  # fmt: skip
_STREETS = (
    "Mill Lane", "Station Road", "Church Street", "Victoria Road", "Park Avenue", "Queen Street",
    "Harbour Walk", "Moor View", "Orchard Close", "Bridge Street", "Fen Road", "Kingsway",
    "Chapel Row", "Meadow Way", "High Street", "Willow Crescent", "Granary Court", "Lake Drive",
)  # fmt: skip
# Ofcom's numbers for drama (www.ofcom.org.uk): reserved, never given to anyone.
_PHONE_PREFIXES = (
    "07700 900", "020 7946 0", "0113 496 0", "0114 496 0", "0115 496 0", "0116 496 0", "0117 496 0",
    "0118 496 0", "0121 496 0", "0131 496 0", "0141 496 0", "0151 496 0", "0161 496 0", "0191 498 0",
)  # fmt: skip
_NI_FIRST = tuple("ABCEGHJKLMNOPRSTWXYZ")  # not D, F, I, Q, U, V
_NI_SECOND = tuple("ABCEGHJKLMNPRSTWXYZ")  # not O either
_NO_PHONE_RATE = 0.12
_NO_NI_RATE = 0.08


def _personal_details(rng: np.random.Generator, citizens: _Citizens) -> pd.DataFrame:
    """One row per citizen: name, address, phone, national-insurance-like number."""
    n = len(citizens.district)
    language = np.array(("EN", "ZH", "OTH"))[citizens.language]
    stated_sex = citizens.sex_code.astype(str)
    sex = np.where(np.isin(stated_sex, ("F", "M")), stated_sex, np.where(rng.random(n) < 0.5, "F", "M"))
    given = np.empty(n, dtype=object)
    family = np.empty(n, dtype=object)
    for (lang, s), names in _GIVEN.items():
        rows = np.flatnonzero((language == lang) & (sex == s))
        given[rows] = np.array(names, dtype=object)[rng.integers(0, len(names), len(rows))]
    for lang, names in _FAMILY.items():
        rows = np.flatnonzero(language == lang)
        family[rows] = np.array(names, dtype=object)[rng.integers(0, len(names), len(rows))]
    # Chinese names family name first, as their owners write them.
    name = np.where(language == "ZH", family + " " + given, given + " " + family)
    district = citizens.district
    letters = np.array(tuple("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
    postcode = (
        "WM" + (district + 1).astype(str).astype(object) + " " + rng.integers(1, 10, n).astype(str).astype(object)
        + letters[rng.integers(0, len(letters), n)] + letters[rng.integers(0, len(letters), n)]
    )  # fmt: skip
    address = (
        rng.integers(1, 240, n).astype(str).astype(object) + " "
        + np.array(_STREETS, dtype=object)[rng.integers(0, len(_STREETS), n)] + ", "
        + np.array([d.name for d in DISTRICTS], dtype=object)[district] + ", " + postcode
    )  # fmt: skip
    phone = np.array(_PHONE_PREFIXES, dtype=object)[rng.integers(0, len(_PHONE_PREFIXES), n)] + np.char.zfill(
        rng.integers(0, 1000, n).astype(str), 3
    ).astype(object)
    ni = (
        np.array(_NI_FIRST, dtype=object)[rng.integers(0, len(_NI_FIRST), n)]
        + np.array(_NI_SECOND, dtype=object)[rng.integers(0, len(_NI_SECOND), n)]
        + np.char.zfill(rng.integers(0, 1_000_000, n).astype(str), 6).astype(object)
        + np.array(tuple("ABCD"), dtype=object)[rng.integers(0, 4, n)]
    )
    return pd.DataFrame(
        {
            "Customer Name": name,
            "Address": address,
            "Phone": np.where(rng.random(n) < _NO_PHONE_RATE, "", phone).astype(object),
            "NI Number": np.where(rng.random(n) < _NO_NI_RATE, "", ni).astype(object),
        }
    )


def _stated(rng: np.random.Generator, codes: np.ndarray, attribute: str, blanks: tuple[str, ...]) -> np.ndarray:
    """Blank out a share of the codes, written as any of ``blanks`` (systems differ)."""
    codes = codes.astype(object)
    hidden = rng.random(len(codes)) < _NOT_STATED_RATE[attribute]
    codes[hidden] = np.array(blanks, dtype=object)[rng.integers(0, len(blanks), hidden.sum())]
    return codes


# --------------------------------------------------------------------------------------
# Intake: when, who, what
# --------------------------------------------------------------------------------------


@dataclass
class _Intake:
    day: np.ndarray  # index into calendar days
    citizen: np.ndarray
    service: np.ndarray  # index into SERVICES


def _intake(rng: np.random.Generator, cal: _Calendar, citizens: _Citizens, cases: int) -> _Intake:
    n_repeat = round(cases * _REPEAT_RATE) if cases >= 20 else 0
    n_base = cases - n_repeat
    counts = rng.multinomial(n_base, cal.load / cal.load.sum())
    day = np.repeat(np.arange(len(cal.days)), counts)
    citizen = rng.choice(len(citizens.district), size=n_base, p=_normalise(citizens.activity))
    service = _choose_rows(rng, _service_weights(cal.days[day], citizens, citizen))
    base = _Intake(day, citizen, service)
    return _concat(base, _follow_ups(rng, cal, base, n_repeat))


def _service_weights(days: np.ndarray, citizens: _Citizens, citizen: np.ndarray) -> np.ndarray:
    """(case, service) weights given who writes and when."""
    codes = [s.code for s in SERVICES]
    weights = np.tile([s.share for s in SERVICES], (len(citizen), 1))
    age_table = np.array([_AGE_FACTORS.get(c, (1.0,) * 4) for c in codes]).T
    weights *= age_table[citizens.age[citizen]]
    for code, (yes, no) in _DISABLED_FACTOR.items():
        weights[:, codes.index(code)] *= np.where(citizens.disabled[citizen], yes, no)
    district = citizens.district[citizen]
    rural = np.array([d.rural for d in DISTRICTS])[district]
    rural_table = np.array([_RURAL_FACTORS.get(c, 1.0) for c in codes])
    weights *= np.where(rural[:, None], rural_table, 1.0)
    entitlement = np.array([s.entitlement for s in SERVICES])
    weights[:, entitlement] *= np.where(district == _HIGHMOOR, _HIGHMOOR_ENTITLEMENT, 1.0)[:, None]
    swing = np.array([s.winter for s in SERVICES])
    return weights * (1 + swing * _winter_curve(days)[:, None])


def _follow_ups(rng: np.random.Generator, cal: _Calendar, base: _Intake, n: int) -> _Intake:
    """Follow-ups by the same citizen for the same service 1-30 days after a base case."""
    can_follow = np.flatnonzero(base.day < len(cal.days) - 1)
    if n == 0 or len(can_follow) == 0:
        none = np.zeros(0, dtype=np.int64)
        return _Intake(none, none, none)
    # Slow services draw more chasers.
    weight = np.array([s.median_days for s in SERVICES])[base.service[can_follow]] ** 0.4
    parent = can_follow[rng.choice(len(can_follow), size=n, p=_normalise(weight))]
    # Candidate delays, mostly within two weeks; accept one with the day's load so
    # follow-ups keep the weekly and holiday pattern (rejection sampling, vectorised).
    tries = 12
    delay = 1 + np.floor(rng.beta(1.2, 2.2, (n, tries)) * 30).astype(np.int64)
    target = base.day[parent][:, None] + delay
    valid = target < len(cal.days)
    load = np.where(valid, cal.load[np.minimum(target, len(cal.days) - 1)], 0.0)
    accepted = rng.random((n, tries)) * cal.load.max() < load
    first = accepted.argmax(axis=1)
    day = np.where(accepted.any(axis=1), target[np.arange(n), first], base.day[parent] + 1)
    return _Intake(day, base.citizen[parent], base.service[parent])


def _concat(a: _Intake, b: _Intake) -> _Intake:
    return _Intake(
        np.concatenate([a.day, b.day]),
        np.concatenate([a.citizen, b.citizen]),
        np.concatenate([a.service, b.service]),
    )


# --------------------------------------------------------------------------------------
# Channel and time of contact
# --------------------------------------------------------------------------------------


def _channels(rng: np.random.Generator, cal: _Calendar, citizens: _Citizens, intake: _Intake) -> np.ndarray:
    t = cal.progress(intake.day)[:, None]
    logw = (1 - t) * _CHANNEL_START + t * _CHANNEL_END
    logw = logw + _CHANNEL_BY_AGE[citizens.age[intake.citizen]]
    non_english = citizens.language[intake.citizen] != LANGUAGES.index("EN")
    logw = logw + np.where(non_english[:, None], _CHANNEL_NON_ENGLISH, 0.0)
    off_day = ~cal.working(cal.days[intake.day])
    logw = logw + np.where(off_day[:, None], _CHANNEL_OFF_DAY, 0.0)
    return _choose_rows(rng, np.exp(logw))


def _logged_minutes(rng: np.random.Generator, cal: _Calendar, day: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Local minute since 1970 at which each case was logged."""
    minute_of_day = np.empty(len(day), dtype=np.int64)
    for ch in range(len(CHANNELS)):  # per channel, not per case
        rows = np.flatnonzero(channel == ch)
        hour = rng.choice(24, size=len(rows), p=_HOURS[ch] / _HOURS[ch].sum())
        minute_of_day[rows] = hour * 60 + rng.integers(0, 60, len(rows))
    return _skip_missing_hour(cal.days[day].astype(np.int64) * _MIN_PER_DAY + minute_of_day)


def _skip_missing_hour(minutes: np.ndarray) -> np.ndarray:
    """Move times in the hour skipped when UK clocks go forward: they do not exist locally."""
    day = minutes // _MIN_PER_DAY
    years = np.unique(day.astype("datetime64[D]").astype("datetime64[Y]"))
    march_31 = years.astype("datetime64[M]") + 2
    march_31 = (march_31 + 1).astype("datetime64[D]") - 1
    last_sunday = march_31 - (_weekday(march_31) + 1) % 7
    minute_of_day = minutes % _MIN_PER_DAY
    gap = np.isin(day, last_sunday.astype(np.int64)) & (minute_of_day >= 60)
    gap &= minute_of_day < 120
    return minutes + np.where(gap, 60, 0)


def _after_working_time(cal: _Calendar, start: np.ndarray, working_minutes: np.ndarray) -> np.ndarray:
    """Local minute reached after ``working_minutes`` of office time from ``start``.

    Staff work 08:00-18:00 on working days only, so the clock starts at the next opening
    and stops overnight, at weekends and on public holidays.
    """
    day = start // _MIN_PER_DAY
    minute_of_day = start % _MIN_PER_DAY
    after = minute_of_day >= _OFFICE_CLOSES
    day = day + after
    minute_of_day = np.where(after, _OFFICE_OPENS, np.maximum(minute_of_day, _OFFICE_OPENS))
    first = np.busday_offset(day.astype("datetime64[D]"), 0, roll="forward", holidays=cal.holidays)
    minute_of_day = np.where(first.astype(np.int64) != day, _OFFICE_OPENS, minute_of_day)
    into_day = minute_of_day - _OFFICE_OPENS + working_minutes
    days_ahead, rest = np.divmod(into_day, _OFFICE_DAY)
    last = np.busday_offset(first, days_ahead, roll="forward", holidays=cal.holidays)
    return last.astype(np.int64) * _MIN_PER_DAY + _OFFICE_OPENS + rest


# --------------------------------------------------------------------------------------
# Handling: handoffs, resolution, replies, outcomes
# --------------------------------------------------------------------------------------


@dataclass
class _Handling:
    transfers: np.ndarray
    reopened: np.ndarray
    closed: np.ndarray  # local minute; meaningless where open
    is_open: np.ndarray  # at the cut-off
    first_reply: np.ndarray  # local minute; meaningless where absent
    replied: np.ndarray
    result: np.ndarray
    satisfaction: np.ndarray  # 0 where not answered


def _handling(
    rng: np.random.Generator,
    cal: _Calendar,
    citizens: _Citizens,
    intake: _Intake,
    channel: np.ndarray,
    logged: np.ndarray,
) -> _Handling:
    n = len(logged)
    svc = intake.service
    department = np.array([s.department for s in SERVICES])[svc]
    transfer_rate = np.array([_TRANSFER_RATE[s.department] for s in SERVICES])[svc]
    transfers = (rng.random(n) < transfer_rate) * (1 + (rng.random(n) < 0.25))
    reopened = (rng.random(n) < _REOPEN_RATE) * (1 + (rng.random(n) < 0.15))

    days_open = _resolution_days(rng, cal, citizens, intake, channel, transfers, reopened)
    work = np.maximum(5, np.round(days_open * _OFFICE_DAY)).astype(np.int64)
    closed = _after_working_time(cal, logged, work)
    housing = department == "Housing"
    stuck_rate = _STUCK_RATE + housing * (_HOUSING_STUCK[0] + _HOUSING_STUCK[1] * cal.progress(intake.day))
    is_open = (rng.random(n) < stuck_rate) | (closed >= cal.cutoff_minute)

    first_reply, replied = _first_replies(rng, cal, svc, channel, logged, closed)
    replied &= first_reply < cal.cutoff_minute
    result = _results(rng, svc, is_open)
    return _Handling(
        transfers=transfers,
        reopened=reopened,
        closed=closed,
        is_open=is_open,
        first_reply=first_reply,
        replied=replied,
        result=result,
        satisfaction=_satisfaction(rng, svc, days_open, transfers, reopened, is_open),
    )


def _resolution_days(
    rng: np.random.Generator,
    cal: _Calendar,
    citizens: _Citizens,
    intake: _Intake,
    channel: np.ndarray,
    transfers: np.ndarray,
    reopened: np.ndarray,
) -> np.ndarray:
    """Lognormal working days to closure, with the deliberate slowdowns multiplied in."""
    svc = intake.service
    median = np.array([s.median_days for s in SERVICES])[svc]
    sigma = np.array([s.sigma for s in SERVICES])[svc]
    slowness = np.array([d.slowness for d in DISTRICTS])[citizens.district[intake.citizen]]
    log_days = np.log(median) + sigma * rng.standard_normal(len(svc)) + np.log(slowness)
    log_days += np.where(citizens.language[intake.citizen] == _OTH, np.log(1.4), 0.0)
    log_days += 0.35 * transfers + 0.45 * reopened  # each handoff restarts the queue
    log_days += np.where(channel == CHANNELS.index("POST"), 0.15, 0.0)
    housing = np.array([s.department == "Housing" for s in SERVICES])[svc]
    log_days += np.where(housing, _HOUSING_SLOWDOWN * cal.progress(intake.day), 0.0)
    return np.exp(log_days)


def _first_replies(
    rng: np.random.Generator,
    cal: _Calendar,
    svc: np.ndarray,
    channel: np.ndarray,
    logged: np.ndarray,
    closed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First reply a few hours after logging; none for ~10% (mostly quick field jobs)."""
    hours = _REPLY_HOURS[channel] * rng.lognormal(0, 1.0, len(svc))
    reply = _after_working_time(cal, logged, np.maximum(1, np.round(hours * 60)).astype(np.int64))
    reply = np.minimum(reply, closed)  # the closing letter is the first reply at the latest
    codes = np.array([s.code for s in SERVICES])[svc]
    no_reply = np.where(np.isin(codes, ["ENV-BIN", "TRN-POTHOLE", "TRN-LIGHT"]), 0.17, 0.06)
    return reply, rng.random(len(svc)) >= no_reply


def _results(rng: np.random.Generator, svc: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    entitlement = np.array([s.entitlement for s in SERVICES])[svc]
    granted = np.array(["GRANTED", "REFUSED", "WITHDRAWN"], dtype=object)
    resolved = np.array(["RESOLVED", "REFERRED", "WITHDRAWN"], dtype=object)
    result = np.where(
        entitlement,
        granted[rng.choice(3, size=len(svc), p=[0.72, 0.20, 0.08])],
        resolved[rng.choice(3, size=len(svc), p=[0.86, 0.09, 0.05])],
    )
    result[is_open] = ""
    return result


def _satisfaction(
    rng: np.random.Generator,
    svc: np.ndarray,
    days_open: np.ndarray,
    transfers: np.ndarray,
    reopened: np.ndarray,
    is_open: np.ndarray,
) -> np.ndarray:
    """1-5 from the minority who answer the survey; long waits and handoffs score lower."""
    deadline = np.array([s.deadline_working_days for s in SERVICES])[svc]
    latent = 4.6 - 1.1 * np.log1p(days_open / deadline) - 0.35 * transfers - 0.6 * reopened
    score = np.clip(np.round(latent + rng.normal(0, 1.0, len(svc))), 1, 5).astype(np.int64)
    answered = (rng.random(len(svc)) < _SURVEY_RATE) & ~is_open
    return np.where(answered, score, 0)


# --------------------------------------------------------------------------------------
# The cases table
# --------------------------------------------------------------------------------------


def _cases_frame(
    rng: np.random.Generator, cal: _Calendar, citizens: _Citizens, cases: int, personal: pd.DataFrame
) -> pd.DataFrame:
    intake = _intake(rng, cal, citizens, cases)
    channel = _channels(rng, cal, citizens, intake)
    logged = _logged_minutes(rng, cal, intake.day, channel)
    handling = _handling(rng, cal, citizens, intake, channel, logged)

    # Reference numbers follow the order of logging, as in the source system.
    order = np.lexsort((rng.permutation(len(logged)), logged))
    who = intake.citizen[order]
    codes = np.array([s.code for s in SERVICES], dtype=object)
    is_open = handling.is_open[order]
    satisfaction = handling.satisfaction[order]
    frame = pd.DataFrame(
        {
            "Ref No": _codes("WM-", np.arange(1, len(order) + 1)),
            "Logged": _format_minutes(logged[order]),
            "First Reply": _blank(_format_minutes(handling.first_reply[order]), ~handling.replied[order]),
            "Closed On": _blank(_format_minutes(handling.closed[order]), is_open),
            "Case Type": codes[intake.service[order]],
            "Contact Method": np.array(CHANNELS, dtype=object)[channel[order]],
            "District": np.array([d.name for d in DISTRICTS], dtype=object)[citizens.district[who]],
            "Age Group": citizens.age_code[who],
            "Sex": citizens.sex_code[who],
            "Disability Flag": citizens.disability_code[who],
            "Language": citizens.language_code[who],
            "Status": np.where(is_open, "OPEN", "CLOSED"),
            "Result": handling.result[order],
            "Customer Ref": citizens.pseudonym[who],
            **{column: personal[column].to_numpy()[who] for column in PERSONAL_COLUMNS},
            "Transfers": handling.transfers[order],
            "Times Reopened": handling.reopened[order],
            "Satisfaction": pd.arrays.IntegerArray(satisfaction, satisfaction == 0),
        },
        columns=CASE_COLUMNS,
    )
    _inject_defects(rng, frame, logged[order])
    return frame


_PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)


def _format_minutes(minutes: np.ndarray) -> np.ndarray:
    """``DD/MM/YYYY HH:MM`` strings, built from lookup tables (strftime is 10x slower)."""
    day = (minutes // _MIN_PER_DAY).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    dom = (day - month).astype(np.int64) + 1
    moy = (month - year).astype(np.int64)
    yyyy = (year.astype(np.int64) + 1970).astype(str).astype(object)
    minute_of_day = minutes % _MIN_PER_DAY
    return (
        _PAD2[dom] + "/" + _PAD2[moy + 1] + "/" + yyyy + " "
        + _PAD2[minute_of_day // 60] + ":" + _PAD2[minute_of_day % 60]
    )  # fmt: skip


def _codes(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """Identifiers like ``WM-0000001``: prefix and a seven-digit number."""
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), 7)).astype(object)


def _blank(values: np.ndarray, hide: np.ndarray) -> np.ndarray:
    return np.where(hide, "", values).astype(object)


def _inject_defects(rng: np.random.Generator, frame: pd.DataFrame, logged: np.ndarray) -> None:
    """A few broken rows, as real exports have: the loader must quarantine, not crash.

    Four kinds, disjoint rows: an unknown channel code, an impossible date in Logged,
    Closed On before Logged, a satisfaction score off the 1-5 scale.
    """
    per_kind = max(1, round(len(frame) * _BAD_ROW_RATE))
    closed_rows = np.flatnonzero(frame["Status"].to_numpy() == "CLOSED")
    if len(closed_rows) < 2 * per_kind or len(frame) < 4 * per_kind:
        return
    closed_pick = rng.choice(closed_rows, size=2 * per_kind, replace=False)
    pool = np.setdiff1d(np.arange(len(frame)), closed_pick)
    any_pick = rng.choice(pool, size=2 * per_kind, replace=False)
    fax, bad_date = any_pick[:per_kind], any_pick[per_kind:]
    backwards, off_scale = closed_pick[:per_kind], closed_pick[per_kind:]

    cols = {c: frame.columns.get_loc(c) for c in ("Contact Method", "Logged", "Closed On")}
    frame.iloc[fax, cols["Contact Method"]] = "FAX"
    # Keep year and time, but use a day the month does not have (31/02, 31/04, 30/02...).
    logged_text = frame["Logged"].to_numpy()[bad_date]
    day_month = np.array(["31/02", "30/02", "31/04", "31/06", "31/09", "31/11"], dtype=object)
    frame.iloc[bad_date, cols["Logged"]] = day_month[rng.integers(0, len(day_month), per_kind)] + np.array(
        [t[5:] for t in logged_text], dtype=object
    )
    early = logged[backwards] - rng.integers(60, 3 * _MIN_PER_DAY, per_kind)
    frame.iloc[backwards, cols["Closed On"]] = _format_minutes(early)
    frame.loc[off_scale, "Satisfaction"] = 7


# --------------------------------------------------------------------------------------
# Reference tables
# --------------------------------------------------------------------------------------


def _population_frame(cal: _Calendar, profiles: _DistrictProfiles) -> pd.DataFrame:
    """Residents per year, district and group; each breakdown sums exactly to the total."""
    base = np.array([d.residents for d in DISTRICTS], dtype=float)
    growth = np.array([d.growth for d in DISTRICTS])
    parts = []
    for k, year in enumerate(cal.years):  # a handful of years, not cases
        total = np.round(base * (1 + growth) ** k).astype(np.int64)
        parts.append(_long_table(year, total, {
            b: _apportion(total, profiles.shares(b)) for b in BREAKDOWNS
        }, "Residents"))  # fmt: skip
    return pd.concat(parts, ignore_index=True)[POPULATION_COLUMNS]


def _long_table(year: int, total: np.ndarray, by_breakdown: dict[str, np.ndarray], value: str) -> pd.DataFrame:
    """Rows per district: the total first, then every breakdown category."""
    rows: list[tuple[str, str, str, int]] = []
    names = [d.name for d in DISTRICTS]
    for i, name in enumerate(names):
        rows.append((name, TOTAL_LABEL, TOTAL_LABEL, int(total[i])))
        for breakdown, counts in by_breakdown.items():
            cats = BREAKDOWNS[breakdown]
            rows.extend((name, breakdown, c, int(counts[i, j])) for j, c in enumerate(cats))
    frame = pd.DataFrame(rows, columns=["District", "Breakdown", "Category", value])
    frame.insert(0, "Year", year)
    return frame


def _eligible_frame(rng: np.random.Generator, cal: _Calendar, cases: pd.DataFrame) -> pd.DataFrame:
    """Eligible residents per programme, consistent with the recipients in ``cases``.

    Eligible = recipients / uptake, with a target uptake per programme and district (lower
    in Highmoor) and some noise per group; every breakdown sums to the total and never
    falls below the recipients of its cell.
    """
    recipients = _recipients(cases)
    n_d = len(DISTRICTS)
    uptake = rng.uniform(0.65, 0.85, (len(PROGRAMMES), n_d))
    uptake[:, _HIGHMOOR] = rng.uniform(0.47, 0.53, len(PROGRAMMES))
    parts = []
    for year in cal.years:  # years x programmes: a few dozen tables, not cases
        for p, programme in enumerate(PROGRAMMES):
            cell = recipients[(recipients["Year"] == year) & (recipients["Programme"] == programme)]
            u = uptake[p] * rng.lognormal(0, 0.02, n_d)
            total_r = _count_by(cell, None)[:, 0]
            # A year the history only partly covers saw only part of its recipients; the
            # people eligible that year are as many as in a full year.
            total = np.ceil(total_r / u / _year_covered(cal, year)).astype(np.int64)
            by_breakdown = {b: _split_eligible(rng, total, _count_by(cell, b), u) for b in BREAKDOWNS}
            table = _long_table(year, total, by_breakdown, "Eligible")
            table.insert(1, "Programme", programme)
            parts.append(table)
    frame = pd.concat(parts, ignore_index=True)
    margin = rng.uniform(0.06, 0.10, len(frame))
    eligible = frame["Eligible"].to_numpy()
    frame["Eligible Low"] = np.floor(eligible * (1 - margin)).astype(np.int64)
    frame["Eligible High"] = np.ceil(eligible * (1 + margin)).astype(np.int64)
    return frame[ELIGIBLE_COLUMNS]


def _year_covered(cal: _Calendar, year: int) -> float:
    first = max(cal.start, datetime.date(year, 1, 1))
    last = min(cal.end, datetime.date(year, 12, 31))
    days_in_year = (datetime.date(year, 12, 31) - datetime.date(year, 1, 1)).days + 1
    return max((last - first).days + 1, 1) / days_in_year


_BREAKDOWN_COLUMN = {"Age": "Age Group", "Sex": "Sex", "Disability": "Disability Flag",
                     "Language": "Language"}  # fmt: skip


def _recipients(cases: pd.DataFrame) -> pd.DataFrame:
    """Distinct citizens granted each programme, by year of Closed On, as the file says."""
    granted = cases[(cases["Result"] == "GRANTED") & cases["Case Type"].isin(PROGRAMMES)]
    closed = pd.to_datetime(granted["Closed On"], format=DATETIME_FORMAT, errors="coerce")
    granted, closed = granted[closed.notna()], closed[closed.notna()]
    out = pd.DataFrame(
        {
            "Year": closed.dt.year,
            "Programme": granted["Case Type"],
            "District": granted["District"],
            "Customer Ref": granted["Customer Ref"],
        }
    )
    for breakdown, column in _BREAKDOWN_COLUMN.items():
        known = granted[column].isin(BREAKDOWNS[breakdown][:-1])
        out[breakdown] = granted[column].where(known, NOT_STATED)
    return out.drop_duplicates(["Year", "Programme", "Customer Ref"])


def _count_by(cell: pd.DataFrame, breakdown: str | None) -> np.ndarray:
    """(district, category) recipient counts; one column for the total."""
    districts = [d.name for d in DISTRICTS]
    if breakdown is None:
        counts = cell["District"].value_counts()
        return counts.reindex(districts, fill_value=0).to_numpy()[:, None]
    counts = cell.groupby(["District", breakdown]).size().unstack(fill_value=0)
    counts = counts.reindex(index=districts, columns=list(BREAKDOWNS[breakdown]), fill_value=0)
    return counts.to_numpy()


def _split_eligible(
    rng: np.random.Generator, total: np.ndarray, recipients: np.ndarray, uptake: np.ndarray
) -> np.ndarray:
    """Share the district total among categories: each gets its recipients plus part of the
    eligible non-recipients, in proportion to recipients / noisy uptake."""
    u = np.clip(uptake[:, None] * rng.lognormal(0, 0.06, recipients.shape), 0.3, 0.97)
    non_recipients = recipients / u - recipients
    fallback = np.ones_like(non_recipients)  # no recipients anywhere: share evenly
    weight = np.where(non_recipients.sum(axis=1, keepdims=True) > 0, non_recipients, fallback)
    slack = total - recipients.sum(axis=1)
    return recipients + _apportion(slack, _normalise(weight))


# --------------------------------------------------------------------------------------
# Small numeric helpers
# --------------------------------------------------------------------------------------


def _normalise(weights: np.ndarray) -> np.ndarray:
    """Scale to sum 1 along the last axis."""
    return weights / weights.sum(axis=-1, keepdims=True)


def _choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Draw one column index per row of a (rows, categories) weight matrix."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _apportion(total: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Integers per (row, category) proportional to ``shares`` and summing exactly to
    ``total`` per row (largest-remainder method)."""
    quota = total[:, None] * shares
    counts = np.floor(quota).astype(np.int64)
    left = total - counts.sum(axis=1)
    rank = np.argsort(np.argsort(counts - quota, axis=1, kind="stable"), axis=1, kind="stable")
    return counts + (rank < left[:, None])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the civic-metrics demo export.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end", type=datetime.date.fromisoformat, default=DEFAULT_END)
    args = parser.parse_args(argv)
    for name, path in write_demo_data(args.out_dir, args.cases, args.seed, args.end).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
