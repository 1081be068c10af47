"""The methodology page says, for every indicator of the catalogue, what the generated
methodology document says, grouped by family with a table of contents, in both languages."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import plotly.utils
from dash import html

from dashboard import i18n, ids, methodology_view
from metrics import methodology
from metrics.catalogue import CATALOGUE, CATALOGUE_LIST
from tests.dashboard.tables import table_rows

PAGE = ids.METHOD


def text_of(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def walk(component: Any) -> list[Any]:
    """Every component of a tree, in document order."""
    out = [component]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            out += walk(child)
    return out


def find(component: Any, wanted: str) -> Any:
    return next((c for c in walk(component) if getattr(c, "id", None) == wanted), None)


def test_every_indicator_is_described_from_the_catalogue():
    page = methodology_view.methodology_layout()
    for m in CATALOGUE_LIST:
        article = find(page, methodology_view.indicator_id(m.id))
        assert article is not None, m.id
        text = text_of(article)
        for part in (
            m.name.en,
            m.description.en,
            m.formula,
            m.n_means,
            m.unit,
            m.direction,
            methodology.UNITS[m.unit].en,
            methodology.DIRECTIONS[m.direction].en,
        ):
            assert json.dumps(part, ensure_ascii=False)[1:-1] in text, (m.id, part)
        assert f'"children": "{m.version}"' in text
        # The caveats and the interval are the document's, with `code` spans as code.
        for caveat in methodology.CAVEATS[m.id]:
            first = caveat.split("`")[0][:40]
            assert json.dumps(first, ensure_ascii=False)[1:-1] in text, (m.id, first)
        assert json.dumps(methodology.INTERVALS[m.id].split("`")[0], ensure_ascii=False)[1:-1] in text
        # Each indicator sits in its family's section.
        family = find(page, methodology_view.family_id(m.family))
        assert find(family, methodology_view.indicator_id(m.id)) is article


def test_the_contents_link_to_every_family_indicator_and_rule():
    page = methodology_view.methodology_layout()
    contents = find(page, methodology_view.CONTENTS)
    links = [c.href for c in walk(contents) if isinstance(c, html.A)]
    targets = [f"#{methodology_view.GLANCE}"] + [f"#{methodology_view.family_id(f)}" for f, _t, _q in
                                                  methodology.FAMILIES]  # fmt: skip
    targets += [f"#{methodology_view.indicator_id(m)}" for m in CATALOGUE]
    targets += [f"#{methodology_view.rule_id(k)}" for k, _t, _x in methodology_view.RULES]
    assert set(links) == set(targets)
    present = {c.id for c in walk(page) if getattr(c, "id", None)}
    assert {t[1:] for t in targets} <= present
    assert len(table_rows(page, ids.table(PAGE, "glance"))) == len(CATALOGUE)


def test_headings_come_in_order_and_sections_are_labelled():
    for lang in ("en", "zh"):
        with i18n.use(lang):
            page = methodology_view.methodology_layout()
        levels = [int(type(c).__name__[1]) for c in walk(page) if type(c).__name__ in ("H1", "H2", "H3")]
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in pairwise(levels)), levels
        present = {c.id for c in walk(page) if getattr(c, "id", None)}
        for c in walk(page):
            labelled = getattr(c, "aria-labelledby", None)
            if labelled:
                assert labelled in present, labelled


def test_chinese_names_and_translated_properties_with_english_marked():
    with i18n.use("zh"):
        page = methodology_view.methodology_layout()
        text = text_of(page)
        for m in CATALOGUE_LIST:
            assert m.name.zh in text and m.description.zh in text
            assert i18n._(m.n_means) != m.n_means, m.n_means
        for _f, title, question in methodology.FAMILIES:
            assert title.zh in text and question.zh in text
        assert "方法说明" in text and "目录" in text
    # Every interval and breakdown in words has its Chinese; the caveats and shared rules,
    # which stay English as in the document, are marked lang="en" for screen readers.
    zh = i18n.catalogue("zh")
    for words in (*methodology.INTERVALS.values(), *methodology.BREAKDOWNS.values()):
        assert words in zh, words
    article = find(page, methodology_view.indicator_id("on_time_rate"))
    english = [c for c in walk(article) if getattr(c, "lang", None) == "en"]
    assert any(isinstance(c, html.Ul) for c in english)  # the caveats
    for key, _t, _x in methodology_view.RULES:
        rule = find(page, methodology_view.rule_id(key))
        assert any(getattr(c, "lang", None) == "en" for c in walk(rule))
    english_page = text_of(methodology_view.methodology_layout())
    assert "Methodology" in english_page and "lang" not in json.dumps(
        [
            getattr(c, "lang", None)
            for c in walk(find(methodology_view.methodology_layout(), methodology_view.indicator_id("on_time_rate")))
            if getattr(c, "lang", None) not in (None, "en")
        ]
    )
