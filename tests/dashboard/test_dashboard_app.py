"""The app and the overview layout without a browser, over a store the real CLI built."""

from __future__ import annotations

import datetime as dt
import json
import re

import plotly.utils
from sqlalchemy import delete

from dashboard import data, filters, ids, views
from dashboard.app import create_app
from dashboard.formatting import format_value
from dashboard.tiles import tile_data
from metrics.store.models import MetricCell


def text_of(component) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def test_page_works_offline_and_declares_its_language(demo_store):
    settings, engine = demo_store
    client = create_app(settings, engine).server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert re.search(r'href="/assets/bootstrap\.min\.css\?m=\d+', html)
    assert "cdn." not in html and "https://" not in html.split("<body>")[0]
    css = client.get("/assets/bootstrap.min.css")
    assert css.status_code == 200 and b"Bootstrap  v5.3" in css.data[:200]
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "civic-metrics" in layout and "Data as of " in layout
    deps = client.get("/_dash-dependencies").get_json()
    outputs = " ".join(d["output"] for d in deps)
    assert f"{ids.content(ids.OVERVIEW)}.children" in outputs
    assert f"{ids.filter_id(ids.OVERVIEW, 'link')}.href" in outputs


def test_layout_shows_every_headline_tile(demo_store):
    settings, engine = demo_store
    page = text_of(views.overview_layout(engine, settings, "/"))
    version = data.data_version(engine)
    latest = data.periods(engine, "month", version)[-1]
    for metric in settings.dashboard.headline:
        t = tile_data(engine, settings, metric, latest, version=version)
        assert ids.tile_value(metric) in page
        assert json.dumps(t["value_text"], ensure_ascii=False) in page
    # Every indicator with a target shows its status in words beside a shape.
    for metric in settings.targets:
        status = tile_data(engine, settings, metric, latest, version=version)["status_text"]
        assert status and json.dumps(status, ensure_ascii=False) in page
    assert "Headline indicators" in page and "By region, " in page and "Trend, Everyone" in page


def test_layout_follows_the_url_and_falls_back_with_a_notice(demo_store):
    settings, engine = demo_store
    region = settings.regions[0].id
    params = {"to": "2025-03", "region": region, "indicator": "satisfied_share"}
    page = text_of(views.overview_layout(engine, settings, "/", params))
    assert '"value": "2025-03"' in page
    assert f'"value": "{region}"' in page
    assert '"value": "satisfied_share"' in page
    months = data.periods(engine, "month", data.data_version(engine))
    first = months[max(0, months.index(dt.date(2025, 3, 1)) - 35)]
    assert f"Trend, {region}: {first:%B %Y} to March 2025" in page
    assert f"/?grain=month&from={first:%Y-%m}&to=2025-03&region={region}&indicator=satisfied_share" in page
    # Links from before the shared filters (period=) still open the month they name.
    assert '"value": "2025-03"' in text_of(views.overview_layout(engine, settings, "/", {"period": "2025-03"}))

    bad = text_of(views.overview_layout(engine, settings, "/", {"to": "1999-01", "region": "Atlantis",
                                                                 "indicator": "happiness"}))  # fmt: skip
    assert "There are no figures for the period '1999-01'; showing the newest periods." in bad
    assert "'Atlantis' is not a region here; showing all." in bad
    assert "'happiness' is not an indicator" in bad
    latest = data.periods(engine, "month", data.data_version(engine))[-1]
    assert f'"value": "{latest:%Y-%m}"' in bad


def test_views_default_to_the_newest_periods(demo_store):
    settings, engine = demo_store
    periods = views.periods_of(engine, data.data_version(engine))
    months = periods("month")
    view = filters.parse_view({}, settings, periods)
    assert (view.grain, view.start, view.end, view.slice(), view.notices) == ("month", months[-36], months[-1], {}, ())
    # A parameter given twice arrives as a list: the last one wins.
    view = filters.parse_view({"to": [months[0].isoformat(), f"{months[1]:%Y-%m}"], "region": "All"}, settings,
                              periods)  # fmt: skip
    assert (view.start, view.end, view.region, view.notices) == (months[0], months[1], None, ())
    assert views.resolve_indicator("backlog_open") == ("backlog_open", [])


def test_status_is_a_word_and_a_shape(demo_store):
    t = {
        "metric": "on_time_rate",
        "name": "On time",
        "description": "d",
        "state": "value",
        "value_text": "82.3%",
        "n_text": "Based on 10 determined cases",
        "status": "off_track",
        "status_text": "Off track",
        "target_text": "Target",
        "direction": "higher_is_better",
        "change_month_text": "+1.0 pts since last month",
        "change_year_text": None,
        "note": None,
    }
    card = text_of(views.tile_card(t))
    assert '"Off track"' in card
    assert views.STATUS_ICON["off_track"] in card and '"aria-hidden": "true"' in card
    assert "status-off_track" in card


