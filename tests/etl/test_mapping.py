"""Column and value mapping, local time to UTC, and quarantine reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.config import config_context

from etl.mapping import map_cases, parse_local_times
from etl.schema import case_schema, failures
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


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M", None])
def test_a_column_parses_as_each_of_its_values_alone(fmt: str | None) -> None:
    """Distinct strings are parsed once for the column: each row gets what its own string
    gives parsed by itself (repeats, empty cells, unreadable text, clock changes, offsets)."""
    rng = np.random.default_rng(3)
    pool = ["2024-10-27 01:30", "2024-03-31 01:30", "2024-01-15 12:00", "", "yesterday", "2024-13-01 10:00",
            "2024-07-01 23:59"]  # fmt: skip
    if fmt is None:  # ISO 8601 with offsets
        pool = ["2024-01-15T12:00:00+01:00", "2024-10-27T01:30:00+00:00", "", "yesterday", "2024-07-01T23:59:00-04:00"]
    text = pd.Series(rng.choice(pool, size=300), index=np.arange(300) * 2)
    utc, bad = parse_local_times(text, fmt, "Europe/London")
    alone = [parse_local_times(pd.Series([v]), fmt, "Europe/London") for v in text]
    assert utc.index.equals(text.index) and bad.index.equals(text.index)
    assert [None if pd.isna(u) else u for u in utc] == [None if pd.isna(u[0][0]) else u[0][0] for u in alone]
    assert bad.tolist() == [bool(b[1][0]) for b in alone]
    assert bad.sum() > 0 and utc.notna().sum() > 0


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01 10:00"])
def test_unreadable_times_are_flagged(text: str) -> None:
    _, bad = parse_local_times(pd.Series([text]), "%Y-%m-%d %H:%M", "UTC")
    assert bad.tolist() == [True]


def test_a_row_breaking_many_rules_is_one_record_with_every_reason_once() -> None:
    many = ("A1", "01/07/2025 09:30", "30/06/2025 09:00", "XX", "FAX", "North", "0", "2.5", "NO", "Z")
    rows = raw(GOOD, many, ("A3", *GOOD[1:7], "inf", *GOOD[8:]), ("A4", *GOOD[1:]))
    m = map_cases(rows, "cases", SOURCE, SETTINGS)
    assert len(m.cases) + len(m.quarantined) == len(rows)
    assert m.cases["source_id"].tolist() == ["A1", "A4"]
    assert m.quarantined["_row"].tolist() == [2, 3]
    # Parsing's reasons and the schema's, merged in field order; a field that could not be
    # read ('XX' has no mapping) gets no second reason from the schema ("service: empty").
    assert m.quarantined["reason"][0].split("; ") == [
        "source_id: appears earlier in the same file (A1)",
        "closed_at: before opened_at",
        "service: no mapping for 'XX'",
        "channel: no mapping for 'FAX'",
        "outcome: no mapping for 'NO'",
        "handoffs: expected a whole number >= 0, got '2.5'",
        "rating: expected 1 to 5 or empty, got '0'",
        "age_band: no mapping for 'Z'",
    ]
    # 'inf' reads as a number but is no count: quarantined, not a crash of the whole batch.
    assert m.quarantined["reason"][1] == "handoffs: expected a whole number >= 0, got 'inf'"


# A source whose every rule applies: strict services and regions, mapped channels, a group.
STRICT = Settings.model_validate(
    {
        **SETTINGS.model_dump(include={"timezone", "channels", "services", "groups"}),
        "regions": [{"id": "North"}, {"id": "South"}],
        "etl": {
            "sources": {
                "cases": {
                    "kind": "cases_csv",
                    "path": "x.csv",
                    "strict_regions": True,
                    "columns": {"source_id": "Ref", "opened_at": "Logged", "service": "Type"},
                    "groups": {"age_band": "Age"},
                    "values": {"channel": {"T": "phone"}},
                }
            }
        },
    }
)
T0, T1 = pd.Timestamp("2025-07-01 08:00"), pd.Timestamp("2025-07-02 08:00")


def frame(rows: list[dict]) -> pd.DataFrame:
    """A canonical frame as map_cases hands it to the schema: good values unless given."""
    good = {
        "opened_at": T0,
        "first_response_at": pd.NaT,
        "closed_at": T1,
        "service": "pothole",
        "region": "North",
        "channel": "phone",
        "outcome": "",
        "handoffs": 0.0,
        "reopened": 0.0,
        "rating": np.nan,
        "age_band": "Young",
    }
    df = pd.DataFrame([{**good, "source_id": f"id{i}", **row} for i, row in enumerate(rows)])
    return df.astype({f: "datetime64[ns]" for f in ("opened_at", "first_response_at", "closed_at")})


def test_case_schema_gives_every_broken_rule_of_every_row_in_its_wording() -> None:
    schema = case_schema(STRICT, STRICT.etl.sources["cases"])
    df = frame(
        [
            {},
            {"source_id": "id0", "service": "ghost", "region": "Mars", "channel": "fax", "outcome": "lost"},
            {"opened_at": pd.NaT, "closed_at": T0, "first_response_at": T0, "service": ""},
            {"first_response_at": T0 - pd.Timedelta(minutes=1), "handoffs": -1.0, "reopened": 0.5, "rating": 6.0},
            {"source_id": "", "age_band": "Teen", "rating": 5.0},
        ]
    )
    found = failures(schema, df, {"rating": pd.Series(["", "", "", "6", "5"])})
    assert found.groupby("row")["reason"].agg(list).to_dict() == {
        1: [
            "source_id: appears earlier in the same file (id0)",
            "service: 'ghost' is not a configured service",
            "region: 'Mars' is not a configured region",
            "channel: 'fax' is not a configured channel",
            f"outcome: 'lost' is not one of {['resolved', 'granted', 'refused', 'withdrawn', 'referred']}",
        ],
        # No opened_at: "empty", and nothing is "before" a time that is not there.
        2: ["opened_at: empty", "service: empty"],
        3: [
            "handoffs: expected a whole number >= 0, got '-1.0'",
            "reopened: expected a whole number >= 0, got '0.5'",
            "rating: expected 1 to 5 or empty, got '6'",
            "first_response_at: before opened_at",
        ],
        4: ["source_id: empty", "age_band: 'Teen' is not one of ['Young', 'Old', 'Not stated']"],
    }
    # pandera can be switched off by environment variables; the quarantine cannot.
    with config_context(validation_enabled=False):
        assert len(failures(schema, df)) == len(found)
    # A frame that is not the canonical one is a bug of the caller, not bad rows.
    with pytest.raises(TypeError, match="rating"):
        failures(schema, df.astype({"rating": str}))


ROW = st.fixed_dictionaries(
    {
        "source_id": st.sampled_from(["a", "b", ""]),
        "opened_at": st.sampled_from([pd.NaT, T0, T1]),
        "closed_at": st.sampled_from([pd.NaT, T0, T1]),
        "first_response_at": st.sampled_from([pd.NaT, T0, T1]),
        "service": st.sampled_from(["pothole", "benefit", "", "ghost"]),
        "region": st.sampled_from(["North", "", "Mars"]),
        "channel": st.sampled_from(["web", "", "fax"]),
        "outcome": st.sampled_from(["", "refused", "lost"]),
        "handoffs": st.sampled_from([0.0, 3.0, -1.0, 1.5, np.nan]),
        "reopened": st.sampled_from([0.0, np.inf]),
        "rating": st.sampled_from([np.nan, 1.0, 5.0, 0.0, 2.5]),
        "age_band": st.sampled_from(["Old", "Not stated", "Teen"]),
    }
)


def expected(rows: list[dict]) -> set[tuple[int, str]]:
    """The rules, one row at a time in plain Python: (row, field) of every one broken."""
    broken, seen = set(), set()
    for i, r in enumerate(rows):
        checks = {
            "source_id": r["source_id"] == "" or r["source_id"] in seen,
            "opened_at": pd.isna(r["opened_at"]),
            "closed_at": pd.notna(r["opened_at"]) and pd.notna(r["closed_at"]) and r["closed_at"] < r["opened_at"],
            "first_response_at": pd.notna(r["opened_at"])
            and pd.notna(r["first_response_at"])
            and r["first_response_at"] < r["opened_at"],
            "service": r["service"] not in ("pothole", "benefit"),
            "region": r["region"] not in ("North", ""),
            "channel": r["channel"] not in ("web", ""),
            "outcome": r["outcome"] == "lost",
            "handoffs": pd.notna(r["handoffs"]) and (r["handoffs"] < 0 or r["handoffs"] % 1 != 0),
            "reopened": r["reopened"] == np.inf,
            "rating": pd.notna(r["rating"]) and r["rating"] not in (1, 2, 3, 4, 5),
            "age_band": r["age_band"] == "Teen",
        }
        seen.add(r["source_id"])
        broken |= {(i, field) for field, bad in checks.items() if bad}
    return broken


@settings(max_examples=40, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=8))
def test_case_schema_finds_exactly_the_broken_rules(rows: list[dict]) -> None:
    found = failures(case_schema(STRICT, STRICT.etl.sources["cases"]), frame(rows))
    assert set(zip(found["row"], found["field"], strict=True)) == expected(rows)
    assert all(reason.startswith(f"{field}: ") for field, reason in zip(found["field"], found["reason"], strict=True))


def test_a_value_with_the_slice_separator_is_quarantined_not_split() -> None:
    row = ("A2", *GOOD[1:5], "North|South", *GOOD[6:])
    m = map_cases(raw(GOOD, row), "cases", SOURCE, SETTINGS)
    assert len(m.cases) == 1 and len(m.quarantined) == 1
    assert m.quarantined["reason"].iloc[0] == "region: 'North|South' contains '|', which separates slices; map it"


def test_row_hash_is_the_digest_of_the_frames_text() -> None:
    """The stored digests stay comparable: row_hash (each distinct value formatted once) is
    the digest of `cases.astype(str)`, pandas' own text of the whole frame, on frames of
    timestamps that need dates only, seconds, decimals or nothing (pandas picks one format
    for all the frame's timestamp columns), with None, NaN and <NA> among the values."""
    from etl.mapping import row_hash

    stamps = [None, "2024-01-01", "2024-03-05 10:20", "2024-03-05 10:20:30.25", "2024-03-05 10:20:30.000001"]
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(1, 6))
        cases = pd.DataFrame({
            "service": rng.choice(["a", "b", None], n), "department": rng.choice(["d", None], n),
            "channel": "c", "region": rng.choice(["r", "s"], n),
            **{c: pd.to_datetime(list(rng.choice(np.array(stamps, dtype=object), n)), format="mixed")
               for c in ("opened_at", "first_response_at", "closed_at", "due_at")},
            "outcome": rng.choice(np.array([None, np.nan, "x"], dtype=object), n),
            "citizen_key": rng.choice(np.array([None, "k"], dtype=object), n),
            "handoffs": rng.integers(0, 3, n), "reopened": rng.integers(0, 2, n),
            "rating": pd.array(rng.choice(np.array([1, 5, None], dtype=object), n), dtype="Int64"),
        })  # fmt: skip
        groups = {"sex": pd.Series(rng.choice(np.array(["F", None], dtype=object), n)), "age": pd.Series(["1"] * n)}
        text = cases.astype(str)
        for attr in sorted(groups):
            text[attr] = groups[attr].astype(str).to_numpy()
        expected = pd.util.hash_pandas_object(text, index=False).map("{:016x}".format)
        assert row_hash(cases, groups).tolist() == expected.tolist()
