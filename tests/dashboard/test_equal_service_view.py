"""The equal-service page without a browser: its figures against the query layer, computed
here independently, on the store the real CLI built and on small stores written by hand."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.utils
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import Engine, insert

from dashboard import equal_service_view as ev
from dashboard import i18n, ids, state
from dashboard.app import create_app
from dashboard.filters import View
from dashboard.formatting import format_count, format_value, period_label
from dashboard.labels import value_label
from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings
from metrics.store.models import MetricCell, RefreshRun

PAGE = ids.EQUAL
AS_OF = dt.datetime(2026, 6, 30, 18, 0)
MONTHS = [dt.date(2026, m, 1) for m in range(1, 7)]
REPO = Path(__file__).resolve().parents[2]


# --- reading a component tree -------------------------------------------------------------


def walk(component: Any) -> Iterator[Any]:
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from walk(child)
    elif children is not None and not isinstance(children, (str, int, float)):
        yield from walk(children)


def find(component: Any, cid: str) -> Any:
    found = [c for c in walk(component) if getattr(c, "id", None) == cid]
    assert found, f"no component {cid!r}"
    return found[0]


def has(component: Any, cid: str) -> bool:
    return any(getattr(c, "id", None) == cid for c in walk(component))


def text_of(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def words(component: Any) -> str:
    """Every string in a component tree, joined (what a reader sees, without the charts)."""
    out = []
    for c in walk(component):
        children = getattr(c, "children", None)
        if isinstance(children, str):
            out.append(children)
    return " ".join(out)


class _Table(HTMLParser):
    """The header and body rows of an HTML table, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.head: list[str] = []
        self.body: list[list[str]] = []
        self.part = ""
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("thead", "tbody"):
            self.part = tag
        elif tag == "tr" and self.part == "tbody":
            self.body.append([])
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self.cell is not None:
            text = "".join(self.cell)
            (self.head if self.part == "thead" else self.body[-1]).append(text)
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_markup(component: Any, name: str, page: str = PAGE) -> str:
    """The HTML of a block's table (one Markdown component, see `blocks.data_table`)."""
    wrapper = find(component, f"{ids.table(page, name)}-wrap")
    return wrapper.children.children


def parse_table(markup: str) -> _Table:
    parser = _Table()
    parser.feed(markup)
    return parser


def rows(component: Any, name: str) -> list[list[str]]:
    return parse_table(table_markup(component, name)).body


def head(component: Any, name: str) -> list[str]:
    return parse_table(table_markup(component, name)).head


def caption(component: Any, name: str) -> str:
    block = find(component, ids.block(PAGE, name))
    return next(c for c in walk(block) if type(c).__name__ == "Figcaption").children


def figure(component: Any, name: str) -> dict[str, Any]:
    return find(component, ids.graph(PAGE, name)).figure.to_plotly_json()


# --- expectations computed here from the query layer ----------------------------------------


def expected_text(row: dict[str, Any] | None, unit: str, m: int = 10) -> str:
    """What a cell must read: its value in its unit, or why there is none."""
    if row is None:
        return "No figure"
    if row["suppressed"]:
        note = row.get("note") or ""
        return (
            "Suppressed (would reveal a smaller suppressed figure)"
            if "would reveal" in note
            else f"Suppressed (fewer than {m} cases)"
        )
    if pd.isna(row["value"]):
        return ev.note_text(row.get("note")) or "No figure"
    return format_value(row["value"], unit)


def by_value(df: pd.DataFrame, dim: str) -> dict[str, dict[str, Any]]:
    return {d[dim]: r for d, r in zip(df["dims"], df.to_dict("records"), strict=True)}


@pytest.fixture(scope="module")
def demo(demo_store: tuple[Settings, Engine]) -> tuple[Settings, Engine]:
    settings, engine = demo_store
    create_app(settings, engine)
    return state.settings(), engine


