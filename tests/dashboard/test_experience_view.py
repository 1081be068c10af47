"""The citizen experience and joined-up working page's builders, without a browser.

Each figure is checked against an independent read of the query layer on the demo store the
real CLI built, and on small stores written by hand with suppressed and missing cells.
"""

from __future__ import annotations

import dash
import pandas as pd
import pytest
from dash import html

from dashboard import experience_view as ev
from dashboard import i18n, ids
from dashboard import timeliness_view as tv
from dashboard.formatting import format_value, period_label
from dashboard.labels import value_label
from tests.dashboard.test_timeliness_view import (
    MONTHS,
    VIEWS,
    at_end,
    expect,
    expect_interval,
    expect_label,
    expect_n,
    put,
    stored,
    text_of,
    trace,
    view_of,
)


@pytest.fixture(autouse=True)
def dash_app() -> dash.Dash:
    """CSV addresses are relative to the running app's path prefix: any app sets it."""
    return dash.Dash(__name__)


TRENDS = {
    "repeat_contact_rate": ev.repeat_chart,
    "first_contact_resolution_rate": ev.first_contact_chart,
    "reopen_rate": ev.reopen_chart,
    "satisfaction_mean": ev.satisfaction_mean_chart,
    "satisfied_share": ev.satisfied_share_chart,
    "handoff_rate": ev.handoff_rate_chart,
}
UNITS = {"satisfaction_mean": "score"}


@pytest.mark.parametrize("params", VIEWS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()) or "everyone")
def test_trends_show_the_query_layers_figures(demo_store, params):
    settings, engine = demo_store
    ctx = view_of(settings, engine, **params)
    grain, where = ctx.view.grain, ctx.view.slice()
    by = tuple(sorted(where))
    for metric, build in TRENDS.items():
        unit = UNITS.get(metric, "proportion")
        cells = stored(engine, metric, by, grain, where)
        chart = build(ctx)
        assert isinstance(chart, tv.Chart), metric
        assert chart.rows == [[period_label(p, grain), expect(cells.get(p), unit), expect_interval(cells.get(p), unit),
                               expect_n(cells.get(p))] for p in ctx.periods], metric  # fmt: skip
        assert chart.csv is not None and f"metric={metric}" in chart.csv
        end = cells.get(ctx.end)
        if end is not None and not end["suppressed"] and not pd.isna(end["value"]):
            assert f"{format_value(end['value'], unit)}, based on {int(end['n']):,} " in chart.summary, metric

    handoffs = ev.handoff_days_chart(ctx)
    h = stored(engine, "handoff_resolution_days_median", by, grain, where)
    d = stored(engine, "direct_resolution_days_median", by, grain, where)
    assert handoffs.head == ["Period", "With handoffs", "95% interval", "Cases with handoffs", "Without handoffs",
                             "95% interval", "Cases without handoffs"]  # fmt: skip
    assert handoffs.rows == [[period_label(p, grain), expect(h.get(p), "days"), expect_interval(h.get(p), "days"),
                              expect_n(h.get(p)), expect(d.get(p), "days"), expect_interval(d.get(p), "days"),
                              expect_n(d.get(p))] for p in ctx.periods]  # fmt: skip
    assert "Kaplan-Meier medians" in handoffs.summary


def test_satisfied_share_is_measured_against_its_target(demo_store):
    settings, engine = demo_store
    chart = ev.satisfied_share_chart(view_of(settings, engine))
    target = settings.targets["satisfied_share"].target
    assert trace(chart.figure, f"Target: {format_value(target, 'proportion')}")
    assert f"The dashed line is the target, {format_value(target, 'proportion')}." in chart.summary


def test_the_rating_distribution_of_the_last_period(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine)
    chart = ev.ratings_chart(ctx)
    cells = at_end(engine, "rating_share", "rating", ctx.end)
    assert chart.title == f"Ratings by score, {period_label(ctx.end, 'month')}"
    assert chart.rows == [[f"{s} out of 5", expect(cells.get(s), "proportion"),
                           expect_interval(cells.get(s), "proportion"), expect_n(cells.get(s))]
                          for s in ("1", "2", "3", "4", "5")]  # fmt: skip
    n = next(int(r["n"]) for r in cells.values() if not r["suppressed"])
    assert f"{n:,} responses" in chart.summary
    bars = chart.figure.data[0]
    assert list(bars.y) == [None if cells[s]["suppressed"] else pytest.approx(cells[s]["value"]) for s in "12345"]
    # The satisfied scores are hatched, so the split reads without colour.
    assert list(bars.marker.pattern.shape) == ["", "", "", "/", "/"]
    assert chart.csv is not None and "by=rating" in chart.csv


