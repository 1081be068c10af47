"""Reference tables in published shapes: workbooks, report-style blocks, wide tables; and
the figures they carry (non-recipients, rates, thousands, a national row)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from etl.errors import ColumnsMissing, SourceMissing, TerminalError
from etl.reference import map_reference
from etl.tables import read_reference_table
from metrics.config import ReferenceCsvSource, Settings

SETTINGS = Settings.model_validate(
    {
        "services": {"pc": {"department": "Pensions", "entitlement": True}},
        "groups": {
            "family": {"label": {"en": "Family"}, "values": ["Couple", "Single", "Not stated"], "reference": "Couple"}
        },
    }
)

# A sheet laid out as DWP lays out its take-up tables (titles, notes, ranges, [x]).
REPORT = [
    ["Take-up of a benefit"],
    ["Table 1: take-up by family type"],
    [None, None, None, None, None, None, None, "Thousands"],
    [None, "All", None, None, "Couple", None, None],
    ["Number of recipients"],
    ["FYE 2023", 1320, None, None, 200],
    ["FYE 2024", 1320, None, None, 180],
    ["Estimated number of entitled non-recipients (with range)"],
    ["FYE 2023", 700, "(640,", "760)", 140, "(110,", "170)"],
    ["FYE 2024", "[x]", "[x]", "[x]", 200, "(160,", "240)"],
    [None],
    ["Estimated caseload take-up (with range)"],
    ["FYE 2023", 65, "(64,", "67)", 59, "(54,", "64)"],
]
TITLES = {
    "Number of recipients": "recipients",
    "Estimated number of entitled non-recipients (with range)": "non_recipients",
}


def workbook(path: Path, rows: list[list], sheet: str = "T1") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws.append(["About these tables"])
    ws = wb.create_sheet(sheet)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def source(**fields: object) -> ReferenceCsvSource:
    return ReferenceCsvSource.model_validate({"kind": "eligible_csv", "path": "t", **fields})


REPORT_SOURCE = {
    "sheet": "T1",
    "blocks": {"header_row": 4, "titles": TITLES},
    "scale": 1000,
    "total_label": "All",
    "constants": {"programme": "pc", "region": "GB"},
    "columns": {
        "year": "row",
        "attribute": "column",
        "group": "column",
        "recipients": "recipients",
        "non_recipients": "non_recipients",
        "non_recipients_low": "non_recipients low",
        "non_recipients_high": "non_recipients high",
    },
    "values": {"year": {"FYE 2023": "2023", "FYE 2024": "2024"}, "attribute": {"Couple": "family"}},
}


def test_a_report_style_sheet_becomes_one_row_per_year_and_category(tmp_path: Path) -> None:
    path = workbook(tmp_path / "t.xlsx", REPORT)
    raw = read_reference_table(path, source(**REPORT_SOURCE))
    assert raw[["row", "column", "cell", "recipients", "non_recipients"]].values.tolist() == [
        ["FYE 2023", "All", "T1!B6", "1320", "700"],
        ["FYE 2023", "Couple", "T1!E6", "200", "140"],
        ["FYE 2024", "All", "T1!B7", "1320", "[x]"],
        ["FYE 2024", "Couple", "T1!E7", "180", "200"],
    ]
    # The range after a figure; the take-up block is not configured and not read.
    assert raw[["non_recipients low", "non_recipients high"]].values.tolist() == [
        ["640", "760"],
        ["110", "170"],
        ["", ""],
        ["160", "240"],
    ]
    assert raw["_row"].tolist() == [1, 2, 3, 4]


def test_non_recipients_in_thousands_make_eligible_people_and_a_marker_is_quarantined(tmp_path: Path) -> None:
    src = source(**REPORT_SOURCE)
    raw = read_reference_table(workbook(tmp_path / "t.xlsx", REPORT), src)
    rows, quarantined = map_reference(raw, src, SETTINGS)
    assert len(rows) + len(quarantined) == len(raw)
    got = rows.set_index(["year", "group_value"])
    assert got.loc[(2023, ""), ["recipients", "eligible", "eligible_low", "eligible_high"]].tolist() == [
        1_320_000,
        2_020_000,
        1_960_000,
        2_080_000,
    ]
    assert got.loc[(2024, "Couple"), "eligible"] == 380_000 and got.loc[(2024, "Couple"), "region"] == "GB"
    assert quarantined["reason"].tolist() == ["non_recipients: expected a whole number >= 0, got '[x]'"]
    assert '"cell": "T1!B7"' in quarantined["raw"].iloc[0]


def test_an_ods_workbook_reads_like_an_xlsx(tmp_path: Path) -> None:
    xlsx = workbook(tmp_path / "t.xlsx", REPORT)
    ods = tmp_path / "t.ods"
    with pd.ExcelWriter(ods, engine="odf") as writer:
        for name, sheet in pd.read_excel(xlsx, sheet_name=None, header=None).items():
            sheet.to_excel(writer, sheet_name=name, header=False, index=False)
    src = source(**REPORT_SOURCE)
    a, b = read_reference_table(xlsx, src), read_reference_table(ods, src)
    # Numbers come back from the ODS writer as floats ("1320.0" vs "1320"): compare values.
    assert a[["row", "column", "cell"]].equals(b[["row", "column", "cell"]])
    assert (a["recipients"].astype(float) == b["recipients"].astype(float)).all()


def test_workbook_problems_are_terminal_and_named(tmp_path: Path) -> None:
    path = workbook(tmp_path / "t.xlsx", REPORT)
    with pytest.raises(TerminalError, match=r"no sheet 'T9'; the workbook has \['Cover', 'T1'\]"):
        read_reference_table(path, source(**{**REPORT_SOURCE, "sheet": "T9"}))
    titles = {**TITLES, "Number of awards": "awards"}
    with pytest.raises(TerminalError, match=r"block title\(s\) \['Number of awards'\] not found"):
        read_reference_table(path, source(**{**REPORT_SOURCE, "blocks": {"header_row": 4, "titles": titles}}))
    with pytest.raises(SourceMissing, match="file not found"):
        read_reference_table(tmp_path / "nope.xlsx", source(**REPORT_SOURCE))
    (tmp_path / "bad.xlsx").write_text("not a workbook")
    with pytest.raises(TerminalError, match=r"cannot be read as \.xlsx workbook"):
        read_reference_table(tmp_path / "bad.xlsx", source(**REPORT_SOURCE))


WIDE = "state,ty2022_pct,ty2021_pct\nNational,80.8,80.8\nAlabama,79.2,79.8\nAlaska,175.1,\n"
WIDE_SOURCE = {
    "unpivot": {"columns": ["ty2022_pct", "ty2021_pct"], "name": "tax_year", "value": "pct"},
    "all_regions_label": "National",
    "total_label": "All",
    "constants": {"programme": "pc", "attribute": "All", "group": "All"},
    "columns": {"year": "tax_year", "region": "state", "rate": "pct"},
    "values": {"year": {"ty2022_pct": "2022", "ty2021_pct": "2021"}},
}


def test_a_wide_table_of_rates_unpivots_and_bad_rates_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(WIDE, encoding="utf-8")
    src = source(**WIDE_SOURCE)
    raw = read_reference_table(path, src)
    assert len(raw) == 6 and raw["_row"].tolist() == [1, 2, 3, 4, 5, 6]
    rows, quarantined = map_reference(raw, src, SETTINGS)
    assert len(rows) + len(quarantined) == 6
    got = {(r.year, r.region): r.rate for r in rows.itertuples()}
    # National is the whole area's own figure (region ''), kept to the published digits.
    assert got == {(2022, ""): 0.808, (2021, ""): 0.808, (2022, "Alabama"): 0.792, (2021, "Alabama"): 0.798}
    assert "eligible" not in rows  # no counts are published, none are made up
    assert sorted(quarantined["reason"]) == [
        "rate: expected a percentage from 0 to 100, got '175.1'",
        "rate: expected a published rate or a count of eligible people",
    ]


def test_a_missing_unpivot_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(WIDE, encoding="utf-8")
    unpivot = {**WIDE_SOURCE["unpivot"], "columns": ["ty2022_pct", "ty2020_pct"]}  # type: ignore[dict-item]
    with pytest.raises(ColumnsMissing, match=r"w.csv: unpivot column\(s\) \['ty2020_pct'\] not found"):
        read_reference_table(path, source(**{**WIDE_SOURCE, "unpivot": unpivot}))


def test_an_eligible_table_needs_some_figure() -> None:
    with pytest.raises(ValueError, match="expected eligible, or recipients and non_recipients, or a published rate"):
        source(columns={"year": "y", "programme": "p", "region": "r", "attribute": "a", "group": "g"})
    with pytest.raises(ValueError, match="give eligible or non_recipients, not both"):
        source(
            columns={"year": "y", "programme": "p", "region": "r", "attribute": "a", "group": "g", "eligible": "e"},
            constants={"non_recipients": "1", "recipients": "1"},
        )
