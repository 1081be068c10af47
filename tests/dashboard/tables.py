"""Reading a figures table (`dashboard.blocks.data_table`) back as rows of text, in tests
that inspect components without a browser."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _find(component: Any, wanted: str) -> Any:
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            hit = _find(child, wanted)
            if hit is not None:
                return hit
    return None


def table_rows(component: Any, table_id: str) -> list[list[str]]:
    """The body rows of the table `table_id` inside `component`, each a list of cell texts."""
    wrap = _find(component, f"{table_id}-wrap")
    assert wrap is not None, f"no table {table_id!r} here"
    parser = _Rows()
    parser.feed(wrap.children.children)
    return parser.rows