def test_ratings_under_a_filter_are_not_computed(demo_store):
    settings, engine = demo_store
    chart = ev.ratings_chart(view_of(settings, engine, region="Northgate"))
    assert isinstance(chart, tv.Unavailable)
    assert chart.message == ("Not computed for this combination: Ratings by score is not stored by Score, Region "
                             "together. Clear the filter on Region to see it.")  # fmt: skip


def test_joined_up_working_by_department(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine)
    chart = ev.departments_chart(ctx)
    metrics = ("handoff_rate", "handoff_resolution_days_median", "direct_resolution_days_median")
    units = ("proportion", "days", "days")
    cells = {m: at_end(engine, m, "department", ctx.end) for m in metrics}
    whole = {m: stored(engine, m)[ctx.end] for m in metrics}
    assert chart.rows[0] == ["Everyone", *[t for m, u in zip(metrics, units, strict=True)
                                           for t in (expect(whole[m], u), expect_interval(whole[m], u),
                                                     expect_n(whole[m]))]]  # fmt: skip
    departments = list(dict.fromkeys(s.department for s in settings.services.values()))
    assert len(chart.rows) == 1 + len(departments)
    for row, dep in zip(chart.rows[1:], departments, strict=True):
        here = [cells[m].get(dep) for m in metrics]
        assert row[0] == expect_label(value_label(settings, "department", dep), here)
        assert row[1:] == [t for c, u in zip(here, units, strict=True)
                           for t in (expect(c, u), expect_interval(c, u), expect_n(c))]  # fmt: skip
    assert [label for label, _href in chart.more_csv] == [
        "Download the figures of Median days to resolve, with handoffs (CSV)",
        "Download the figures of Median days to resolve, without handoffs (CSV)",
    ]
    # With and without handoffs are told apart by marker shape, not colour alone.
    symbols = {t.name: t.marker.symbol for t in chart.figure.data if t.name in ("With handoffs", "Without handoffs")}
    assert symbols == {"With handoffs": "diamond-open", "Without handoffs": "circle"}


def test_departments_under_a_region_filter_are_not_computed(demo_store):
    settings, engine = demo_store
    chart = ev.departments_chart(view_of(settings, engine, region="Fenwick"))
    assert isinstance(chart, tv.Unavailable)
    assert "Department, Region together" in chart.message


def test_missing_and_suppressed_scores(cell_store, settings):
    last, before = MONTHS[-1], MONTHS[-2]
    # The last month: no cell for scores 1 and 2. The month before: only 6 responses.
    rows = [{"metric": "rating_share", "period": last, "dims": {"rating": s}, "value": v, "n": 60,
             "ci_low": v - 0.05, "ci_high": v + 0.05}
            for s, v in (("3", 0.2), ("4", 0.4), ("5", 0.3))]  # fmt: skip
    rows += [{"metric": "rating_share", "period": before, "dims": {"rating": s}, "value": 0.2, "n": 6}
             for s in "12345"]  # fmt: skip
    # The satisfied share is read from its own indicator (here not the bars' 40% + 30%).
    rows += [{"metric": "satisfied_share", "period": last, "value": 0.714, "n": 60, "ci_low": 0.6, "ci_high": 0.8},
             {"metric": "satisfied_share", "period": before, "value": 0.5, "n": 6}]  # fmt: skip
    put(cell_store, rows)
    chart = ev.ratings_chart(view_of(settings, cell_store))
    assert [r[1] for r in chart.rows] == ["No figure", "No figure", "20.0%", "40.0%", "30.0%"]
    assert [r[3] for r in chart.rows] == ["No figure", "No figure", "60", "60", "60"]
    assert list(chart.figure.data[0].y) == [None, None, 0.2, 0.4, 0.3]
    assert "1 out of 5: No figure, 2 out of 5: No figure, 3 out of 5: 20.0%" in chart.summary
    assert "71.4% gave 4 or 5 (hatched bars)." in chart.summary
    assert "October 2026: 60 responses." in chart.summary

    small = ev.ratings_chart(view_of(settings, cell_store, to="2026-09"))
    assert [r[1] for r in small.rows] == ["Suppressed (fewer than 10 cases)"] * 5
    assert [r[3] for r in small.rows] == ["Suppressed"] * 5
    assert list(small.figure.data[0].y) == [None] * 5
    assert "Nothing to draw" in small.figure.layout.annotations[0].text
    assert "Whiskers" not in small.summary and "gave 4 or 5" not in small.summary

    # Indicators with no cells at all say so instead of drawing zeros.
    nothing = ev.repeat_chart(view_of(settings, cell_store))
    assert isinstance(nothing, tv.Unavailable)
    assert nothing.message == "Repeat contacts: there are no figures in the store."


