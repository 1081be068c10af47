"""Plotly figures as plain dictionaries, with the few `plotly.graph_objects` methods we use.

Why not `plotly.graph_objects`: every trace, `update_layout` and `add_vline` validates and
walks Plotly's object tree. On the equal-service page that was 8.4 s of a 14.6 s profile
(7 ms per annotated event per chart), more than reading the cells. Dash sends a figure to
the browser as JSON anyway, and plotly.js draws a dictionary the same way, so building the
dictionary directly costs microseconds. The names and semantics follow Plotly's so the
chart code reads the same: `Figure().add_trace(Scatter(...))`, `update_xaxes(row=, col=)`,
`add_hline`, `make_subplots(rows=1, cols=n, shared_yaxes=True)`.

What Plotly would have checked (property names, value types) is checked by the browser
tests, which draw every chart in Chromium, and by plotly's own validator in
`tests/dashboard/test_plot.py` on every figure the pages build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# What the default "plotly" template gave us that plotly.js does not do by itself: axes that
# make room for their tick labels, and a colour-blind-safe colour order (Okabe-Ito).
TEMPLATE: dict[str, Any] = {
    "layout": {
        "xaxis": {"automargin": True, "title": {"standoff": 15}},
        "yaxis": {"automargin": True, "title": {"standoff": 15}},
        "colorway": ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#56B4E9", "#E69F00"],
        "hoverlabel": {"align": "left"},
    }
}

_AXIS = re.compile(r"^([xy])axis(\d*)$")


class Node(dict):  # type: ignore[type-arg]
    """A dictionary whose keys also read as attributes (`fig.layout.xaxis.range`), like
    Plotly's objects; an unset property reads as None, as it does there."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = node(value)


