"""Checks of the synthetic demo export: shape, codes, and the patterns it is meant to show."""

import datetime
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pytest

from etl.demo_data import (
    CASE_COLUMNS,
    CASE_TYPES,
    DATETIME_FORMAT,
    DISTRICTS,
    ELIGIBLE_COLUMNS,
    PERSONAL_COLUMNS,
    POPULATION_COLUMNS,
    write_demo_data,
)

CASES = 20_000
END = datetime.date(2026, 10, 31)
CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
CHANNEL_CODES = {"TEL", "WEB", "APP", "F2F", "POST"}
URBAN = {"Northgate", "Riverside", "Harbourside", "Old Town", "Eastfield", "Westmoor", "Southbank"}
RURAL = {"Millbrook", "Lakeside", "Fenwick", "Greenvale", "Highmoor"}
DISTRICT_ORDER = [d.name for d in DISTRICTS]


def _read(path: Path) -> pd.DataFrame:
    # Everything as text, blanks kept as "": the way a loader sees the export.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _times(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, format=DATETIME_FORMAT, errors="coerce")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_demo_data(tmp_path_factory.mktemp("demo") / "out", cases=CASES, seed=7, end=END)


@pytest.fixture(scope="module")
def cases(paths: dict[str, Path]) -> pd.DataFrame:
    return _read(paths["cases"])