def latest(engine: Engine, grain: str = "month") -> dt.date:
    return query.periods(engine, grain)[-1]


def read(engine: Engine, metric: str, by: tuple[str, ...] = (), across: str = "", grain: str = "month") -> pd.DataFrame:
    return query.read_cells(engine, metric, by, grain, min_cell_size=10, across=across)


# --- the demo store -------------------------------------------------------------------------


def test_region_bars_show_the_query_layers_figures(demo):
    settings, engine = demo
    page = ev.page(engine, settings, {}, "/equal-service")
    end = latest(engine)
    df = read(engine, "coverage_per_1000", ("region",))
    cells = by_value(df[df["period"] == end], "region")
    table = rows(page, "region-bars")
    assert [r[0] for r in table] == [value_label(settings, "region", r.id) for r in settings.regions]
    for region, row in zip(settings.regions, table, strict=True):
        cell = cells.get(region.id)
        assert row[1] == expected_text(cell, "per_1000"), region.id
        if cell is not None and not cell["suppressed"]:
            assert row[3] == format_count(cell["n"])
            assert (
                row[2] == f"{format_value(cell['ci_low'], 'per_1000')} to {format_value(cell['ci_high'], 'per_1000')}"
            )
        else:
            assert row[2] == row[3] == "Not available"
    # Only regions with a figure are drawn, largest at the top (Plotly's last category).
    shown = sorted(((c["value"], r) for r, c in cells.items() if not c["suppressed"]), reverse=True)
    bars = figure(page, "region-bars")["data"][0]
    assert list(bars["x"]) == pytest.approx([v for v, _ in reversed(shown)])
    assert [y for y in bars["y"]] == [value_label(settings, "region", r) for _, r in reversed(shown)]
    text = caption(page, "region-bars")
    assert f"Cases per 1,000 residents by region, {period_label(end, 'month')}" in text
    assert f"From {format_value(shown[0][0], 'per_1000')} in {shown[0][1]}" in text
    # No total is made in the dashboard: each figure's n is in the table.
    assert "behind each region's figure is in the table" in text and "Based on" not in text
    suppressed = [r.id for r in settings.regions if cells.get(r.id) is not None and cells[r.id]["suppressed"]]
    assert suppressed, "the 5,000-case demo store has small regions: the test needs one"
    for region in suppressed:
        assert region in text.split("not drawn:", 1)[1], text
    # The download is the same breakdown and the one period drawn, not the whole range.
    link = find(page, ids.download(PAGE, "region-bars")).href
    assert "metric=coverage_per_1000" in link and "by=region" in link
    assert f"from={end:%Y-%m}&" in link and f"to={end:%Y-%m}" in link
    markup = table_markup(page, "region-bars")
    assert markup.startswith(f'<table id="{ids.table(PAGE, "region-bars")}"')
    assert markup.count('scope="col"') == 4 and markup.count('scope="row"') == len(settings.regions)
    # No boundaries configured: no map.
    assert not has(page, ids.block(PAGE, "region-map"))


