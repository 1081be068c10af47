"""Reference tables mapped by config: crosswalks sum their parts, true duplicates are refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from etl.reference import DUPLICATE, map_reference
from metrics.config import Settings

POP_COLUMNS = {
    "year": "Year",
    "region": "Area",
    "attribute": "Breakdown",
    "group": "Category",
    "population": "Residents",
}
ELIG_COLUMNS = {
    "year": "Year",
    "programme": "Scheme",
    "region": "Area",
    "attribute": "Breakdown",
    "group": "Category",
    "eligible": "Eligible",
    "eligible_low": "Low",
    "eligible_high": "High",
    "recipients": "Paid",
}
CROSSWALK = {"Allston": "Allston / Brighton", "Brighton": "Allston / Brighton", "Dorchester": "Dorchester"}
SETTINGS = Settings.model_validate(
    {
        "services": {"benefit": {"department": "Welfare", "entitlement": True}},
        "groups": {"sex": {"label": {"en": "Sex"}, "values": ["Female", "Male", "Not stated"], "reference": "Female"}},
        "etl": {
            "sources": {
                "population": {
                    "kind": "population_csv",
                    "path": "p.csv",
                    "total_label": "TOTAL",
                    "columns": POP_COLUMNS,
                    "values": {
                        "region": CROSSWALK,
                        "attribute": {"Sex": "sex"},
                        "group": {"F": "Female", "M": "Male", "X": "Not stated", "U": "Not stated"},
                    },
                },
                "eligible": {
                    "kind": "eligible_csv",
                    "path": "e.csv",
                    "total_label": "TOTAL",
                    "columns": ELIG_COLUMNS,
                    "values": {"region": CROSSWALK, "programme": {"HB": "benefit"}},
                },
                # A long table whose year cells are ACS period labels.
                "periods": {
                    "kind": "population_csv",
                    "path": "l.csv",
                    "total_label": "TOTAL",
                    "columns": POP_COLUMNS,
                    "values": {"region": CROSSWALK, "year": {"2015-2019": "2019", "2013-2017": "2017"}},
                },
                # One column per ACS period, no year or breakdown columns (Boston's table).
                "wide": {
                    "kind": "population_csv",
                    "path": "w.csv",
                    "columns": {
                        "region": "Neighborhoods",
                        "population": "pop 2015-2019",
                        "year": "pop 2015-2019",
                        "attribute": "pop 2015-2019",
                        "group": "pop 2015-2019",
                    },
                    "values": {
                        "region": CROSSWALK,
                        "year": {"pop 2015-2019": "2019"},
                        "attribute": {"pop 2015-2019": "All residents"},
                        "group": {"pop 2015-2019": ""},
                    },
                },
            }
        },
    }
)
POP = SETTINGS.etl.sources["population"]
ELIG = SETTINGS.etl.sources["eligible"]
WIDE = SETTINGS.etl.sources["wide"]
PERIODS = SETTINGS.etl.sources["periods"]


def frame(columns: list[str], *rows: tuple[str, ...]) -> pd.DataFrame:
    """As `etl.csv_source.read_csv` returns a file: strings, and a 1-based `_row`."""
    df = pd.DataFrame(list(rows), columns=columns, dtype=object)
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


def population(*rows: tuple[str, ...]) -> pd.DataFrame:
    return frame(list(POP_COLUMNS.values()), *rows)


def eligible(*rows: tuple[str, ...]) -> pd.DataFrame:
    return frame(list(ELIG_COLUMNS.values()), *rows)


def as_dicts(rows: pd.DataFrame) -> list[dict]:
    stored = rows.drop(columns="parts")  # what the runner stores; `parts` is for counting
    return stored.astype(object).where(stored.notna(), None).to_dict("records")


def accounted(raw: pd.DataFrame, rows: pd.DataFrame, quarantined: pd.DataFrame) -> None:
    """Every source row is loaded or quarantined, never both, never neither."""
    assert rows["parts"].sum() + len(quarantined) == len(raw)


def test_crosswalk_sums_the_parts_of_an_area() -> None:
    raw = population(
        ("2019", "Allston", "TOTAL", "", "19,261"),
        ("2019", "Dorchester", "TOTAL", "", "126909"),
        ("2019", "Brighton", "TOTAL", "", "55297"),
    )
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert quarantined.empty
    assert as_dicts(rows) == [
        {"year": 2019, "region": "Allston / Brighton", "attribute": "", "group_value": "", "population": 74558},
        {"year": 2019, "region": "Dorchester", "attribute": "", "group_value": "", "population": 126909},
    ]
    # Each source row that went into a sum counts as loaded: 3 loaded, 2 stored.
    assert rows["parts"].sum() == 3
    accounted(raw, rows, quarantined)


def test_nothing_summed_loads_one_row_per_source_row() -> None:
    raw = population(("2019", "Dorchester", "TOTAL", "", "126909"), ("2017", "Dorchester", "TOTAL", "", "125947"))
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert quarantined.empty and len(rows) == rows["parts"].sum() == 2
    assert rows["population"].tolist() == [126909, 125947]


def test_a_true_duplicate_is_quarantined_not_summed() -> None:
    raw = population(
        ("2019", "Allston", "TOTAL", "", "19261"),
        ("2019", "Brighton", "TOTAL", "", "55297"),
        ("2019", "Allston", "TOTAL", "", "19261"),  # the same source values again
        ("2019.0", "Brighton", "TOTAL", "", "1"),  # the same year, written differently
    )
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert rows["population"].tolist() == [74558]
    assert quarantined["_row"].tolist() == [3, 4]
    assert quarantined["reason"].tolist() == [DUPLICATE, DUPLICATE]
    assert json.loads(quarantined["raw"][0]) == {
        "Year": "2019",
        "Area": "Allston",
        "Breakdown": "TOTAL",
        "Category": "",
        "Residents": "19261",
    }
    assert rows["parts"].sum() == 2
    accounted(raw, rows, quarantined)


def test_a_total_row_given_twice_is_a_duplicate_whatever_its_category_cell() -> None:
    raw = population(("2019", "Dorchester", "TOTAL", "", "5"), ("2019", "Dorchester", "TOTAL", "all", "5"))
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert rows["population"].tolist() == [5]
    assert quarantined["reason"].tolist() == [DUPLICATE]


def test_a_quarantined_part_takes_its_whole_area_with_it() -> None:
    """Loading Brighton alone as 'Allston / Brighton' would understate the area's residents."""
    raw = population(
        ("2019", "Allston", "TOTAL", "", "n/a"),
        ("2019", "Brighton", "TOTAL", "", "55297"),
        ("2019", "Dorchester", "TOTAL", "", "126909"),
    )
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert rows["region"].tolist() == ["Dorchester"]
    assert quarantined["_row"].tolist() == [1, 2]
    assert quarantined["reason"][0] == "population: expected a whole number >= 0, got 'n/a'"
    assert quarantined["reason"][1] == "summed with quarantined row(s) 1 of the same year, region and group"
    accounted(raw, rows, quarantined)


