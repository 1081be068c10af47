"""The methodology page: every indicator of the catalogue in plain words, for auditors.

Built from `metrics.methodology`, the generator of docs/methodology.md, so the page and the
document say the same thing: the catalogue's names, descriptions, formulas, units,
directions, versions and what `n` counts, the interval and breakdowns of each indicator, and
its caveats, grouped by family with a table of contents, then the rules every indicator
shares (conventions, uncertainty, suppression, missing values, lineage).

In Chinese, names, descriptions, units, directions, labels, what `n` counts, intervals and
breakdowns are translated; formulas are code, and the caveats and the shared rules stay in
English, as in the generated document, marked `lang="en"` so screen readers read them so.
"""

from __future__ import annotations

import re
from typing import Any

from dash import dcc, html

from dashboard import blocks, ids
from dashboard.i18n import N_, _, lang
from metrics.catalogue import CATALOGUE_LIST, MetricDefinition
from metrics.methodology import (
    ALL_DIMS,
    BREAKDOWNS,
    CAVEATS,
    CONVENTIONS,
    DIRECTIONS,
    FAMILIES,
    INTERVALS,
    LABELS,
    LINEAGE,
    MISSING,
    SUPPRESSION,
    UNCERTAINTY,
    UNITS,
    _by_family,
    _compared,
)

PAGE = ids.METHOD
CONTENTS = ids.block(PAGE, "contents")
GLANCE = ids.block(PAGE, "glance")
# Code spans in a dark magenta with 7:1 contrast on the page (Bootstrap's pink has 4.2:1).
CODE_COLOUR = {"--bs-code-color": "#9b1c5a"}

# The rules every indicator shares: the generated document's sections, in its order.
RULES: tuple[tuple[str, str, str], ...] = (
    ("conventions", N_("Conventions"), CONVENTIONS),
    ("uncertainty", N_("Uncertainty"), UNCERTAINTY),
    ("suppression", N_("Small-number suppression"), SUPPRESSION),
    ("missing", N_("Missing is not zero"), MISSING),
    ("lineage", N_("Lineage"), LINEAGE),
)


def label(key: str) -> str:
    return LABELS[key].get(lang())


def translated(text: str) -> tuple[str, bool]:
    """`text` in the reader's language, and whether it stayed English (no translation)."""
    out = _(text)
    return out, lang() != "en" and out == text


def inline(text: str) -> list[Any]:
    """Text with `code` spans as <code> elements."""
    parts = re.split(r"(`[^`]+`)", text)
    return [html.Code(p[1:-1]) if p.startswith("`") and p.endswith("`") and len(p) > 1 else p for p in parts if p]


def _english(children: Any, english: bool, tag: Any = html.Span, **kw: Any) -> Any:
    return tag(children, lang="en", **kw) if english else tag(children, **kw)


def family_id(family: str) -> str:
    return ids.block(PAGE, f"family-{family}")


def indicator_id(metric: str) -> str:
    return ids.block(PAGE, f"indicator-{metric}")


def rule_id(key: str) -> str:
    return ids.block(PAGE, f"rule-{key}")


def _item(term: str, detail: Any) -> list[Any]:
    return [html.Dt(term, className="col-sm-3"), html.Dd(detail, className="col-sm-9")]


def indicator_section(m: MetricDefinition) -> html.Article:
    """One indicator: its description, then every property the document gives, as a list."""
    language = lang()
    n_means, n_english = translated(m.n_means)
    interval, interval_english = translated(INTERVALS.get(m.id, LABELS["undocumented"].en))
    if m.id in BREAKDOWNS:
        breakdown, breakdown_english = translated(BREAKDOWNS[m.id])
    else:
        breakdown, breakdown_english = ALL_DIMS.get(language), False
    requires = ([html.Code(r) for r in m.requires] if m.requires else [label("from_cases")])
    caveats = CAVEATS.get(m.id) or (LABELS["undocumented"].en,)
    heading_id = f"{indicator_id(m.id)}-title"
    english_caveats = language != "en"
    details = [
        *_item(label("formula"), html.Code(m.formula, lang="en")),
        *_item(label("unit"), [UNITS[m.unit].get(language) if m.unit in UNITS else m.unit, " (", html.Code(m.unit),
                               ")"]),
        *_item(label("direction"), [DIRECTIONS[m.direction].get(language) if m.direction in DIRECTIONS
                                    else m.direction, " (", html.Code(m.direction), ")"]),
        *_item(label("n"), _english(inline(n_means), n_english)),
        *_item(label("interval"), _english(inline(interval), interval_english)),
        *_item(label("compared"), label(_compared(m))),
        *_item(label("requires"), _sep(requires)),
        *_item(label("breakdown"), _english(inline(breakdown), breakdown_english)),
        *_item(label("version"), str(m.version)),
        *_item(label("caveats"), _english([html.Li(inline(c)) for c in caveats], english_caveats, html.Ul,
                                          className="mb-0")),
    ]  # fmt: skip
    return html.Article(
        [
            html.H3([m.name.get(language), " ", html.Code(m.id, className="small")], id=heading_id,
                    className="h5 mt-4"),
            html.P(m.description.get(language)),
            html.Dl(details, className="row methodology-details"),
        ],
        id=indicator_id(m.id),
        **{"aria-labelledby": heading_id},
    )