def test_groups_against_the_reference_group(demo):
    settings, engine = demo
    page = ev.page(engine, settings, {"group": "age_band"}, "/equal-service")
    end = latest(engine)
    reference = settings.groups["age_band"].reference
    df = read(engine, "coverage_per_1000", ("age_band",))
    cells = by_value(df[df["period"] == end], "age_band")
    table = rows(page, "group-bars")
    assert [r[0] for r in table] == list(settings.groups["age_band"].values)
    for row in table:
        assert row[1] == expected_text(cells.get(row[0]), "per_1000")

    # Ratios to the reference group, computed here, and the interval test read from the table.
    ref = cells[reference]
    assert not ref["suppressed"]
    gaps = {r[0]: r for r in rows(page, "group-gaps")}
    assert gaps[reference][-1] == "Reference group"
    differ, same = [], []
    for group in settings.groups["age_band"].values:
        cell = cells.get(group)
        if group == reference or cell is None or cell["suppressed"]:
            continue
        ratio = cell["value"] / ref["value"]
        assert gaps[group][1] == format_value(ratio, "ratio")
        low, high = (float(x.replace("×", "")) for x in gaps[group][2].split(" to "))
        assert low <= round(ratio, 2) <= high
        (differ if gaps[group][-1] == "Differs from the reference group" else same).append(group)
        assert gaps[group][-1] in ("Differs from the reference group", "No clear difference from the reference group")
        # The finding follows the interval: a ratio interval excluding 1 differs.
        if low > 1.005 or high < 0.995:
            assert group in differ
    text = caption(page, "group-gaps")
    if differ:
        assert f"Differs from the reference group {reference}" in text
        assert all(g in text.split("Differs from the reference group")[1] for g in differ)
    if same:
        assert f"No clear difference from the reference group {reference}: {', '.join(same)}." in text
    for word in ("best", "worst", "Best", "Worst"):
        assert word not in words(page)
    fig = figure(page, "group-gaps")
    assert any(s.get("x0") == 1.0 and s.get("x1") == 1.0 for s in fig["layout"]["shapes"])


def test_inequality_indices_across_regions_and_groups(demo):
    settings, engine = demo
    page = ev.page(engine, settings, {"group": "sex"}, "/equal-service")
    periods = [p for p in query.periods(engine, "month")][-36:]
    for metric in ev.ACROSS_METRICS:
        name = metric.replace("_", "-")
        unit = CATALOGUE[metric].unit
        regions = {r["period"]: r for r in read(engine, metric, across="region").to_dict("records")}
        sexes = {r["period"]: r for r in read(engine, metric, across="sex").to_dict("records")}
        table = rows(page, name)
        assert head(page, name)[1:] == [
            "Across regions",
            "Across regions: Cases behind the categories used",
            "Across sex groups",
            "Across sex groups: Cases behind the categories used",
        ]
        assert [r[0] for r in table] == [period_label(p, "month") for p in reversed(periods)]
        for period, row in zip(reversed(periods), table, strict=True):
            assert row[1] == expected_text(regions.get(period), unit), (metric, period)
            assert row[3] == expected_text(sexes.get(period), unit), (metric, period)
        links = [c.href for c in walk(find(page, ids.block(PAGE, name))) if type(c).__name__ == "A"]
        assert any("across=region" in h for h in links) and any("across=sex" in h for h in links)


def test_region_filter_narrows_the_trend_and_says_what_is_not_computed(demo):
    settings, engine = demo
    region = settings.regions[-1].id
    page = ev.page(engine, settings, {"region": region}, "/equal-service")
    df = read(engine, "coverage_per_1000", ("region",))
    series = {r["period"]: r for r in df.to_dict("records") if r["dims"]["region"] == region}
    periods = query.periods(engine, "month")[-36:]
    table = rows(page, "coverage-trend")
    assert [r[1] for r in table] == [expected_text(series.get(p), "per_1000") for p in reversed(periods)]
    assert any(r[1].startswith("Suppressed (") for r in table), "a small region has suppressed months"
    assert "0.00 per 1,000" not in [r[1] for r in table]
    # The bars still show every region, the chosen one marked.
    labels = figure(page, "region-bars")["data"][0]["y"]
    assert any(label.endswith("(selected)") for label in labels) or region in caption(page, "region-bars")
    # Region by group is not in the store (no combinations): missing, never zero.
    block = find(page, ids.block(PAGE, "group-bars"))
    assert "Not computed for this combination" in words(block)
    assert "Clear the region filter to see it." in words(block)
    assert not has(page, ids.graph(PAGE, "group-bars"))
    # Inequality across regions ignores the region filter; across groups within a region is not computed.
    gini = find(page, ids.block(PAGE, "coverage-gini"))
    assert has(gini, ids.graph(PAGE, "coverage-gini")) and "Not computed for this combination" in words(gini)


