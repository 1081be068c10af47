"""The rights-uptake page without a browser: its figures against the query layer, computed
here independently, on the store the real CLI built and on small stores written by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from dashboard import i18n, ids, state
from dashboard import uptake_view as uv
from dashboard.app import create_app
from dashboard.equal_service_view import make_cell, view_of
from dashboard.formatting import format_count, format_value, period_label
from dashboard.labels import value_label
from metrics import query
from metrics.config import Settings
from tests.dashboard.test_equal_service_view import (
    MONTHS,
    expected_text,
    find,
    has,
    parse_table,
    table_markup,
    text_of,
    walk,
    words,
    write,
)

PAGE = ids.UPTAKE
PROGRAMMES = ("housing_benefit", "child_benefit", "pension_credit", "disability_allowance")


def rows(component: Any, name: str) -> list[list[str]]:
    return parse_table(table_markup(component, name, PAGE)).body


def caption(component: Any, name: str) -> str:
    block = find(component, ids.block(PAGE, name))
    return next(c for c in walk(block) if type(c).__name__ == "Figcaption").children


def graph(component: Any, name: str) -> dict[str, Any]:
    return find(component, ids.graph(PAGE, name)).figure.to_plotly_json()


def headline(component: Any, part: str) -> str:
    return find(component, f"{ids.block(PAGE, 'headline')}-{part}").children


@pytest.fixture(scope="module")
def demo(demo_store: tuple[Settings, Engine]) -> tuple[Settings, Engine]:
    settings, engine = demo_store
    create_app(settings, engine)
    return state.settings(), engine


def read(engine: Engine, metric: str, by: tuple[str, ...] = (), grain: str = "month") -> pd.DataFrame:
    return query.read_cells(engine, metric, by, grain, min_cell_size=10)


def at(df: pd.DataFrame, period: dt.date, **dims: str) -> dict[str, Any] | None:
    found = [r for r in df.to_dict("records") if r["period"] == period and r["dims"] == dims]
    return found[0] if found else None


def range_text(row: dict[str, Any], unit: str) -> str:
    return f"{format_value(row['ci_low'], unit)} to {format_value(row['ci_high'], unit)}"


# --- the demo store -------------------------------------------------------------------------


def test_headline_in_plain_words(demo):
    settings, engine = demo
    end = query.periods(engine, "month")[-1]
    page = uv.page(engine, settings, {}, "/rights-uptake")
    unclaimed = at(read(engine, "unclaimed_estimate"), end)
    uptake = at(read(engine, "uptake_rate"), end)
    assert unclaimed and uptake and not unclaimed["suppressed"]
    month = period_label(end, "month")
    assert headline(page, "unclaimed") == (
        f"About {format_value(unclaimed['value'], 'count')} entitlements went unclaimed in the 12 months to {month}, "
        f"across all programmes (a person eligible for two programmes counts twice). Between "
        f"{format_value(unclaimed['ci_low'], 'count')} and "
        f"{format_value(unclaimed['ci_high'], 'count')}, from the low and high estimates of eligible people."
    )
    assert headline(page, "uptake") == (
        f"{format_value(uptake['value'], 'proportion')} of the {format_count(uptake['n'])} entitlements across all "
        f"programmes were taken up. Range: {range_text(uptake, 'proportion')}."
    )
    grant, days = at(read(engine, "grant_rate"), end), at(read(engine, "decision_days_median"), end)
    decisions = headline(page, "decisions")
    assert (
        f"{format_value(grant['value'], 'proportion')} were granted ({format_count(grant['n'])} decided)" in decisions
    )
    assert f"decided within {format_value(days['value'], 'days')} ({format_count(days['n'])} applications)" in decisions


def test_programmes_regions_and_groups_match_the_query_layer(demo):
    settings, engine = demo
    end = query.periods(engine, "month")[-1]
    page = uv.page(engine, settings, {"group": "sex"}, "/rights-uptake")
    assert tuple(uv.programmes(settings)) == PROGRAMMES
    for metric, name, unit in (
        ("uptake_rate", "programme-uptake", "proportion"),
        ("unclaimed_estimate", "programme-unclaimed", "count"),
    ):
        df = read(engine, metric, ("service",))
        table = rows(page, name)
        assert [r[0] for r in table] == [value_label(settings, "service", p) for p in PROGRAMMES]
        for programme, row in zip(PROGRAMMES, table, strict=True):
            cell = at(df, end, service=programme)
            assert row[1] == expected_text(cell, unit)
            if cell and not cell["suppressed"]:
                assert row[2] == range_text(cell, unit) and row[3] == format_count(cell["n"])
    # The interval of take-up is the range from the eligible estimates: the table says so.
    table = parse_table(table_markup(page, "programme-uptake", PAGE))
    assert "Range" in table.head and "95% interval" not in table.head
    assert "Whiskers show the range from the low and high estimates of eligible people." in caption(
        page, "programme-uptake"
    )
    for metric, name, dim, values in (
        ("uptake_rate", "region-uptake", "region", [r.id for r in settings.regions]),
        ("unclaimed_estimate", "region-unclaimed", "region", [r.id for r in settings.regions]),
        ("uptake_rate", "group-uptake", "sex", list(settings.groups["sex"].values)),
        ("unclaimed_estimate", "group-unclaimed", "sex", list(settings.groups["sex"].values)),
    ):
        df = read(engine, metric, (dim,))
        unit = "proportion" if metric == "uptake_rate" else "count"
        got = [r[1] for r in rows(page, name)]
        assert got == [expected_text(at(df, end, **{dim: v}), unit) for v in values], name
    # The grant rate and days to a decision by programme.
    for metric, name, unit in (
        ("grant_rate", "programme-grant", "proportion"),
        ("decision_days_median", "programme-days", "days"),
    ):
        df = read(engine, metric, ("service",))
        assert [r[1] for r in rows(page, name)] == [expected_text(at(df, end, service=p), unit) for p in PROGRAMMES]


def test_groups_against_the_reference_group(demo):
    settings, engine = demo
    end = query.periods(engine, "month")[-1]
    page = uv.page(engine, settings, {"group": "age_band"}, "/rights-uptake")
    df = read(engine, "uptake_rate", ("age_band",))
    reference = settings.groups["age_band"].reference
    ref = at(df, end, age_band=reference)
    gaps = {r[0]: r for r in rows(page, "group-gaps")}
    assert gaps[reference][-1] == "Reference group"
    for group in settings.groups["age_band"].values:
        cell = at(df, end, age_band=group)
        if group == reference or cell is None or cell["suppressed"]:
            continue
        assert gaps[group][1] == format_value(cell["value"] / ref["value"], "ratio")
        assert gaps[group][-1] in ("Differs from the reference group", "No clear difference from the reference group")
    text = caption(page, "group-gaps")
    assert "The intervals combine the ranges from the low and high estimates of eligible people." in text
    assert "the 95% interval" not in text


def test_programme_filter(demo):
    settings, engine = demo
    end = query.periods(engine, "month")[-1]
    page = uv.page(engine, settings, {"service": "child_benefit"}, "/rights-uptake")
    cell = at(read(engine, "unclaimed_estimate", ("service",)), end, service="child_benefit")
    assert headline(page, "unclaimed").startswith(
        f"About {format_value(cell['value'], 'count')} people eligible for Child benefit did not claim it in the 12 "
        f"months to {period_label(end, 'month')}."
    )
    # Every programme stays in the programme charts, the chosen one marked.
    labels = graph(page, "programme-uptake")["data"][0]["y"]
    assert "Child benefit (selected)" in labels and len(labels) == 4
    # A programme by region is not in the store (no combinations): missing, never zero.
    block = find(page, ids.block(PAGE, "region-uptake"))
    assert "Not computed for this combination" in words(block) and "Clear the service filter" in words(block)
    assert not has(page, ids.graph(PAGE, "region-uptake"))
    # The trend is the programme's.
    df = read(engine, "uptake_rate", ("service",))
    periods = query.periods(engine, "month")[-36:]
    series = [at(df, p, service="child_benefit") for p in reversed(periods)]
    assert [r[1] for r in rows(page, "uptake-trend")] == [expected_text(c, "proportion") for c in series]


def test_trend_says_why_early_periods_have_no_figure(demo):
    settings, engine = demo
    page = uv.page(engine, settings, {}, "/rights-uptake")
    periods = query.periods(engine, "month")[-36:]
    uptake, unclaimed = read(engine, "uptake_rate"), read(engine, "unclaimed_estimate")
    table = rows(page, "uptake-trend")
    assert table[0][:1] == [period_label(periods[-1], "month")]
    for period, row in zip(reversed(periods), table, strict=True):
        assert row[1] == expected_text(at(uptake, period), "proportion")
        assert row[4] == expected_text(at(unclaimed, period), "count")
    assert "Fewer than 12 months of cases before this period's end" in [r[1] for r in table]
    text = caption(page, "uptake-trend")
    assert "Fewer than 12 months of cases before this period's end, so left as gaps:" in text
    assert "a rolling annual figure" in text


def test_only_programmes_in_the_service_filter_and_a_notice_for_others(demo):
    settings, engine = demo
    page = uv.page(engine, settings, {"service": "pothole"}, "/rights-uptake")
    select = find(page, ids.filter_id(PAGE, "service"))
    assert [o["value"] for o in select.options] == [ids.ALL, *PROGRAMMES]
    assert select.value == ids.ALL
    assert "Pothole repair is not an entitlement programme; showing all programmes." in words(page)
    assert "entitlements went unclaimed in the 12 months to" in headline(page, "unclaimed")


def test_weekly_periods(demo):
    settings, engine = demo
    page = uv.page(engine, settings, {"grain": "week"}, "/rights-uptake")
    assert "Take-up is computed for months, quarters and years only" in caption(page, "uptake-trend")
    assert set(r[1] for r in rows(page, "uptake-trend")) == {"No figure"}
    assert "There is no estimate of the people eligible for a benefit" in headline(page, "unclaimed")
    # A slice with no weekly cells at all still reads as missing (not an error, not zero).
    page = uv.page(engine, settings, {"grain": "week", "group": "sex", "value": "Male"}, "/rights-uptake")
    assert headline(page, "unclaimed").startswith("There is no estimate of the people eligible for a benefit (Male)")
    assert set(r[1] for r in rows(page, "uptake-trend")) == {"No figure"}


def test_callback_builds_what_the_address_builds(demo):
    settings, engine = demo
    end = query.periods(engine, "month")[-1]
    view = view_of(settings, engine, ["month", "", f"{end:%Y-%m}", ids.ALL, ids.ALL, ids.ALL, ids.ALL, "child_benefit"])
    built = uv.content(engine, settings, view)
    page = uv.page(engine, settings, {"service": "child_benefit", "to": f"{end:%Y-%m}"}, "/rights-uptake")
    assert text_of(built[0]) == text_of(find(page, ids.content(PAGE)).children[0])


def test_chinese(demo):
    settings, engine = demo
    with i18n.use("zh"):
        page = uv.page(engine, settings, {"service": "child_benefit"}, "/rights-uptake")
        text = words(page)
        sentence = headline(page, "unclaimed")
    assert "权益领取" in text and "按项目" in text
    assert "约有" in sentence and "儿童福利金" in sentence and "2026年10月" in sentence
    assert "Take-up" not in text and "people eligible" not in text and "Not computed" not in text


# --- small stores written by hand --------------------------------------------------------------


def small_settings() -> Settings:
    return Settings.model_validate(
        {
            "timezone": "Europe/London",
            "regions": [{"id": "Northgate"}, {"id": "Fenwick"}],
            "groups": {
                "sex": {
                    "label": {"en": "Sex", "zh": "性别"},
                    "values": ["Female", "Male", "Not stated"],
                    "reference": "Female",
                }
            },
            "services": {
                "child_benefit": {
                    "department": "Social Security",
                    "entitlement": True,
                    "name": {"en": "Child benefit", "zh": "儿童福利金"},
                },
                "pension_credit": {"department": "Social Security", "entitlement": True},
                "pothole": {"department": "Transport"},
            },
        }
    )


def uptake_rows(
    period: dt.date,
    unclaimed: float | None,
    rate: float | None,
    dims: dict[str, str] | None = None,
    n: int = 400,
    **kw: Any,
) -> list[dict[str, Any]]:
    dims = dims or {}
    note = kw.pop("note", None)
    return [
        {
            "metric": "unclaimed_estimate",
            "period": period,
            "value": unclaimed,
            "dims": dims,
            "n": n,
            "note": note,
            "ci_low": None if unclaimed is None else unclaimed - 20,
            "ci_high": None if unclaimed is None else unclaimed + 20,
            **kw,
        },
        {
            "metric": "uptake_rate",
            "period": period,
            "value": rate,
            "dims": dims,
            "n": n,
            "note": note,
            "ci_low": None if rate is None else rate - 0.05,
            "ci_high": None if rate is None else rate + 0.05,
            **kw,
        },
    ]


@pytest.fixture
def small(cell_store: Engine) -> tuple[Settings, Engine]:
    end = MONTHS[-1]
    rows: list[dict[str, Any]] = []
    for p in MONTHS[:-1]:
        rows += uptake_rows(p, None, None, note="fewer than 12 months of cases before this period's end")
    rows += uptake_rows(end, 100, 0.75, note="range from the low and high estimates of eligible people")
    # More recipients than the eligible estimate: a negative count of people missing out.
    rows += uptake_rows(end, -12, 1.03, {"service": "child_benefit"}, n=400)
    rows += uptake_rows(
        end, None, None, {"service": "pension_credit"}, n=None, note="no eligible population known for this slice"
    )
    write(cell_store, rows)
    create_app(small_settings(), cell_store)
    return state.settings(), cell_store


def test_unusual_figures_in_words(small):
    settings, engine = small
    page = uv.page(engine, settings, {}, "/rights-uptake")
    assert headline(page, "unclaimed") == (
        "About 100 entitlements went unclaimed in the 12 months to June 2026, across all programmes (a person "
        "eligible for two programmes counts twice). Between 80 and 120, from the low and high estimates of eligible "
        "people."
    )
    assert headline(page, "uptake") == (
        "75.0% of the 400 entitlements across all programmes were taken up. Range: 70.0% to 80.0%."
    )
    assert "Not computed: the store holds no Applications granted for the whole population" in headline(
        page, "decisions"
    )
    table = {r[0]: r for r in rows(page, "programme-unclaimed")}
    assert table["Child benefit"][1] == "-12"
    assert table["pension_credit"][1] == "No eligible population known for this slice"
    assert "pothole" not in table and "Pothole" not in words(find(page, ids.block(PAGE, "programme-uptake")))
    page = uv.page(engine, settings, {"service": "child_benefit"}, "/rights-uptake")
    assert headline(page, "unclaimed") == (
        "More people received Child benefit in the 12 months to June 2026 than the estimate of eligible people "
        "(12 more): the estimate of eligible people is probably too low."
    )
    page = uv.page(engine, settings, {"service": "pension_credit"}, "/rights-uptake")
    assert headline(page, "unclaimed") == (
        "There is no estimate of the people eligible for pension_credit who did not claim it in the 12 months to "
        "June 2026: No eligible population known for this slice."
    )
    assert headline(page, "uptake") == "Take-up: No eligible population known for this slice."


def test_suppressed_people_missing_out(cell_store):
    written = uptake_rows(MONTHS[-1], 3, 0.5, n=6)  # fewer than 10 eligible people: suppressed
    write(cell_store, written)
    create_app(small_settings(), cell_store)
    page = uv.page(cell_store, state.settings(), {}, "/rights-uptake")
    assert headline(page, "unclaimed") == (
        "The number of people eligible for a benefit who did not claim it in the 12 months to June 2026 is not shown: "
        "Suppressed (fewer than 10 cases)."
    )
    assert headline(page, "uptake") == "Take-up: Suppressed (fewer than 10 cases)."
    trend = rows(page, "uptake-trend")
    assert trend[0][1] == "Suppressed (fewer than 10 cases)" and trend[0][4] == "Suppressed (fewer than 10 cases)"
    assert all(r[1] == "No figure" for r in trend[1:])


def test_ranges_are_not_called_95_percent_intervals():
    ranged = make_cell(
        {
            "value": 0.7,
            "ci_low": 0.6,
            "ci_high": 0.8,
            "n": 100,
            "suppressed": False,
            "note": "range from the low and high estimates of eligible people",
        },
        "proportion",
        10,
        "a",
        "A",
    )
    assert uv.interval_name([ranged]) == "Range"
    assert uv.uptake_sentence(ranged) == "70.0% of the 100 people eligible received it. Range: 60.0% to 80.0%."
    plain = make_cell(
        {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8, "n": 100, "suppressed": False}, "proportion", 10, "a", "A"
    )
    assert uv.interval_name([plain]) == "95% interval"
    assert uv.uptake_sentence(plain).endswith("95% interval: 60.0% to 80.0%.")


def test_chart_figures_leave_out_what_is_not_shown(small):
    settings, engine = small
    page = uv.page(engine, settings, {}, "/rights-uptake")
    bars = graph(page, "programme-uptake")["data"][0]
    assert list(bars["y"]) == ["Child benefit"] and list(bars["x"]) == [1.03]
    assert "No eligible population known for this slice, not drawn: pension_credit." in caption(
        page, "programme-uptake"
    )