def _sep(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(items):
        if i:
            out.append(", ")
        out.append(item)
    return out


def family_sections() -> list[html.Section]:
    language = lang()
    families = _by_family(CATALOGUE_LIST)
    out = []
    for family, title, question in FAMILIES:
        heading_id = f"{family_id(family)}-title"
        out.append(html.Section(
            [
                html.H2(title.get(language), id=heading_id, className="h4 mt-5"),
                html.P(question.get(language), className="lead"),
                *[indicator_section(m) for m in families[family]],
            ],
            id=family_id(family),
            **{"aria-labelledby": heading_id},
        ))  # fmt: skip
    return out


def glance_rows() -> list[list[Any]]:
    """Every indicator in a line: name, id, family, unit, direction, what n counts, version."""
    language = lang()
    heading = {f: t.get(language) for f, t, _q in FAMILIES}
    families = _by_family(CATALOGUE_LIST)
    rows = []
    for family, members in families.items():
        for m in members:
            rows.append([
                html.A(m.name.get(language), href=f"#{indicator_id(m.id)}"), html.Code(m.id), heading[family],
                UNITS[m.unit].get(language) if m.unit in UNITS else m.unit,
                DIRECTIONS[m.direction].get(language) if m.direction in DIRECTIONS else m.direction,
                translated(m.n_means)[0], str(m.version),
            ])  # fmt: skip
    return rows


def glance_section() -> Any:
    head = [label("name_col"), label("id_col"), label("family_col"), label("unit"), label("direction"), label("n"),
            label("version")]  # fmt: skip
    return blocks.text_block(PAGE, "glance", label("contents"),
                             [blocks.data_table(head, glance_rows(), table_id=ids.table(PAGE, "glance"))],
                             level=2)  # fmt: skip


def rule_sections() -> list[html.Section]:
    """The shared rules, as the document writes them (Markdown, English)."""
    out = []
    for key, title, text in RULES:
        heading_id = f"{rule_id(key)}-title"
        body = text.split("\n", 1)[1] if text.startswith("## ") else text
        out.append(html.Section(
            [
                html.H2(_(title), id=heading_id, className="h4 mt-5"),
                html.Div(dcc.Markdown(body), lang="en"),
            ],
            id=rule_id(key),
            **{"aria-labelledby": heading_id},
        ))  # fmt: skip
    return out


def contents() -> html.Nav:
    language = lang()
    families = _by_family(CATALOGUE_LIST)
    entries = [html.Li(html.A(label("contents"), href=f"#{GLANCE}"))]
    for family, title, _q in FAMILIES:
        entries.append(html.Li([
            html.A(title.get(language), href=f"#{family_id(family)}"),
            html.Ul([html.Li(html.A(m.name.get(language), href=f"#{indicator_id(m.id)}")) for m in families[family]]),
        ]))  # fmt: skip
    entries.append(html.Li([
        _("Rules every indicator follows"),
        html.Ul([html.Li(html.A(_(title), href=f"#{rule_id(key)}")) for key, title, _t in RULES]),
    ]))  # fmt: skip
    heading_id = f"{CONTENTS}-title"
    return html.Nav(
        [html.H2(_("Contents"), id=heading_id, className="h4"), html.Ul(entries)],
        id=CONTENTS,
        className="methodology-contents mb-4",
        **{"aria-labelledby": heading_id},
    )


def methodology_layout() -> html.Div:
    intro = [
        html.P(_("How every indicator is computed, what each figure rests on and what can mislead a reader, so that "
                 "any published figure can be checked against the data. This page is generated from the indicator "
                 "catalogue, like the methodology document (docs/methodology.md), so the two cannot drift apart.")),
    ]  # fmt: skip
    if lang() != "en":
        intro.append(html.P(_("Formulas, the caveats of each indicator and the rules every indicator follows are "
                              "given in English, as in the methodology document; the English text is "
                              "authoritative."), className="small"))  # fmt: skip
    return html.Div(
        [
            html.H1(_("Methodology"), className="h3 mb-3"),
            *intro,
            contents(),
            glance_section(),
            *family_sections(),
            *rule_sections(),
        ],
        id=ids.content(PAGE),
        style=CODE_COLOUR,
    )