def test_callback_builds_what_the_address_builds(demo):
    settings, engine = demo
    end = latest(engine)
    region = settings.regions[0].id
    values = ["month", "", f"{end:%Y-%m}", region, "sex", ids.ALL, ids.ALL, ids.ALL]
    view = ev.view_of(settings, engine, values)
    assert view.region == region and view.group == "sex" and view.end == end
    from_callback = ev.content(engine, settings, view)
    from_address = find(
        ev.page(engine, settings, {"region": region, "group": "sex", "to": f"{end:%Y-%m}"}, "/equal-service"),
        ids.content(PAGE),
    ).children
    assert text_of(from_callback[0]) == text_of(from_address[0])


def test_chinese(demo):
    settings, engine = demo
    # A region whose monthly coverage has a suppressed figure in the page's range (which ones
    # secondary suppression picks follows from the data, so the test asks the query layer).
    cells = query.read_cells(engine, "coverage_per_1000", by=("region",), grain="month",
                             min_cell_size=settings.privacy.min_cell_size)  # fmt: skip
    newest = sorted(cells["period"].unique())[-36:]
    hidden = cells[cells["suppressed"] & cells["period"].isin(newest)]
    assert not hidden.empty, "the demo store must have a suppressed regional month for this test"
    region = hidden["dims"].iloc[0]["region"]
    with i18n.use("zh"):
        page = ev.page(engine, settings, {"region": region}, "/equal-service")
        text = words(page)
        name = value_label(settings, "region", region)
    assert "平等服务" in text and "按地区" in text and "不平等程度的变化" in text
    assert name in text and name != region
    assert "此组合未计算" in text
    assert "Cases per 1,000" not in text and "Not computed" not in text
    table = rows(page, "coverage-trend")
    assert any(r[1].startswith("已隐去（") for r in table)


# --- small stores written by hand --------------------------------------------------------------


def small_settings(boundaries: Path | None = None) -> Settings:
    return Settings.model_validate(
        {
            "timezone": "Europe/London",
            "regions": [
                {"id": "Northgate", "name": {"en": "Northgate", "zh": "北门区"}},
                {"id": "Fenwick"},
                {"id": "Highmoor"},
                {"id": "Greenvale"},
            ],
            "groups": {
                "sex": {
                    "label": {"en": "Sex", "zh": "性别"},
                    "values": ["Female", "Male", "Not stated"],
                    "reference": "Female",
                }
            },
            "dashboard": {"boundaries": str(boundaries) if boundaries else None},
        }
    )


def dims_key(dims: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in sorted(dims.items()))


def write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """A refresh run holding `rows` (metric, period, value; optional dims, across, n, ci_low,
    ci_high, suppressed, note), with cases_opened for every month so the months are known."""
    rows = rows + [{"metric": "cases_opened", "period": p, "value": 1000, "n": 1000} for p in MONTHS]
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(RefreshRun).values(
                started_at=AS_OF, finished_at=AS_OF, status="succeeded", as_of=AS_OF, cases=6000, cells=len(rows)
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(MetricCell),
            [
                {
                    "metric": r["metric"],
                    "definition_version": CATALOGUE[r["metric"]].version,
                    "grain": "month",
                    "period": r["period"],
                    "dim_names": ",".join(sorted(r.get("dims", {}))),
                    "dims_key": dims_key(r.get("dims", {})),
                    "across": r.get("across", ""),
                    "value": None if r.get("suppressed") else r["value"],
                    "n": None if r.get("suppressed") else r.get("n", 100),
                    "numerator": None,
                    "denominator": None,
                    "ci_low": r.get("ci_low"),
                    "ci_high": r.get("ci_high"),
                    "suppressed": r.get("suppressed", False),
                    "note": r.get("note"),
                    "as_of": AS_OF,
                    "refresh_run_id": run_id,
                }
                for r in rows
            ],
        )


