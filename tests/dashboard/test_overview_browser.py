"""The overview page in real headless Chromium, over a store the real CLI built.

Run with `--headless`; needs chromium and chromedriver on PATH (Debian: chromium-driver).
"""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard import data, ids
from dashboard.app import create_app
from dashboard.tiles import tile_data

pytestmark = pytest.mark.browser

# What a shown value looks like, by unit; anything else must be a sentence saying why
# there is no number (suppressed or missing), never a bare 0 or an empty tile.
VALUE = {
    "proportion": r"\d{1,3}\.\d%",
    "days": r"\d+\.\d days",
    "hours": r"\d+\.\d hours",
    "count": r"\d{1,3}(,\d{3})*",
    "per_1000": r"\d+\.\d\d per 1,000",
}
STATUS_WORDS = ("On track", "At risk", "Off track", "No status")


def tile_text(dash_duo, metric: str) -> str:
    return dash_duo.find_element(f"#{ids.tile_value(metric)}").text.strip()


def test_overview_tiles_and_region_filter(dash_duo, demo_store):
    settings, engine = demo_store
    version = data.data_version(engine)
    latest = data.periods(engine, "month", version)[-1]
    dash_duo.start_server(create_app(settings, engine))
    headline = settings.dashboard.headline
    for metric in headline:
        dash_duo.wait_for_element(f"#{ids.tile_value(metric)}", timeout=20)

    # Every headline tile shows a well-formed value or says why there is none, and shows
    # exactly what the tile function computes from the store.
    for metric in headline:
        t = tile_data(engine, settings, metric, latest, version=version)
        text = tile_text(dash_duo, metric)
        assert text == t["value_text"], metric
        if t["state"] == "value":
            assert re.fullmatch(VALUE[t["unit"]], text), (metric, text)
        else:
            assert text.startswith(("Suppressed (", "Not ", "No ")), (metric, text)
    # Indicators with a target say where they stand, in words.
    for metric in settings.targets:
        tile = dash_duo.find_element(f"#{ids.tile(metric)}").text
        assert any(w in tile for w in STATUS_WORDS), (metric, tile)

    # The page declares its language, its headings come in order, every control is labelled
    # and Bootstrap's stylesheet came from the app itself (no network).
    driver = dash_duo.driver
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    levels = [int(h.tag_name[1]) for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels
    for select in driver.find_elements(By.TAG_NAME, "select"):
        sid = select.get_attribute("id")
        assert driver.find_elements(By.CSS_SELECTOR, f'label[for="{sid}"]'), sid
    navbar_bg = dash_duo.find_element(f"#{ids.NAVBAR}").value_of_css_property("background-color")
    assert navbar_bg in ("rgba(33, 37, 41, 1)", "rgb(33, 37, 41)")
    assert dash_duo.find_element(f"#{ids.NAV_AS_OF}").text.startswith("Data as of ")

    # Choosing a region changes the tiles to that region's figures and the address to match.
    before = tile_text(dash_duo, "cases_opened")
    region = max(
        (r.id for r in settings.regions),
        key=lambda r: tile_data(engine, settings, "cases_opened", latest, r)["value"] or 0,
    )
    expected = tile_data(engine, settings, "cases_opened", latest, region)["value_text"]
    assert expected != before
    Select(dash_duo.find_element(f"#{ids.filter_id(ids.OVERVIEW, 'region')}")).select_by_value(region)
    dash_duo.wait_for_text_to_equal(f"#{ids.tile_value('cases_opened')}", expected, timeout=10)
    for metric in headline:
        assert (
            tile_text(dash_duo, metric)
            == tile_data(engine, settings, metric, latest, region, version=version)["value_text"]
        )
    dash_duo.wait_for_contains_text(f"#{ids.OV_TREND}", f"Trend, {region}", timeout=10)
    link = dash_duo.find_element(f"#{ids.filter_id(ids.OVERVIEW, 'link')}").get_attribute("href")
    assert f"region={region.replace(' ', '+')}" in link
    assert driver.current_url == link

    # The address reproduces the view.
    dash_duo.wait_for_page(link)
    dash_duo.wait_for_text_to_equal(f"#{ids.tile_value('cases_opened')}", expected, timeout=10)
    chosen = Select(dash_duo.find_element(f"#{ids.filter_id(ids.OVERVIEW, 'region')}")).first_selected_option
    assert chosen.text == region

    assert dash_duo.get_logs() == []