def test_the_page_in_english_and_chinese(demo_store):
    settings, engine = demo_store
    with i18n.use("en"):
        en = text_of(ev.layout(engine, settings, "/experience", {}))
    with i18n.use("zh"):
        zh = text_of(ev.layout(engine, settings, "/experience", {}))
    for text in ("Experience and joined-up working", "Coming back and settling at the first contact",
                 "Satisfaction", "Joined-up working", "Ratings by score", "With handoffs"):  # fmt: skip
        assert text in en, text
    assert ids.content(ids.EXPERIENCE) in en and ids.filter_id(ids.EXPERIENCE, "region") in en
    for text in ("居民体验与部门协同", "重复来访与首次接触即解决", "满意度", "部门协同", "各评分占比", "转办"):
        assert text in zh, text
    for text in ("Coming back", "Joined-up working", "based on", "out of 5", "left as gaps", "With handoffs"):
        assert text not in zh, text


def test_the_callback_content_is_the_layouts(demo_store):
    settings, engine = demo_store
    ctx = view_of(settings, engine, region="Highmoor")
    first = text_of(html.Div(ev.content(engine, settings, ctx.view)))
    again = text_of(html.Div(ev.content(engine, settings, ctx.view)))
    assert first == again and "Highmoor" in first and "Not computed for this combination" in first


def test_the_handoff_difference_is_told_only_when_its_interval_excludes_none():
    def cell(value, low, high):
        return {"value": value, "ci_low": low, "ci_high": high, "n": 200, "suppressed": False, "note": None}

    # Separate intervals: 7.0 (6.5-7.5) against 4.0 (3.6-4.4) days. MOVER: 3.0 +- sqrt(0.5**2 + 0.4**2) = 3.0 +- 0.64.
    assert ev.handoff_difference(cell(7.0, 6.5, 7.5), cell(4.0, 3.6, 4.4), "October 2026") == (
        "In October 2026 a case passed between departments took 3.0 days longer at the median.")
    assert "took 3.0 days less" in ev.handoff_difference(cell(4.0, 3.6, 4.4), cell(7.0, 6.5, 7.5), "October 2026")
    # Overlapping: 5.2 (4.0-6.5) against 4.9 (4.1-5.8): the difference's interval holds zero.
    text = ev.handoff_difference(cell(5.2, 4.0, 6.5), cell(4.9, 4.1, 5.8), "October 2026")
    assert text.startswith("In October 2026 the medians with and without handoffs do not clearly differ (0.3 days")
    assert "longer" not in text and "less" not in text
    # No interval: the gap is given, not judged.
    assert "no interval to judge" in ev.handoff_difference(cell(6.0, None, None), cell(4.0, 3.6, 4.4), "Q3 2026")
    # A suppressed or missing median: nothing is said.
    hidden = {"value": None, "suppressed": True, "note": "suppressed: fewer than 10 cases"}
    assert ev.handoff_difference(hidden, cell(4.0, 3.6, 4.4), "Q3 2026") == ""
    assert ev.handoff_difference(None, cell(4.0, 3.6, 4.4), "Q3 2026") == ""
