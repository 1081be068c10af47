"""Charts and captions: suppressed and missing figures are never drawn as 0."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dashboard import data
from dashboard.figures import (
    complete_months,
    region_caption,
    region_figure,
    region_rows,
    region_table_rows,
    trend_caption,
    trend_figure,
)
from metrics.catalogue import CATALOGUE
from metrics.config import Target

ON_TIME = CATALOGUE["on_time_rate"]
TARGET = Target(target=0.9, threshold=0.8)
M = [dt.date(2026, m, 1) for m in range(1, 7)]


def trend_frame(write_cells, cell_store, rows):
    version = write_cells(rows)
    return data.monthly_cells(cell_store, "on_time_rate", (), version, 10)


def test_trend_leaves_gaps_and_draws_the_interval(cell_store, write_cells):
    df = trend_frame(
        write_cells,
        cell_store,
        [
            {"metric": "on_time_rate", "period": M[0], "value": 0.81, "ci_low": 0.75, "ci_high": 0.86},
            {"metric": "on_time_rate", "period": M[1], "value": None, "suppressed": True},
            {"metric": "on_time_rate", "period": M[3], "value": 0.92, "ci_low": 0.88, "ci_high": 0.95},
        ],
    )
    df = complete_months(df, M[0], M[3], tuple(M))
    assert list(df["period"]) == M[:4]  # March had no cell: added as a month with no figure
    fig = trend_figure(df, ON_TIME, TARGET)
    line = fig.data[-1]
    assert list(line.y) == [0.81, None, None, 0.92]  # gaps, not zeros
    assert line.connectgaps is False
    upper, lower = fig.data[0], fig.data[1]
    assert list(upper.y) == [0.86, None, None, 0.95]
    assert list(lower.y) == [0.75, None, None, 0.88]
    assert lower.fill == "tonexty"
    assert fig.layout.shapes[0].y0 == 0.9  # the target line
    # The axis spans the months shown, not a padded month before the first.
    assert pd.Timestamp(fig.layout.xaxis.range[0]) == pd.Timestamp("2025-12-17")
    assert pd.Timestamp(fig.layout.xaxis.range[1]) == pd.Timestamp("2026-04-16")
    caption = trend_caption(df, ON_TIME, "all regions", TARGET)
    assert "from January 2026 to April 2026" in caption
    assert "April 2026: 92.0%." in caption
    assert "shaded band is the 95% interval" in caption
    assert lower.name == "95% interval"

    assert "Suppressed, so left as gaps: Feb 2026." in caption
    assert "No figure, so left as gaps: Mar 2026." in caption


def test_trend_without_intervals_has_no_band(cell_store, write_cells):
    df = trend_frame(write_cells, cell_store, [{"metric": "on_time_rate", "period": p, "value": 0.8} for p in M[:3]])
    fig = trend_figure(df, ON_TIME)
    assert len(fig.data) == 1
    assert "interval" not in trend_caption(df, ON_TIME, "all regions")


def test_trend_with_nothing_to_draw_says_so(cell_store, write_cells):
    df = trend_frame(
        write_cells,
        cell_store,
        [{"metric": "on_time_rate", "period": p, "value": None, "suppressed": True} for p in M[:2]],
    )
    fig = trend_figure(df, ON_TIME, TARGET)
    assert all(v is None for v in fig.data[-1].y)
    assert "Nothing to draw" in fig.layout.annotations[0].text
    caption = trend_caption(df, ON_TIME, "Fenwick", TARGET)
    assert "Nothing is drawn" in caption and "dashed line" not in caption


@pytest.fixture
def october(cell_store, write_cells):
    p = dt.date(2026, 10, 1)
    version = write_cells(
        [
            {
                "metric": "on_time_rate",
                "period": p,
                "value": 0.95,
                "region": "Northgate",
                "ci_low": 0.9,
                "ci_high": 0.97,
                "n": 87,
            },
            {"metric": "on_time_rate", "period": p, "value": 0.61, "region": "Highmoor", "n": 13},
            {"metric": "on_time_rate", "period": p, "value": None, "region": "Fenwick", "suppressed": True},
            {
                "metric": "on_time_rate",
                "period": p,
                "value": None,
                "region": "Lakeside",
                "suppressed": True,
                "note": "suppressed: would reveal a smaller suppressed figure",
            },
        ]
    )
    df = data.monthly_cells(cell_store, "on_time_rate", ("region",), version, 10)
    return p, df[df["period"] == p]


def test_region_bars_leave_out_suppressed_regions(october):
    period, df = october
    rows = region_rows(df, ["Northgate", "Fenwick", "Highmoor", "Eastfield"], 10)
    assert [r["region"] for r in rows["shown"]] == ["Northgate", "Highmoor"]  # ranked
    assert rows["hidden"] == {
        "Suppressed (fewer than 10 cases)": ["Fenwick"],
        "No figure": ["Eastfield"],  # configured, but no cell
        "Suppressed (would reveal a smaller suppressed figure)": ["Lakeside"],
    }
    fig = region_figure(rows, ON_TIME, selected="Highmoor", target=TARGET)
    bar = fig.data[0]
    assert list(bar.y) == ["Highmoor (selected)", "Northgate"]  # largest drawn last = on top
    assert list(bar.x) == [0.61, 0.95]
    assert 0 not in bar.x
    assert list(bar.text) == ["61.0%", "95.0%"]
    caption = region_caption(rows, ON_TIME, period, TARGET)
    assert "From 95.0% in Northgate to 61.0% in Highmoor." in caption
    assert "Suppressed (fewer than 10 cases), not drawn: Fenwick." in caption
    assert "No figure, not drawn: Eastfield." in caption
    table = region_table_rows(rows, ON_TIME)
    assert table[0] == {"region": "Northgate", "value": "95.0%", "n": "87", "interval": "90.0% to 97.0%"}
    # Every column of a region not drawn says so: never a blank.
    fenwick = {"region": "Fenwick", "value": "Suppressed (fewer than 10 cases)", "n": "Not shown",
               "interval": "Not shown"}  # fmt: skip
    assert fenwick in table


def test_region_chart_with_no_figures_says_so():
    rows = region_rows(pd.DataFrame({"dims": [], "value": [], "suppressed": []}), ["A"], 10)
    fig = region_figure(rows, ON_TIME)
    assert len(fig.data[0].x) == 0
    assert "Nothing to draw" in fig.layout.annotations[0].text


def test_a_take_up_range_is_called_a_range_not_an_interval(cell_store, write_cells):
    uptake = CATALOGUE["uptake_rate"]
    note = "range from the low and high estimates of eligible people"
    version = write_cells([
        {"metric": "uptake_rate", "period": M[0], "value": 0.62, "ci_low": 0.58, "ci_high": 0.66, "note": note},
        {"metric": "uptake_rate", "period": M[1], "value": 0.64, "ci_low": 0.60, "ci_high": 0.68, "note": note},
    ])  # fmt: skip
    df = data.monthly_cells(cell_store, "uptake_rate", (), version, 10)
    fig = trend_figure(df, uptake)
    assert {t.name for t in fig.data[:2]} == {"Range"}
    caption = trend_caption(df, uptake, "all regions")
    assert "range from the low and high estimates, not a 95% interval" in caption
    assert "shaded band is the 95% interval" not in caption
    rows = region_rows(df[df["period"] == M[0]].assign(dims=[{"region": "Northgate"}]), ["Northgate"], 10)
    assert "Whiskers show the range" in region_caption(rows, uptake, M[0])