@pytest.fixture(scope="module")
def bad(cases: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per kind of deliberate defect."""
    logged, closed = _times(cases["Logged"]), _times(cases["Closed On"])
    return pd.DataFrame(
        {
            "channel": ~cases["Contact Method"].isin(CHANNEL_CODES),
            "logged": logged.isna(),
            "backwards": closed < logged,
            "rating": ~cases["Satisfaction"].isin(["", "1", "2", "3", "4", "5"]),
        }
    )


@pytest.fixture(scope="module")
def good(cases: pd.DataFrame, bad: pd.DataFrame) -> pd.DataFrame:
    """Rows without defects, with parsed times and days from logging to closure."""
    out = cases[~bad.any(axis=1)].copy()
    out["logged"] = _times(out["Logged"])
    out["closed"] = _times(out["Closed On"])
    out["replied"] = _times(out["First Reply"])
    out["days"] = (out["closed"] - out["logged"]).dt.total_seconds() / 86_400
    return out


# --- files -------------------------------------------------------------------------------


def test_returns_the_three_paths_in_a_created_folder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder"
    paths = write_demo_data(out, cases=500)
    assert set(paths) == {"cases", "population", "eligible"}
    assert {p.name for p in paths.values()} == {"cases.csv", "population.csv", "eligible.csv"}
    assert all(p.parent == out and p.is_file() for p in paths.values())
    assert len(_read(paths["cases"])) == 500


def test_same_arguments_give_byte_identical_files_and_another_seed_differs(
    tmp_path: Path,
) -> None:
    first = write_demo_data(tmp_path / "a", cases=3_000, seed=1)
    again = write_demo_data(tmp_path / "b", cases=3_000, seed=1)
    other = write_demo_data(tmp_path / "c", cases=3_000, seed=2)
    for name in first:
        assert first[name].read_bytes() == again[name].read_bytes(), name
    assert first["cases"].read_bytes() != other["cases"].read_bytes()
    assert first["eligible"].read_bytes() != other["eligible"].read_bytes()


def test_columns_are_exactly_the_export_layout(paths: dict[str, Path]) -> None:
    expected = {"cases": CASE_COLUMNS, "population": POPULATION_COLUMNS,
                "eligible": ELIGIBLE_COLUMNS}  # fmt: skip
    for name, columns in expected.items():
        header = paths[name].read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == columns, name
    assert CASE_COLUMNS[:4] == ["Ref No", "Logged", "First Reply", "Closed On"]
    assert CASE_COLUMNS[-1] == "Satisfaction" and len(CASE_COLUMNS) == 21


def test_history_spans_three_years_up_to_the_end_day(good: pd.DataFrame) -> None:
    assert good["logged"].min().date() == datetime.date(2023, 11, 1)
    assert good["logged"].max().date() == END
    assert good["logged"].min() >= pd.Timestamp("2023-11-01")


# --- codes -------------------------------------------------------------------------------


def test_codes_cover_districts_case_types_and_channels(cases: pd.DataFrame) -> None:
    assert set(cases["District"]) == URBAN | RURAL
    assert set(cases["Case Type"]) == set(CASE_TYPES) and len(CASE_TYPES) == 15
    assert set(cases["Contact Method"]) - {"FAX"} == CHANNEL_CODES
    assert set(cases["Status"]) == {"OPEN", "CLOSED"}


def test_group_columns_use_their_codes_and_include_not_stated(cases: pd.DataFrame) -> None:
    allowed = {
        "Age Group": ({"<25", "25-44", "45-64", "65+"}, {"UNK", ""}),
        "Sex": ({"F", "M"}, {"X", ""}),
        "Disability Flag": ({"Y", "N"}, {""}),
        "Language": ({"EN", "ZH", "OTH"}, {""}),
    }
    for column, (stated, blank) in allowed.items():
        values = cases[column]
        assert set(values) <= stated | blank, column
        assert stated <= set(values), column
        assert 0.04 < values.isin(blank).mean() < 0.12, column


def test_codes_match_config_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert {r["id"] for r in config["regions"]} == URBAN | RURAL
    assert {r["id"] for r in config["regions"] if r["kind"] == "rural"} == RURAL
    assert set(CASE_TYPES.values()) == set(config["services"])
    for code, service in CASE_TYPES.items():
        department = config["services"][service]["department"]
        prefix = {"ENV": "Environment", "TRN": "Transport", "HSG": "Housing",
                  "SS": "Social Security", "CS": "Customer Services"}  # fmt: skip
        assert prefix[code.split("-")[0]] == department, code
    values = config["etl"]["sources"]["cases"]["values"]
    assert set(values["channel"]) == CHANNEL_CODES


def test_ref_numbers_are_unique_and_follow_logging_order(cases: pd.DataFrame, good: pd.DataFrame) -> None:
    assert cases["Ref No"].is_unique
    assert cases["Ref No"].str.fullmatch(r"WM-\d{7}").all()
    assert cases["Ref No"].iloc[0] == "WM-0000001"
    assert good["logged"].is_monotonic_increasing  # good rows are in Ref No order already


def test_a_citizen_keeps_district_and_group_attributes(cases: pd.DataFrame) -> None:
    assert cases["Customer Ref"].str.fullmatch(r"C\d{7}").all()
    attributes = ["District", "Age Group", "Sex", "Disability Flag", "Language"]
    per_citizen = cases.groupby("Customer Ref")[attributes].nunique()
    assert (per_citizen == 1).all().all()
    contacts = cases["Customer Ref"].value_counts()
    assert (contacts >= 3).sum() > 100  # some people write again and again


def test_each_citizen_has_fake_personal_details_the_config_marks(cases: pd.DataFrame) -> None:
    import yaml

    personal = ["Customer Name", "Address", "Phone", "NI Number"]
    assert personal == PERSONAL_COLUMNS
    marked = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["etl"]["sources"]["cases"]["personal_columns"]
    assert marked == personal
    # One person, one set of details, on every case of theirs.
    assert (cases.groupby("Customer Ref")[personal].nunique() <= 1).all().all()
    assert cases["Customer Name"].str.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)+").all()
    district = cases["District"].map({d: i + 1 for i, d in enumerate(sorted(URBAN | RURAL, key=DISTRICT_ORDER.index))})
    parts = cases["Address"].str.extract(r"^(\d+) [A-Za-z ]+, ([A-Za-z ]+), WM(\d+) \d[A-Z]{2}$")
    assert parts.notna().all().all()
    assert (parts[1] == cases["District"]).all() and (parts[2].astype(int) == district).all()
    # Telephone numbers only from Ofcom's drama ranges: nobody's real number.
    phones = cases.loc[cases["Phone"] != "", "Phone"]
    assert phones.str.fullmatch(r"07700 900\d{3}|020 7946 0\d{3}|01\d{2} 49[68] 0\d{3}").all()
    assert 0.05 < (cases["Phone"] == "").mean() < 0.25
    ni = cases.loc[cases["NI Number"] != "", "NI Number"]
    assert ni.str.fullmatch(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]").all()
    per_citizen = ni.groupby(cases["Customer Ref"]).first()
    assert per_citizen.nunique() > 0.99 * len(per_citizen)  # almost everyone's own


# --- defects -----------------------------------------------------------------------------


def test_bad_rows_of_each_kind_are_present_but_few(cases: pd.DataFrame, bad: pd.DataFrame) -> None:
    assert (bad.sum() >= 1).all(), bad.sum().to_dict()
    assert bad.any(axis=1).sum() < 0.005 * len(cases)
    assert set(cases.loc[bad["channel"], "Contact Method"]) == {"FAX"}
    assert set(cases.loc[bad["rating"], "Satisfaction"]) == {"7"}


def test_good_rows_have_ordered_times(good: pd.DataFrame) -> None:
    closed = good.dropna(subset=["closed"])
    assert (closed["closed"] >= closed["logged"]).all()
    replied = good.dropna(subset=["replied"])
    assert (replied["replied"] >= replied["logged"]).all()
    both = good.dropna(subset=["replied", "closed"])
    assert (both["replied"] <= both["closed"]).all()
    assert 0.85 < good["First Reply"].ne("").mean() < 0.95


def test_local_times_all_exist_in_europe_london(good: pd.DataFrame) -> None:
    # Times in the hour skipped when clocks go forward would be rejected by the loader.
    for column in ("logged", "replied", "closed"):
        stamps = pd.DatetimeIndex(good[column].dropna())
        stamps.tz_localize("Europe/London", ambiguous="NaT", nonexistent="raise")


# --- status and outcomes -----------------------------------------------------------------


def test_open_share_at_cut_off_is_a_few_percent(cases: pd.DataFrame) -> None:
    is_open = cases["Status"] == "OPEN"
    assert 0.03 < is_open.mean() < 0.08
    assert (cases.loc[is_open, "Closed On"] == "").all()
    assert (cases.loc[~is_open, "Closed On"] != "").all()
    assert (cases.loc[is_open, "Result"] == "").all()


def test_results_depend_on_the_kind_of_service(cases: pd.DataFrame) -> None:
    closed = cases[cases["Status"] == "CLOSED"]
    entitlement = closed["Case Type"].str.startswith("SS-")
    assert set(closed.loc[entitlement, "Result"]) == {"GRANTED", "REFUSED", "WITHDRAWN"}
    assert set(closed.loc[~entitlement, "Result"]) == {"RESOLVED", "REFERRED", "WITHDRAWN"}
    assert 0.18 < cases["Case Type"].str.startswith("SS-").mean() < 0.28


def test_handoffs_reopenings_and_survey_answers(good: pd.DataFrame) -> None:
    transfers = good["Transfers"].astype(int)
    assert set(transfers) == {0, 1, 2}
    assert 0.06 < (transfers > 0).mean() < 0.14
    slow_departments = good["Case Type"].str.match(r"HSG-|SS-")
    assert (transfers[slow_departments] > 0).mean() > 2 * (transfers[~slow_departments] > 0).mean()
    assert 0.02 < (good["Times Reopened"].astype(int) > 0).mean() < 0.06
    closed = good[good["Status"] == "CLOSED"]
    assert 0.15 < (closed["Satisfaction"] != "").mean() < 0.25
    assert (good.loc[good["Status"] == "OPEN", "Satisfaction"] == "").all()
    rated = closed[closed["Satisfaction"] != ""]
    fast = rated["days"] <= rated["days"].median()
    scores = rated["Satisfaction"].astype(int)
    assert scores[fast].mean() > scores[~fast].mean()
    handed = rated["Transfers"].astype(int) > 0
    assert rated.loc[handed, "days"].median() > rated.loc[~handed, "days"].median()


# --- patterns ----------------------------------------------------------------------------


def test_weekdays_busier_than_weekends_and_holidays(good: pd.DataFrame) -> None:
    per_day = good["logged"].dt.normalize().value_counts()
    every_day = pd.date_range("2023-11-01", END, freq="D")
    per_day = per_day.reindex(every_day, fill_value=0)
    bank = holidays.country_holidays("GB", subdiv="ENG", years=range(2023, 2027))
    is_holiday = np.array([d.date() in bank for d in every_day])
    weekend = every_day.dayofweek >= 5
    weekday_mean = per_day[~weekend & ~is_holiday].mean()
    assert 0.2 < per_day[weekend].mean() / weekday_mean < 0.4
    assert per_day[is_holiday & ~weekend].mean() < 0.4 * weekday_mean


def test_winter_busier_than_summer(good: pd.DataFrame) -> None:
    month = good["logged"].dt.month
    assert month.isin([12, 1, 2]).sum() > 1.15 * month.isin([6, 7, 8]).sum()


def test_phone_in_office_hours_web_around_the_clock(good: pd.DataFrame) -> None:
    hour = good["logged"].dt.hour
    phone = good["Contact Method"].isin(["TEL", "F2F"])
    assert hour[phone].between(8, 17).all()
    assert (~hour[good["Contact Method"] == "WEB"].between(8, 17)).mean() > 0.2


def test_digital_share_grows(good: pd.DataFrame) -> None:
    digital = good["Contact Method"].isin(["WEB", "APP"])
    first_year = good["logged"] < pd.Timestamp("2024-11-01")
    last_year = good["logged"] >= pd.Timestamp("2025-11-01")
    assert digital[last_year].mean() > digital[first_year].mean() + 0.05


def test_housing_backlog_grows(cases: pd.DataFrame, good: pd.DataFrame) -> None:
    housing = good[good["Case Type"].str.startswith("HSG-")]
    is_open = housing["Status"] == "OPEN"
    first_year = housing["logged"] < pd.Timestamp("2024-11-01")
    last_year = housing["logged"] >= pd.Timestamp("2025-11-01")
    assert is_open[last_year].mean() > 2 * is_open[first_year].mean()
    closed = housing[~is_open]
    early = closed["logged"] < pd.Timestamp("2024-11-01")
    assert closed.loc[~early, "days"].median() > 1.3 * closed.loc[early, "days"].median()


def test_highmoor_resolves_more_slowly_than_urban_districts(good: pd.DataFrame) -> None:
    closed = good[good["Status"] == "CLOSED"]
    highmoor = closed.loc[closed["District"] == "Highmoor", "days"].median()
    urban = closed[closed["District"].isin(URBAN)]
    assert highmoor > 1.15 * urban["days"].median()
    assert highmoor > urban.groupby("District")["days"].median().max()
    # Like for like, service by service, the gap is close to the intended 1.8x.
    by_service = closed.groupby(["Case Type", closed["District"] == "Highmoor"])["days"].median()
    ratio = by_service.xs(True, level=1) / by_service.xs(False, level=1)
    assert 1.4 < ratio.median() < 2.3


def test_other_language_speakers_wait_longer(good: pd.DataFrame) -> None:
    closed = good[good["Status"] == "CLOSED"]
    median = closed.groupby("Language")["days"].median()
    assert median["OTH"] > 1.2 * median["EN"]
    assert median["ZH"] < median["OTH"]


def test_repeat_contacts_within_thirty_days(good: pd.DataFrame) -> None:
    ordered = good.sort_values("logged")
    day = ordered["logged"].dt.normalize()
    previous = day.groupby([ordered["Customer Ref"], ordered["Case Type"]]).shift()
    gap = (day - previous).dt.days
    repeat_share = gap.between(1, 30).mean()
    assert 0.05 < repeat_share < 0.12


def test_on_time_rates_differ_by_service(good: pd.DataFrame) -> None:
    deadlines = {"ENV-BIN": 3, "TRN-POTHOLE": 5, "SS-DA": 30, "HSG-REPAIR": 10}
    bank = holidays.country_holidays("GB", subdiv="ENG", years=range(2023, 2028))
    closed = good[(good["Status"] == "CLOSED") & good["Case Type"].isin(deadlines)]
    due = np.busday_offset(
        closed["logged"].to_numpy().astype("datetime64[D]"),
        closed["Case Type"].map(deadlines).to_numpy(),
        roll="forward",
        holidays=np.array(sorted(bank), dtype="datetime64[D]"),
    )
    on_time = pd.Series(closed["closed"].to_numpy().astype("datetime64[D]") <= due,
                        index=closed.index)  # fmt: skip
    rate = on_time.groupby(closed["Case Type"]).mean()
    assert rate[["ENV-BIN", "TRN-POTHOLE", "SS-DA"]].between(0.8, 0.97).all(), rate.to_dict()
    assert rate["HSG-REPAIR"] < rate["ENV-BIN"]


# --- reference tables --------------------------------------------------------------------


def test_population_breakdowns_sum_to_district_totals(paths: dict[str, Path]) -> None:
    population = pd.read_csv(paths["population"], keep_default_na=False)
    assert sorted(population["Year"].unique()) == [2023, 2024, 2025, 2026]
    total = population[population["Breakdown"] == "All residents"]
    assert (total["Category"] == "All residents").all()
    totals = total.set_index(["Year", "District"])["Residents"]
    parts = population[population["Breakdown"] != "All residents"]
    sums = parts.groupby(["Year", "District", "Breakdown"])["Residents"].sum().unstack()
    assert set(sums.columns) == {"Age", "Sex", "Disability", "Language"}
    assert (sums.sub(totals, axis=0) == 0).all().all()
    first = totals.xs(2023, level="Year")
    assert first[list(URBAN)].between(80_000, 350_000).all()
    assert first[list(RURAL)].between(15_000, 60_000).all()
    assert (totals.xs(2026, level="Year") >= first).all()


def test_rural_districts_are_older(paths: dict[str, Path]) -> None:
    population = pd.read_csv(paths["population"], keep_default_na=False)
    year = population[population["Year"] == 2025].set_index("District")
    old = year[year["Category"] == "65+"]["Residents"]
    share = old / year[year["Breakdown"] == "All residents"]["Residents"]
    assert share[list(RURAL)].min() > share[list(URBAN)].max()


def test_eligible_covers_recipients_in_every_cell(paths: dict[str, Path], cases: pd.DataFrame) -> None:
    eligible = pd.read_csv(paths["eligible"], keep_default_na=False)
    assert set(eligible["Programme"]) == {"SS-HB", "SS-CB", "SS-PC", "SS-DA"}
    assert (eligible["Eligible Low"] <= eligible["Eligible"]).all()
    assert (eligible["Eligible"] <= eligible["Eligible High"]).all()

    granted = cases[cases["Result"] == "GRANTED"].copy()
    granted["Year"] = _times(granted["Closed On"]).dt.year
    granted = granted.dropna(subset=["Year"]).astype({"Year": int})
    columns = {"Age": "Age Group", "Sex": "Sex", "Disability": "Disability Flag",
               "Language": "Language"}  # fmt: skip
    cells = [("All residents", granted.assign(Category="All residents"))]
    for breakdown, column in columns.items():
        # "", "X" and "UNK" all mean not stated, which the tables call UNK.
        known = granted[column].isin(["<25", "25-44", "45-64", "65+", "F", "M", "Y", "N",
                                      "EN", "ZH", "OTH"])  # fmt: skip
        cells.append((breakdown, granted.assign(Category=granted[column].where(known, "UNK"))))
    keys = ["Year", "Programme", "District", "Breakdown", "Category"]
    table = eligible.set_index(keys)
    for breakdown, frame in cells:
        recipients = (
            frame.rename(columns={"Case Type": "Programme"})
            .assign(Breakdown=breakdown)
            .groupby(keys)["Customer Ref"]
            .nunique()
        )
        joined = table.join(recipients.rename("Recipients"), how="right")
        assert joined["Eligible"].notna().all(), breakdown
        assert (joined["Eligible"] >= joined["Recipients"]).all(), breakdown

        if breakdown == "All residents":
            # Only the fully covered years: a partial year saw part of its recipients
            # but all of its eligible people.
            years = joined.index.get_level_values("Year")
            full = (years > years.min()) & (years < years.max())
            uptake = (joined["Recipients"] / joined["Eligible"])[full]
            by_district = uptake.groupby(level="District").mean()
            assert by_district.drop("Highmoor").between(0.6, 0.9).all()
            assert by_district["Highmoor"] < 0.6


def test_eligible_breakdowns_sum_to_totals(paths: dict[str, Path]) -> None:
    eligible = pd.read_csv(paths["eligible"], keep_default_na=False)
    keys = ["Year", "Programme", "District"]
    totals = eligible[eligible["Breakdown"] == "All residents"].set_index(keys)["Eligible"]
    parts = eligible[eligible["Breakdown"] != "All residents"]
    sums = parts.groupby([*keys, "Breakdown"])["Eligible"].sum().unstack()
    assert (sums.sub(totals, axis=0) == 0).all().all()
    assert len(totals) == 4 * 4 * 12