def coverage(period: dt.date, value: float | None, dims: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    row = {"metric": "coverage_per_1000", "period": period, "value": value, "dims": dims or {}}
    if value is not None:
        row |= {"ci_low": value * 0.9, "ci_high": value * 1.1, "n": 200}
    return row | kw


@pytest.fixture
def small(cell_store: Engine) -> tuple[Settings, Engine]:
    end = MONTHS[-1]
    rows = [coverage(p, 3.0 + i / 10, n=1000) for i, p in enumerate(MONTHS)]
    rows += [
        coverage(end, 4.0, {"region": "Northgate"}, n=500),
        coverage(end, 3.0, {"region": "Fenwick"}, n=4),  # fewer than 10 cases: suppressed by the query layer
        coverage(end, 2.5, {"region": "Highmoor"}, n=300),
        # Greenvale: no cell at all for the last month, and no population for the first
        coverage(MONTHS[0], None, {"region": "Greenvale"}, note="no population known for this slice", n=50),
        coverage(end, 2.0, {"sex": "Female"}, ci_low=1.8, ci_high=2.2),
        coverage(end, 3.0, {"sex": "Male"}, ci_low=2.7, ci_high=3.3),
        coverage(end, 2.05, {"sex": "Not stated"}, ci_low=1.6, ci_high=2.5),
    ]
    # The index only where its regions' cells are: the other months have none at all.
    rows.append(
        {
            "metric": "coverage_gini",
            "period": end,
            "value": 0.1,
            "across": "region",
            "n": 500,
            "note": "2 categories of region used",
        }
    )
    write(cell_store, rows)
    settings = small_settings()
    create_app(settings, cell_store)
    return state.settings(), cell_store


def test_suppressed_and_missing_are_said_never_drawn_as_zero(small):
    settings, engine = small
    page = ev.page(engine, settings, {}, "/equal-service")
    table = {r[0]: r for r in rows(page, "region-bars")}
    assert table["Northgate"][1:] == ["4.00 per 1,000", "3.60 per 1,000 to 4.40 per 1,000", "500"]
    assert table["Fenwick"][1:] == ["Suppressed (fewer than 10 cases)", "Not available", "Not available"]
    # Fenwick could be recovered from everyone's count less the others: the query layer hides Highmoor too.
    assert table["Highmoor"][1:] == [
        "Suppressed (would reveal a smaller suppressed figure)",
        "Not available",
        "Not available",
    ]
    assert table["Greenvale"][1:] == ["No figure", "Not available", "Not available"]
    bars = figure(page, "region-bars")["data"][0]
    assert list(bars["y"]) == ["Northgate"] and list(bars["x"]) == [4.0]
    assert list(bars["error_x"]["array"]) == pytest.approx([0.4])
    text = caption(page, "region-bars")
    assert "Northgate: 4.00 per 1,000." in text
    assert "500" not in text  # no sum beside everyone's figure to subtract from
    assert "Suppressed (fewer than 10 cases), not drawn: Fenwick." in text
    assert "Suppressed (would reveal a smaller suppressed figure), not drawn: Highmoor." in text
    assert "No figure, not drawn: Greenvale." in text
    assert "All regions" not in text and "all regions, 3.50 per 1,000" in text
    # A month whose cell says why it has no value shows the reason.
    trend = rows(page, "coverage-trend")
    assert [r[1] for r in trend] == [format_value(3.0 + i / 10, "per_1000") for i in reversed(range(6))]
    gini = {r[0]: r for r in rows(page, "coverage-gini")}
    stored = {r["period"]: r for r in read(engine, "coverage_gini", across="region").to_dict("records")}
    for month in MONTHS:
        assert gini[period_label(month, "month")][1] == expected_text(stored.get(month), "index")
    assert [r[1] for r in rows(page, "coverage-gini")][1:] == ["No figure"] * 5
    assert "Across regions: No figure, so left as gaps: Jan 2026 to May 2026." in caption(page, "coverage-gini")
    assert gini["June 2026"][1:] == ["0.100", "500"]
    assert "2 categories, n = 500" in caption(page, "coverage-gini")
    # Not computed across sex: one line, and the reason in words.
    assert len([t for t in figure(page, "coverage-gini")["data"] if t.get("mode") == "lines+markers"]) == 1
    assert "the store holds no Coverage inequality (Gini) across sex, so it is shown as missing" in caption(
        page, "coverage-gini"
    )
    # Indicators with no cells at all: said, not drawn.
    assert "not computed" in words(find(page, ids.block(PAGE, "coverage-theil"))).lower() or has(
        page, ids.graph(PAGE, "coverage-theil")
    )


def test_missing_population_note_is_shown(small):
    settings, engine = small
    page = ev.page(engine, settings, {"region": "Greenvale"}, "/equal-service")
    trend = rows(page, "coverage-trend")
    assert trend[-1][1] == "No population known for this slice"
    assert trend[0][1] == "No figure"


def test_reference_gaps_by_hand(small):
    settings, engine = small
    page = ev.page(engine, settings, {"group": "sex"}, "/equal-service")
    gaps = {r[0]: r for r in rows(page, "group-gaps")}
    # Male 3.0 [2.7, 3.3] against Female 2.0 [1.8, 2.2]: 1.5 times, clearly apart.
    assert gaps["Male"][1] == "1.50×" and gaps["Male"][3] == "+1.00 per 1,000"
    assert gaps["Male"][-1] == "Differs from the reference group"
    # Not stated 2.05 [1.6, 2.5]: overlapping intervals, no clear difference.
    assert gaps["Not stated"][1] == "1.02×" and gaps["Not stated"][-1] == "No clear difference from the reference group"
    text = caption(page, "group-gaps")
    assert "Differs from the reference group Female (the 95% interval of the ratio excludes 1): Male (1.50×" in text
    assert "No clear difference from the reference group Female: Not stated." in text
    bars = figure(page, "group-bars")["data"][0]
    assert list(bars["y"]) == ["Not stated", "Male", "Female (reference)"]  # configured order, top down
    ratio = figure(page, "group-gaps")
    names = {t["name"]: list(t["y"]) for t in ratio["data"]}
    assert names == {"Differs from the reference group": ["Male"], "No clear difference": ["Not stated"]}


def test_chosen_group_is_highlighted_and_the_region_chart_not_computed(small):
    settings, engine = small
    page = ev.page(engine, settings, {"group": "sex", "value": "Male"}, "/equal-service")
    bars = figure(page, "group-bars")["data"][0]
    assert "Male (selected)" in bars["y"]
    assert "Not computed for this combination" in words(find(page, ids.block(PAGE, "region-bars")))
    assert "Clear the sex filter to see it." in words(find(page, ids.block(PAGE, "region-bars")))


GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "Northgate"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-1.0, 52.0], [-0.5, 52.0], [-0.5, 52.4], [-1.0, 52.4], [-1.0, 52.0]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"code": "Fenwick"},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[[-0.5, 52.0], [0.0, 52.0], [0.0, 52.4], [-0.5, 52.4], [-0.5, 52.0]]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"code": "Elsewhere"},
            "geometry": {"type": "Polygon", "coordinates": [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 10.0]]]},
        },
    ],
}