def node(value: Any) -> Any:
    """`value` with every nested mapping made a Node (lists and tuples become lists)."""
    if isinstance(value, Mapping):
        return Node({k: node(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [node(v) for v in value]
    return value


def merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Plotly's update semantics: nested mappings merge, anything else replaces."""
    for key, value in update.items():
        old = into.get(key)
        if isinstance(value, Mapping) and isinstance(old, dict):
            merge(old, value)
        else:
            into[key] = node(value)


def _trace(kind: str, props: dict[str, Any]) -> Node:
    return node({"type": kind, **props})


def Scatter(**props: Any) -> Node:
    return _trace("scatter", props)


def Bar(**props: Any) -> Node:
    return _trace("bar", props)


def Choroplethmap(**props: Any) -> Node:
    return _trace("choroplethmap", props)


class Figure(Node):
    """`{"data": [...], "layout": {...}}`, built with Plotly's method names."""

    # Columns of a subplot grid, so row/col find their axes (an attribute, not a key: it is
    # not part of the figure plotly.js draws).
    __slots__ = ("_grid_cols",)

    def __init__(self, data: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
                 layout: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        traces = [data] if isinstance(data, Mapping) else list(data or [])
        super().__init__(data=[node(t) for t in traces], layout=node({"template": TEMPLATE}))
        object.__setattr__(self, "_grid_cols", 1)
        if layout:
            merge(self["layout"], layout)

    def to_dict(self) -> dict[str, Any]:
        return {"data": list(self["data"]), "layout": dict(self["layout"])}

    to_plotly_json = to_dict

    # Subplots are a grid of axes named xaxis, xaxis2, ... in row-major order.
    def _axis_name(self, letter: str, row: int | None, col: int | None) -> str | None:
        if row is None and col is None:
            return None
        index = ((row or 1) - 1) * self._grid_cols + (col or 1)
        return f"{letter}axis{'' if index == 1 else index}"

    def _ref(self, letter: str, row: int | None, col: int | None) -> str:
        name = self._axis_name(letter, row, col) or f"{letter}axis"
        return letter + name[5:]

    def add_trace(self, trace: Mapping[str, Any], row: int | None = None, col: int | None = None) -> Figure:
        t = node(trace)
        if row is not None or col is not None:
            t["xaxis"], t["yaxis"] = self._ref("x", row, col), self._ref("y", row, col)
        self["data"].append(t)
        return self

    def update_layout(self, update: Mapping[str, Any] | None = None, **props: Any) -> Figure:
        merge(self["layout"], {**(update or {}), **props})
        return self

    def _update_axes(self, letter: str, row: int | None, col: int | None, props: dict[str, Any]) -> None:
        layout = self["layout"]
        name = self._axis_name(letter, row, col)
        if name is not None:
            names = [name]
        else:
            names = [k for k in layout if (m := _AXIS.match(k)) and m.group(1) == letter] or [f"{letter}axis"]
        for n in names:
            merge(layout.setdefault(n, Node()), props)

    def update_xaxes(self, row: int | None = None, col: int | None = None, **props: Any) -> Figure:
        self._update_axes("x", row, col, props)
        return self

    def update_yaxes(self, row: int | None = None, col: int | None = None, **props: Any) -> Figure:
        self._update_axes("y", row, col, props)
        return self

    def add_annotation(self, **props: Any) -> Figure:
        self["layout"].setdefault("annotations", []).append(node(props))
        return self

    def add_shape(self, **props: Any) -> Figure:
        self["layout"].setdefault("shapes", []).append(node(props))
        return self

    def add_hline(self, y: Any, row: int | None = None, col: int | None = None, **props: Any) -> Figure:
        """A horizontal line across the plot at `y`, with Plotly's `annotation_*` options."""
        return self._line("h", y, row, col, props)

    def add_vline(self, x: Any, row: int | None = None, col: int | None = None, **props: Any) -> Figure:
        """A vertical line from the bottom to the top of the plot at `x`."""
        return self._line("v", x, row, col, props)

    def _line(self, way: str, at: Any, row: int | None, col: int | None, props: dict[str, Any]) -> Figure:
        label = {k[len("annotation_"):]: props.pop(k) for k in list(props) if k.startswith("annotation_")}
        text = label.pop("text", None)
        position = label.pop("position", "top right")
        xref, yref = self._ref("x", row, col), self._ref("y", row, col)
        if way == "h":
            shape = {"type": "line", "xref": f"{xref} domain", "x0": 0, "x1": 1, "yref": yref, "y0": at, "y1": at}
        else:
            shape = {"type": "line", "yref": f"{yref} domain", "y0": 0, "y1": 1, "xref": xref, "x0": at, "x1": at}
        self.add_shape(**shape, **props)
        if text is not None:
            # Where Plotly puts an hline/vline label for the positions we use.
            left = "left" in position
            top = "bottom" not in position
            if way == "h":
                where = {"xref": f"{xref} domain", "x": 0 if left else 1, "xanchor": "left" if left else "right",
                         "yref": yref, "y": at, "yanchor": "bottom" if top else "top"}  # fmt: skip
            else:
                where = {"xref": xref, "x": at, "xanchor": "right" if left else "left", "yref": f"{yref} domain",
                         "y": 1 if top else 0, "yanchor": "top" if top else "bottom"}  # fmt: skip
            self.add_annotation(text=text, showarrow=False, **where, **label)
        return self


def make_subplots(rows: int = 1, cols: int = 1, shared_yaxes: bool = False, horizontal_spacing: float = 0.2,
                  vertical_spacing: float = 0.3, subplot_titles: Iterable[str] | None = None) -> Figure:  # fmt: skip
    """A grid of plots laid out as Plotly lays them out, with their titles above each."""
    fig = Figure()
    layout = fig["layout"]
    width = (1 - horizontal_spacing * (cols - 1)) / cols
    height = (1 - vertical_spacing * (rows - 1)) / rows
    titles = list(subplot_titles or [])
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c + 1
            n = "" if i == 1 else str(i)
            x0 = c * (width + horizontal_spacing)
            y1 = 1 - r * (height + vertical_spacing)
            x_dom = [round(x0, 9), min(1.0, round(x0 + width, 9))]
            y_dom = [max(0.0, round(y1 - height, 9)), round(y1, 9)]
            layout[f"xaxis{n}"] = node({"anchor": f"y{n}", "domain": x_dom})
            yaxis: dict[str, Any] = {"anchor": f"x{n}", "domain": y_dom}
            if shared_yaxes and c > 0:
                first = "" if r * cols + 1 == 1 else str(r * cols + 1)
                yaxis.update(matches=f"y{first}", showticklabels=False)
            layout[f"yaxis{n}"] = node(yaxis)
            if i <= len(titles):
                fig.add_annotation(text=titles[i - 1], x=sum(x_dom) / 2, y=y_dom[1], xref="paper", yref="paper",
                                   xanchor="center", yanchor="bottom", showarrow=False, font={"size": 16})  # fmt: skip
    object.__setattr__(fig, "_grid_cols", cols)
    return fig