def test_a_duplicate_of_a_good_part_does_not_spoil_the_sum() -> None:
    raw = population(
        ("2019", "Allston", "TOTAL", "", "19261"),
        ("2019", "Brighton", "TOTAL", "", "55297"),
        ("2019", "Allston", "TOTAL", "", "oops"),  # a repeat, and unreadable too
    )
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert rows["population"].tolist() == [74558]
    assert quarantined["_row"].tolist() == [3]
    assert quarantined["reason"][0] == "population: expected a whole number >= 0, got 'oops'"


def test_group_codes_mapped_to_one_group_sum_too() -> None:
    raw = population(
        ("2019", "Dorchester", "Sex", "X", "10"),
        ("2019", "Dorchester", "Sex", "U", "15"),
        ("2019", "Dorchester", "Sex", "F", "100"),
        ("2019", "Allston", "Sex", "F", "7"),
        ("2019", "Brighton", "Sex", "F", "8"),
    )
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert quarantined.empty
    got = {(r["region"], r["group_value"]): r["population"] for r in as_dicts(rows)}
    assert got == {
        ("Dorchester", "Not stated"): 25,
        ("Dorchester", "Female"): 100,
        ("Allston / Brighton", "Female"): 15,
    }
    accounted(raw, rows, quarantined)