def test_map_when_boundaries_are_configured(small, tmp_path):
    _, engine = small
    path = tmp_path / "regions.geojson"
    path.write_text(json.dumps(GEOJSON), encoding="utf-8")
    settings = small_settings(path).model_copy(update={})
    settings = Settings.model_validate(
        {**settings.model_dump(), "dashboard": {"boundaries": str(path), "boundary_id_property": "code"}}
    )
    page = ev.page(engine, settings, {}, "/equal-service")
    fig = figure(page, "region-map")
    traces = {t["type"] for t in fig["data"]}
    assert traces == {"choroplethmap"}
    drawn = [t for t in fig["data"] if t.get("showscale") is not False]
    grey = [t for t in fig["data"] if t.get("showscale") is False]
    assert list(drawn[0]["locations"]) == ["Northgate"] and list(drawn[0]["z"]) == [4.0]
    assert list(grey[0]["locations"]) == ["Fenwick"]
    assert drawn[0]["featureidkey"] == "properties.code"
    # Only the configured regions' features, and a background with no tile source (offline).
    assert {f["properties"]["code"] for f in drawn[0]["geojson"]["features"]} == {"Northgate", "Fenwick"}
    assert fig["layout"]["map"]["style"]["sources"] == {}
    assert -1.0 < fig["layout"]["map"]["center"]["lon"] < 0.0 and 52.0 < fig["layout"]["map"]["center"]["lat"] < 52.4
    text = caption(page, "region-map")
    assert "In grey, without a figure: Fenwick (Suppressed (fewer than 10 cases))." in text
    assert "Not on the map (no boundary in the file): Highmoor, Greenvale." in text
    assert rows(page, "region-map") == rows(page, "region-bars")
    # The bars are still there.
    assert has(page, ids.graph(PAGE, "region-bars"))