def test_count_regions_have_no_reference_line(demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    view = filters.parse_view({}, settings, views.periods_of(engine, version))
    backlog = text_of(views.regions_block(engine, settings, "backlog_open", view, version))
    assert "Target" not in backlog and "Everyone" not in backlog and "dashed line" not in backlog
    on_time = text_of(views.regions_block(engine, settings, "on_time_rate", view, version))
    target = format_value(settings.targets["on_time_rate"].target, "proportion")
    assert f"Target {target}" in on_time and f"The dashed line is the target, {target}." in on_time


def test_as_of_and_an_unfinished_month(settings):
    run = {"as_of": dt.datetime(2026, 10, 15, 23, 30), "finished_at": dt.datetime(2026, 10, 16, 2, 0), "cases": 1234}
    # 23:30 UTC on 15 October is 00:30 on the 16th in London (summer time).
    assert views.as_of_text(run, settings) == "Data as of 16 October 2026"
    assert views.as_of_detail(run, settings) == (
        "Data as of 16 October 2026, 00:30 (Europe/London); figures computed on 16 October 2026 from 1,234 cases."
    )
    assert views.partial_period_notice(run, settings, dt.date(2026, 10, 1)) == (
        "October 2026 is not over: its figures cover the data up to 16 October 2026."
    )
    assert views.partial_period_notice(run, settings, dt.date(2026, 9, 1)) is None
    assert views.as_of_text(None, settings) == "No figures yet"


def test_an_empty_store_says_what_to_run(cell_store, settings):
    client = create_app(settings, cell_store).server.test_client()
    assert client.get("/").status_code == 200
    assert "No figures yet" in client.get("/_dash-layout").get_data(as_text=True)
    page = text_of(views.overview_layout(cell_store, settings, "/"))
    assert "There are no figures in the store yet" in page
    assert "civic-metrics metrics refresh" in page


def test_sentences_tell_only_changes_that_can_be_judged(cell_store, write_cells, settings):
    sep, octo = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
    rows = [
        {"metric": "on_time_rate", "period": sep, "value": 0.80, "ci_low": 0.78, "ci_high": 0.82},
        {"metric": "on_time_rate", "period": octo, "value": 0.88, "ci_low": 0.86, "ci_high": 0.90},
        {"metric": "cases_opened", "period": sep, "value": 900},
        {"metric": "cases_opened", "period": octo, "value": 1000},
    ]
    write_cells(rows)
    version = data.data_version(cell_store)
    view = filters.parse_view({}, settings, views.periods_of(cell_store, version))
    said = views.change_sentences(cell_store, settings, view, version)
    rise = "Settled within the statutory deadline was 88.0% in October 2026, higher than in September 2026 (80.0%)."
    assert rise in said
    # A count has no interval: named as not judged, never as unchanged.
    assert said[-1].startswith("Not judged") and "Cases opened" in said[-1]

    # The same rise, but October is provisional: not told as a change.
    rows[1]["note"] = "provisional: 29% of cases not yet past their deadline"
    with cell_store.begin() as conn:
        conn.execute(delete(MetricCell))
    write_cells(rows)
    version = data.data_version(cell_store)
    said = views.change_sentences(cell_store, settings, view, version)
    assert not any(s.startswith("Settled within") for s in said)
    assert said[0].startswith("No headline figure changed since September 2026")
    assert "Settled within the statutory deadline" in said[-1] and said[-1].startswith("Not judged")


def test_pages_load_the_basic_plotly_bundle_unless_a_map_may_be_drawn(demo_store, tmp_path):
    settings, engine = demo_store
    basic = create_app(settings, engine).server.test_client()
    html = basic.get("/").get_data(as_text=True)
    assert re.search(r'src="/assets/vendor/plotly-basic-3\.7\.0\.min\.js\?m=\d+', html)
    assert "plotly.min.js" not in html
    bundle = basic.get("/assets/vendor/plotly-basic-3.7.0.min.js")
    assert bundle.status_code == 200 and b"plotly.js (basic - minified) v3.7.0" in bundle.data[:200]

    boundaries = tmp_path / "regions.geojson"
    boundaries.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    mapped = settings.model_copy(update={"dashboard": settings.dashboard.model_copy(update={"boundaries": boundaries})})
    html = create_app(mapped, engine).server.test_client().get("/").get_data(as_text=True)
    # Dash's own full bundle, which dcc.Graph fetches when the first chart mounts.
    assert "plotly-basic" not in html and "window.Plotly" not in html