def test_eligible_low_high_and_recipients_sum_null_if_any_part_is_null() -> None:
    raw = eligible(
        ("2019", "HB", "Allston", "TOTAL", "", "100", "90", "110", "60"),
        ("2019", "HB", "Brighton", "TOTAL", "", "300", "", "330", "200"),
        ("2019", "HB", "Dorchester", "TOTAL", "", "500", "450", "", ""),
    )
    rows, quarantined = map_reference(raw, ELIG, SETTINGS)
    assert quarantined.empty
    assert as_dicts(rows) == [
        {
            "year": 2019,
            "programme": "benefit",
            "region": "Allston / Brighton",
            "attribute": "",
            "group_value": "",
            "eligible": 400,
            "eligible_low": None,  # Brighton's low estimate is missing: no partial sum
            "eligible_high": 440,
            "recipients": 260,
        },
        {
            "year": 2019,
            "programme": "benefit",
            "region": "Dorchester",
            "attribute": "",
            "group_value": "",
            "eligible": 500,
            "eligible_low": 450,
            "eligible_high": None,
            "recipients": None,
        },
    ]
    assert str(rows["eligible_low"].dtype) == "Int64"
    assert rows["parts"].sum() == 3


def test_parts_of_different_programmes_or_years_are_not_summed() -> None:
    raw = eligible(
        ("2019", "HB", "Allston", "TOTAL", "", "100", "", "", ""),
        ("2018", "HB", "Brighton", "TOTAL", "", "300", "", "", ""),
    )
    rows, quarantined = map_reference(raw, ELIG, SETTINGS)
    assert quarantined.empty
    assert rows[["year", "eligible"]].values.tolist() == [[2019, 100], [2018, 300]]


def test_a_wide_table_takes_year_and_total_from_the_column_header() -> None:
    raw = frame(
        ["Neighborhoods", "pop 2013-2017", "pop 2015-2019"],
        ("Allston", "19363", "19261"),
        ("Brighton", "51785", "55297"),
        ("Dorchester", "125947", "126909"),
        ("Fenway", "32598", "33489"),  # not in the crosswalk
    )
    rows, quarantined = map_reference(raw, WIDE, SETTINGS)
    assert as_dicts(rows) == [
        {"year": 2019, "region": "Allston / Brighton", "attribute": "", "group_value": "", "population": 74558},
        {"year": 2019, "region": "Dorchester", "attribute": "", "group_value": "", "population": 126909},
    ]
    assert quarantined["reason"].tolist() == ["region: no mapping for 'Fenway'; region: empty"]
    accounted(raw, rows, quarantined)


def test_year_cells_are_mapped_by_values_year() -> None:
    raw = population(
        ("2015-2019", "Allston", "TOTAL", "", "19261"),
        ("2013-2017", "Allston", "TOTAL", "", "19363"),
        ("2010-2014", "Allston", "TOTAL", "", "1"),
    )
    rows, quarantined = map_reference(raw, PERIODS, SETTINGS)
    assert rows[["year", "population"]].values.tolist() == [[2019, 19261], [2017, 19363]]
    assert quarantined["reason"].tolist() == ["year: no mapping for '2010-2014'"]


def test_nothing_loaded_still_gives_the_columns() -> None:
    raw = population(("year?", "Allston", "TOTAL", "", "1"))
    rows, quarantined = map_reference(raw, POP, SETTINGS)
    assert rows.empty and list(rows.columns) == ["year", "region", "attribute", "group_value", "population", "parts"]
    assert rows["parts"].sum() == 0
    assert quarantined["reason"].tolist() == ["year: expected a year, got 'year?'"]


@pytest.mark.parametrize("value", ["-1", "2.5", ""])
def test_population_must_be_a_whole_number(value: str) -> None:
    rows, quarantined = map_reference(population(("2019", "Dorchester", "TOTAL", "", value)), POP, SETTINGS)
    assert rows.empty
    assert quarantined["reason"].tolist() == [f"population: expected a whole number >= 0, got '{value}'"]