def test_unreadable_boundaries_are_said(small, tmp_path):
    _, engine = small
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    settings = Settings.model_validate({**small_settings().model_dump(), "dashboard": {"boundaries": str(bad)}})
    page = ev.page(engine, settings, {}, "/equal-service")
    assert "The region boundaries could not be read" in words(find(page, ids.block(PAGE, "region-map")))
    assert has(page, ids.graph(PAGE, "region-bars"))


def test_empty_store_says_so(cell_store):
    settings = small_settings()
    create_app(settings, cell_store)
    page = ev.page(cell_store, state.settings(), {}, "/equal-service")
    assert "There are no figures in the store yet" in words(page)


def test_line_figure_leaves_gaps():
    settings = small_settings()
    cells = [
        ev.make_cell({"value": 1.0, "n": 20, "suppressed": False}, "ratio", 10, MONTHS[0].isoformat(), "a"),
        ev.make_cell(
            {"value": None, "n": None, "suppressed": True, "note": "suppressed: fewer than 10 cases"},
            "ratio",
            10,
            MONTHS[1].isoformat(),
            "b",
        ),
        ev.make_cell(None, "ratio", 10, MONTHS[2].isoformat(), "c"),
    ]
    fig = ev.line_figure([ev.Series("x", cells)], MONTHS[:3], "month", "ratio", settings)
    assert list(fig.data[0].y) == [1.0, None, None]
    assert fig.data[0].connectgaps is False
    summary = ev.trend_summary("x", [ev.Series("x", cells)], MONTHS[:3], "month", settings)
    assert "Suppressed (fewer than 10 cases), so left as gaps: Feb 2026." in summary
    assert "No figure, so left as gaps: Mar 2026." in summary


# --- every string has its Chinese -----------------------------------------------------------------


def marked(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "N_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


@pytest.mark.parametrize(
    "module",
    [
        "dashboard/equal_service_view.py",
        "dashboard/pages/equal_service.py",
        "dashboard/uptake_view.py",
        "dashboard/pages/uptake.py",
    ],
)
def test_every_string_has_chinese_with_the_same_placeholders(module):
    catalogue = {}
    for name in ("equal_service.po", "uptake.po"):
        with (REPO / "dashboard/locale/zh" / name).open("rb") as f:
            catalogue |= {m.id: m.string for m in read_po(f) if m.id}
    for text in marked(REPO / module):
        assert catalogue.get(text), f"{module}: no Chinese for {text!r}"
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", catalogue[text])), text


def test_view_defaults_to_the_first_group_attribute():
    settings = small_settings()
    assert ev.group_attribute(View(), settings) == "sex"
    assert ev.group_attribute(View(group="sex"), settings) == "sex"
