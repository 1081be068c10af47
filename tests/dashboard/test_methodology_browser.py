"""The methodology page in real headless Chromium: every indicator, reached from the table of
contents, in English and in Chinese. Run with `--headless`."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dashboard import methodology_view
from dashboard.app import create_app
from metrics.catalogue import CATALOGUE, CATALOGUE_LIST

pytestmark = pytest.mark.browser


def test_methodology_lists_every_indicator_in_both_languages(dash_duo, demo_store):
    settings, engine = demo_store
    dash_duo.start_server(create_app(settings, engine))
    dash_duo.wait_for_page(dash_duo.server_url + "/methodology")
    dash_duo.wait_for_element(f"#{methodology_view.CONTENTS}", timeout=30)
    assert dash_duo.find_element("#main h1").text == "Methodology"
    articles = dash_duo.driver.find_elements(By.CSS_SELECTOR, "article[id^='method-indicator-']")
    assert len(articles) == len(CATALOGUE)
    m = CATALOGUE["on_time_rate"]
    article = dash_duo.find_element(f"#{methodology_view.indicator_id(m.id)}")
    assert m.formula in article.text and m.n_means in article.text

    # The contents lead to an indicator.
    link = dash_duo.find_element(f'#{methodology_view.CONTENTS} a[href="#{methodology_view.indicator_id(m.id)}"]')
    link.click()
    dash_duo.wait_for_element(f"#{methodology_view.indicator_id(m.id)}")
    assert dash_duo.driver.current_url.endswith(f"#{methodology_view.indicator_id(m.id)}")

    # The same page in Chinese.
    dash_duo.wait_for_page(dash_duo.server_url + "/methodology?lang=zh")
    dash_duo.wait_for_text_to_equal("#main h1", "方法说明", timeout=20)
    assert dash_duo.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh"
    text = dash_duo.find_element(f"#{methodology_view.CONTENTS}").text
    for definition in CATALOGUE_LIST:
        assert definition.name.zh in text
    assert dash_duo.get_logs() == []
