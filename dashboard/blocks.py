"""The parts every page is built of: a chart with its title, a summary in words, the same
figures as a table, and a CSV download of them (the records of `metrics export`).

A chart is never the only way to the numbers: screen-reader users get the summary and the
table, auditors the download. Suppressed and missing figures are written as such in the
table, never as 0 or a blank.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import filters, ids
from dashboard.i18n import _

GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


def data_table(head: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None,
               table_id: str | None = None) -> html.Div:  # fmt: skip
    """A plain table: the first column names each row (row headers), the rest are figures.

    One component holding the table's HTML, not a component per cell: Dash renders each
    component on its own, and a page of trend tables (1,500 cells) then took 15 seconds to
    redraw after a filter change, against 3 as one component each. Every text is escaped here.
    """
    cols = "".join(f'<th scope="col">{_esc(h)}</th>' for h in head)
    body = "".join(
        f'<tr><th scope="row">{_esc(r[0])}</th>' + "".join(f"<td>{_esc(v)}</td>" for v in r[1:]) + "</tr>"
        for r in rows
    )
    ident = f' id="{escape(table_id)}"' if table_id else ""
    markup = (
        f'<table{ident} class="table table-sm table-striped mt-2 figures-table">'
        + (f"<caption>{_esc(caption)}</caption>" if caption else "")
        + f"<thead><tr>{cols}</tr></thead><tbody>{body}</tbody></table>"
    )
    kw = {"id": f"{table_id}-wrap"} if table_id else {}
    return html.Div(dcc.Markdown(markup, dangerously_allow_html=True), className="table-responsive", **kw)


def _esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=False)


def csv_link(href: str, block_id: str | None = None) -> html.A:
    kw = {"id": block_id} if block_id else {}
    return html.A(_("Download these figures (CSV)"), href=href, download="", className="csv-link", **kw)


def chart_block(
    page: str,
    name: str,
    title: str,
    figure: Any,
    summary: str,
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    csv: str | None = None,
    notes: Sequence[Any] = (),
    level: int = 3,
) -> html.Section:
    """One chart of a page with everything that goes with it. `rows` are the figures as
    text, first column the period or category; `csv` the download address."""
    heading_id = f"{ids.block(page, name)}-title"
    heading = (html.H2 if level == 2 else html.H3)(title, id=heading_id, className="h5 mt-4")
    extra: list[Any] = [csv_link(csv, ids.download(page, name))] if csv else []
    return html.Section(
        [
            heading,
            *[html.P(n, className="block-note") for n in notes],
            html.Figure(
                [
                    dcc.Graph(id=ids.graph(page, name), figure=figure, config=GRAPH_CONFIG),
                    html.Figcaption(summary, className="chart-caption"),
                ],
                className="chart",
            ),
            html.Details(
                [html.Summary(_("Figures as a table")), data_table(head, rows, table_id=ids.table(page, name))],
                className="chart-table",
            ),
            *extra,
        ],
        id=ids.block(page, name),
        className="block",
        **{"aria-labelledby": heading_id},
    )


def text_block(page: str, name: str, title: str, body: Sequence[Any], level: int = 3) -> html.Section:
    """A block without a chart (a message, a list, a table of its own)."""
    heading_id = f"{ids.block(page, name)}-title"
    heading = (html.H2 if level == 2 else html.H3)(title, id=heading_id, className="h5 mt-4")
    return html.Section([heading, *body], id=ids.block(page, name), className="block",
                        **{"aria-labelledby": heading_id})  # fmt: skip


def no_figures() -> dbc.Alert:
    """What every page says before the first refresh: what to run."""
    return dbc.Alert(
        _("There are no figures in the store yet. Load data with `civic-metrics etl run` and compute the "
          "indicators with `civic-metrics metrics refresh`."),
        color="warning",
    )  # fmt: skip


def page_body(page: str, header: Sequence[Any], view: Any, settings: Any, periods: Any, link: str,
              content: Callable[[], Any], extra: Sequence[Any] | None = None,
              tail: Sequence[Any] = ()) -> html.Div:  # fmt: skip
    """A page with a filter bar: its header, the filters, then `content()` in the element
    the page's callback redraws; before the first refresh, the header and what to run."""
    if view.end is None:
        return html.Div([*header, no_figures()])
    bar = filters.filter_bar(page, view, settings, periods, link, extra=extra)
    return html.Div([*header, bar, html.Div(content(), id=ids.content(page)), *tail])
