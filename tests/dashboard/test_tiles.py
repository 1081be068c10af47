"""Headline tiles and value formatting, from cells written into a real SQLite store."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from dashboard import data
from dashboard.formatting import (
    add_months,
    format_change,
    format_value,
    month_runs,
    parse_month,
)
from dashboard.tiles import tile_data

OCT = dt.date(2026, 10, 1)
SEP = dt.date(2026, 9, 1)
OCT_LAST_YEAR = dt.date(2025, 10, 1)


# --- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.8234, "proportion", "82.3%"),
        (1.0, "proportion", "100.0%"),
        (0.0, "proportion", "0.0%"),  # a real zero stays a zero
        (5.97291, "days", "6.0 days"),
        (12.25, "hours", "12.2 hours"),  # banker's rounding of the float 12.25
        (1234567, "count", "1,234,567"),
        (602.0, "count", "602"),
        (0.379708, "per_1000", "0.38 per 1,000"),
        (12.3456, "per_1000", "12.35 per 1,000"),
    ],
)
def test_format_value_follows_the_unit(value, unit, text):
    assert format_value(value, unit) == text


@pytest.mark.parametrize("missing", [None, math.nan, float("nan")])
def test_a_missing_value_is_never_blank_or_zero(missing):
    assert format_value(missing, "proportion") == "Not available"
    assert format_value(missing, "count") == "Not available"


def test_an_unknown_unit_is_an_error():
    with pytest.raises(ValueError, match="unknown unit 'percent'"):
        format_value(0.5, "percent")


@pytest.mark.parametrize(
    ("diff", "unit", "text"),
    [
        (0.021, "proportion", "+2.1 pts"),
        (-0.0266, "proportion", "\u22122.7 pts"),
        (0.0004, "proportion", None),  # 0.04 pts shows as no change
        (-0.25, "days", "\u22120.2 days"),
        (1.26, "days", "+1.3 days"),
        (1250, "count", "+1,250"),
        (-3, "count", "\u22123"),
        (0, "count", None),
        (0.052, "per_1000", "+0.05 per 1,000"),
    ],
)
def test_format_change_is_signed_in_the_unit(diff, unit, text):
    assert format_change(diff, unit) == text


def test_months():
    assert parse_month("2026-10") == OCT
    assert parse_month("2026-10-17") == OCT
    assert parse_month("October") is None
    assert parse_month("2026-13") is None
    assert add_months(OCT, -1) == SEP
    assert add_months(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert add_months(OCT, -12) == OCT_LAST_YEAR
    assert add_months(OCT, 3) == dt.date(2027, 1, 1)
    months = [dt.date(2024, m, 1) for m in (1, 2, 3, 5, 8, 9)]
    assert month_runs(months) == "Jan 2024 to Mar 2024, May 2024, Aug 2024 to Sept 2024"


# --- tiles -----------------------------------------------------------------------------------


def on_time(period, value, **kw):
    return {"metric": "on_time_rate", "period": period, "value": value, **kw}


def test_tile_shows_value_cases_target_status_and_changes(cell_store, settings, write_cells):
    write_cells(
        [
            on_time(OCT_LAST_YEAR, 0.85, n=400),
            on_time(SEP, 0.80, n=410),
            on_time(OCT, 0.823, n=434, ci_low=0.78, ci_high=0.86),
        ]
    )
    t = tile_data(cell_store, settings, "on_time_rate", OCT)
    assert t["name"] == "Settled within the statutory deadline"
    assert t["state"] == "value"
    assert t["value"] == pytest.approx(0.823)
    assert t["value_text"] == "82.3%"
    assert t["n"] == 434
    assert t["n_text"] == "Based on 434 determined cases"
    assert t["target_text"] == "Target: 90.0% or more; off track below 80.0%"
    assert t["status"] == "at_risk"
    assert t["status_text"] == "At risk"
    assert t["change_month"] == pytest.approx(0.023)
    assert t["change_month_text"] == "+2.3 pts since last month"
    assert t["change_year"] == pytest.approx(-0.027)
    assert t["change_year_text"] == "\u22122.7 pts since October 2025"


def test_lower_is_better_and_counts(cell_store, settings, write_cells):
    write_cells(
        [
            {"metric": "resolution_days_median", "period": SEP, "value": 9.1},
            {"metric": "resolution_days_median", "period": OCT, "value": 8.4},
            {"metric": "cases_opened", "period": SEP, "value": 1200, "n": 1200},
            {"metric": "cases_opened", "period": OCT, "value": 1234, "n": 1234},
            {"metric": "cases_opened", "period": OCT_LAST_YEAR, "value": 1234, "n": 1234},
        ]
    )
    days = tile_data(cell_store, settings, "resolution_days_median", OCT)
    assert days["value_text"] == "8.4 days"
    assert days["status"] == "off_track"  # above the 8-day threshold
    assert days["target_text"] == "Target: 5.0 days or less; off track above 8.0 days"
    assert days["change_month_text"] == "\u22120.7 days since last month"
    assert days["change_year_text"] == "No comparison with October 2025: no figure then"

    count = tile_data(cell_store, settings, "cases_opened", OCT)
    assert count["value_text"] == "1,234"
    assert count["n_text"] == "Based on 1,234 cases opened"
    assert count["change_month_text"] == "+34 since last month"
    assert count["change_year_text"] == "No change since October 2025"
    # Neutral indicator without a target: no status at all.
    assert count["status"] is None and count["status_text"] is None and count["target_text"] is None


def test_suppressed_is_said_never_zero(cell_store, settings, write_cells):
    write_cells(
        [
            on_time(SEP, 0.8),
            on_time(OCT, None, suppressed=True),
        ]
    )
    t = tile_data(cell_store, settings, "on_time_rate", OCT)
    assert t["state"] == "suppressed"
    assert t["value"] is None and t["n"] is None
    assert t["value_text"] == "Suppressed (fewer than 10 cases)"
    assert t["status"] is None
    assert t["status_text"] == "No status: figure suppressed"
    assert t["change_month_text"] is None and t["change_year_text"] is None


def test_min_cell_size_comes_from_settings(cell_store, settings, write_cells):
    write_cells([on_time(OCT, None, suppressed=True, note="suppressed: fewer than 25 cases")])
    strict = type(settings).model_validate({**settings.model_dump(), "privacy": {"min_cell_size": 25}})
    assert tile_data(cell_store, strict, "on_time_rate", OCT)["value_text"] == ("Suppressed (fewer than 25 cases)")


def test_secondary_suppression_says_why(cell_store, settings, write_cells):
    write_cells(
        [
            on_time(
                OCT,
                None,
                region="Highmoor",
                suppressed=True,
                note="suppressed: would reveal a smaller suppressed figure",
            )
        ]
    )
    t = tile_data(cell_store, settings, "on_time_rate", OCT, "Highmoor")
    assert t["value_text"] == "Suppressed (would reveal a smaller suppressed figure)"


def test_suppressed_last_month_is_not_a_comparison(cell_store, settings, write_cells):
    write_cells([on_time(SEP, None, suppressed=True), on_time(OCT, 0.91)])
    t = tile_data(cell_store, settings, "on_time_rate", OCT)
    assert t["status"] == "on_track"
    assert t["change_month"] is None
    assert t["change_month_text"] == "No comparison with last month: suppressed then"


def test_missing_value_shows_the_cells_note(cell_store, settings, write_cells):
    write_cells(
        [
            {
                "metric": "resolution_days_median",
                "period": OCT,
                "value": None,
                "note": "not reached: fewer than half of the cases are resolved",
            }
        ]
    )
    t = tile_data(cell_store, settings, "resolution_days_median", OCT)
    assert t["state"] == "missing"
    assert t["value_text"] == "Not reached: fewer than half of the cases are resolved"
    assert t["status"] is None and t["status_text"] == "No status: no figure"


def test_no_cell_at_all_is_missing_not_zero(cell_store, settings, write_cells):
    write_cells([on_time(OCT, 0.9, region="Northgate")])
    t = tile_data(cell_store, settings, "on_time_rate", OCT, "Fenwick")
    assert t["state"] == "missing"
    assert t["value_text"] == "No figure for Fenwick for October 2026"


def test_region_reads_the_regions_cells(cell_store, settings, write_cells):
    write_cells(
        [
            on_time(OCT, 0.88),
            on_time(OCT, 0.95, region="Northgate"),
            on_time(SEP, 0.97, region="Northgate"),
            on_time(OCT, 0.70, region="Fenwick"),
        ]
    )
    assert tile_data(cell_store, settings, "on_time_rate", OCT)["value_text"] == "88.0%"
    north = tile_data(cell_store, settings, "on_time_rate", OCT, "Northgate")
    assert north["value_text"] == "95.0%"
    assert north["status"] == "on_track"
    assert north["change_month_text"] == "\u22122.0 pts since last month"
    fen = tile_data(cell_store, settings, "on_time_rate", OCT, "Fenwick")
    assert fen["value_text"] == "70.0%"
    assert fen["status"] == "off_track"


def test_indicator_without_region_breakdown(cell_store, settings, write_cells):
    write_cells([on_time(OCT, 0.88)])  # whole population only
    t = tile_data(cell_store, settings, "on_time_rate", OCT, "Fenwick")
    assert t["state"] == "missing"
    assert t["value_text"].startswith("Not broken down this way")


def test_a_new_refresh_is_read_not_the_cached_one(cell_store, settings, write_cells):
    write_cells([on_time(OCT, 0.5)])
    assert tile_data(cell_store, settings, "on_time_rate", OCT)["value_text"] == "50.0%"
    with cell_store.begin() as conn:  # a refresh replaces the cells...
        conn.exec_driver_sql("DELETE FROM metric_cells")
    write_cells([on_time(OCT, 0.6)])  # ...with those of a newer run
    assert data.data_version(cell_store) == 2
    assert tile_data(cell_store, settings, "on_time_rate", OCT)["value_text"] == "60.0%"


def test_a_count_target_is_for_all_regions_together(cell_store, settings, write_cells):
    write_cells(
        [
            {"metric": "backlog_open", "period": OCT, "value": 2600, "n": 2600},
            {"metric": "backlog_open", "period": OCT, "value": 180, "n": 180, "region": "Highmoor"},
        ]
    )
    everyone = tile_data(cell_store, settings, "backlog_open", OCT)
    assert everyone["status"] == "at_risk"
    assert everyone["target_text"] == "Target: 2,500 or less; off track above 3,500"
    # 180 open cases in one region says nothing against a ministry-wide 2,500.
    region = tile_data(cell_store, settings, "backlog_open", OCT, "Highmoor")
    assert region["value_text"] == "180"
    assert region["status"] is None
    assert region["status_text"] == "No status: the target is for everyone together"
    assert region["target_text"] == ("Target for everyone together: 2,500 or less; off track above 3,500")
    # A rate's target applies to every region.
    write_cells([on_time(OCT, 0.95, region="Highmoor")])
    assert tile_data(cell_store, settings, "on_time_rate", OCT, "Highmoor")["status"] == "on_track"
