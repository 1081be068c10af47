"""Column and value mapping, local time to UTC, and quarantine reasons."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from etl.mapping import map_cases, parse_local_times
from metrics.config import Settings

SETTINGS = Settings.model_validate(
    {
        "timezone": "Europe/London",
        "channels": ["phone", "web"],
        "services": {
            "pothole": {"department": "Transport", "deadline_working_days": 5},
            "benefit": {"department": "Welfare", "deadline_working_days": 20, "entitlement": True},
        },
        "groups": {
            "age_band": {"label": {"en": "Age"}, "values": ["Young", "Old", "Not stated"], "reference": "Young"}
        },
        "etl": {
            "sources": {
                "cases": {
                    "kind": "cases_csv",
                    "path": "x.csv",
                    "datetime_format": "%d/%m/%Y %H:%M",
                    "columns": {
                        "source_id": "Ref",
                        "opened_at": "Logged",
                        "closed_at": "Closed",
                        "service": "Type",
                        "channel": "Via",
                        "region": "Area",
                        "rating": "Score",
                        "handoffs": "Moves",
                        "outcome": "Result",
                    },
                    "groups": {"age_band": "Age"},
                    "values": {
                        "channel": {"T": "phone", "W": "web"},
                        "service": {"PH": "pothole", "BN": "benefit"},
                        "outcome": {"OK": "resolved", "Y": "granted"},
                        "age_band": {"Y": "Young", "O": "Old", "": "Not stated"},
                    },
                }
            }
        },
    }
)
SOURCE = SETTINGS.etl.sources["cases"]
COLUMNS = ["Ref", "Logged", "Closed", "Type", "Via", "Area", "Score", "Moves", "Result", "Age"]


def raw(*rows: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


GOOD = ("A1", "01/07/2025 09:30", "02/07/2025 10:00", "PH", "T", "North", "5", "0", "OK", "Y")


def test_good_row_is_mapped_to_canonical_values_in_utc() -> None:
    m = map_cases(raw(GOOD), "cases", SOURCE, SETTINGS)
    assert m.quarantined.empty
    case = m.cases.iloc[0]
    assert case["case_key"] == "cases:A1"
    assert case["service"] == "pothole" and case["department"] == "Transport"
    assert case["channel"] == "phone" and case["outcome"] == "resolved" and case["rating"] == 5
    # 09:30 British Summer Time is 08:30 UTC.
    assert case["opened_at"] == pd.Timestamp("2025-07-01 08:30")
    assert case["closed_at"] == pd.Timestamp("2025-07-02 09:00")
    assert m.groups.to_dict("records") == [{"case_key": "cases:A1", "attribute": "age_band", "value": "Young"}]


def test_empty_group_value_is_its_own_group_not_dropped() -> None:
    row = (*GOOD[:-1], "")
    m = map_cases(raw(row), "cases", SOURCE, SETTINGS)
    assert m.groups["value"].tolist() == ["Not stated"]


def test_bad_rows_are_quarantined_with_every_reason_and_raw_values() -> None:
    rows = raw(
        GOOD,
        ("A2", "31/02/2025 10:00", "", "PH", "T", "North", "", "0", "", "Y"),
        ("A3", "01/07/2025 09:30", "30/06/2025 09:00", "XX", "FAX", "North", "7", "-1", "OK", "Z"),
        ("A1", "01/07/2025 09:30", "", "PH", "T", "North", "", "0", "", "Y"),
        ("", "", "", "BN", "W", "", "", "", "", ""),
    )
    m = map_cases(rows, "cases", SOURCE, SETTINGS)
    assert len(m.cases) + len(m.quarantined) == len(rows)
    assert m.cases["source_id"].tolist() == ["A1"]
    reasons = dict(zip(m.quarantined["_row"], m.quarantined["reason"], strict=True))
    assert reasons[2] == "opened_at: cannot read '31/02/2025 10:00' as a date-time (%d/%m/%Y %H:%M)"
    r3 = reasons[3]
    for part in (
        "closed_at: before opened_at",
        "service: no mapping for 'XX'",
        "channel: no mapping for 'FAX'",
        "rating: expected 1 to 5 or empty, got '7'",
        "handoffs: expected a whole number >= 0, got '-1'",
        "age_band: no mapping for 'Z'",
    ):
        assert part in r3
    assert reasons[4] == "source_id: appears earlier in the same file (A1)"
    assert "source_id: empty" in reasons[5] and "opened_at: empty" in reasons[5]
    raw3 = json.loads(m.quarantined.set_index("_row").loc[3, "raw"])
    assert raw3["Via"] == "FAX" and raw3["Score"] == "7"


def test_missing_region_becomes_not_stated() -> None:
    row = (*GOOD[:5], "", *GOOD[6:])
    m = map_cases(raw(row), "cases", SOURCE, SETTINGS)
    assert m.cases.iloc[0]["region"] == "Not stated"


def test_clock_changes_lose_no_row() -> None:
    text = pd.Series(["2024-10-27 01:30", "2024-03-31 01:30", "2024-01-15 12:00", "2024-01-15T12:00:00+01:00"][:3])
    utc, bad = parse_local_times(text, "%Y-%m-%d %H:%M", "Europe/London")
    assert not bad.any()
    # Ambiguous autumn time: read as the summer-time (first) occurrence.
    assert utc[0] == pd.Timestamp("2024-10-27 00:30")
    # Non-existent spring time: moved forward to 02:00 BST = 01:00 UTC.
    assert utc[1] == pd.Timestamp("2024-03-31 01:00")
    assert utc[2] == pd.Timestamp("2024-01-15 12:00")


def test_iso_times_with_offsets_are_converted_from_their_offset() -> None:
    utc, bad = parse_local_times(pd.Series(["2024-01-15T12:00:00+01:00", ""]), None, "America/New_York")
    assert utc[0] == pd.Timestamp("2024-01-15 11:00") and pd.isna(utc[1]) and not bad.any()


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01 10:00"])
def test_unreadable_times_are_flagged(text: str) -> None:
    _, bad = parse_local_times(pd.Series([text]), "%Y-%m-%d %H:%M", "UTC")
    assert bad.tolist() == [True]
