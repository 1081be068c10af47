"""`dashboard.plot`: figures as plain dictionaries that Plotly itself accepts.

The pages build their charts without Plotly's validation (it cost more than reading the
cells); here Plotly's validator checks every figure every page builds on the demo store, in
several views, so a misspelt property or a wrong value type fails a test instead of
silently drawing nothing in the browser.
"""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
import pytest
from dash import dcc
from plotly.subplots import make_subplots

from dashboard import plot
from dashboard.app import create_app
from dashboard.i18n import use


def test_nodes_read_like_plotlys_objects():
    fig = plot.Figure(plot.Scatter(x=[1, 2], y=[3, None], line={"dash": "dot"}))
    fig.update_layout(legend={"x": 0}, height=300).update_layout(legend={"y": 1})
    assert fig.data[0].type == "scatter" and fig.data[0].line.dash == "dot" and fig.data[0].marker is None
    assert fig.layout.legend == {"x": 0, "y": 1} and fig["layout"]["height"] == 300
    fig.update_xaxes(range=[0, 1]).update_yaxes(visible=False)
    assert fig.layout.xaxis.range == [0, 1] and fig.layout.yaxis.visible is False


def test_reference_lines_are_the_shapes_plotly_makes():
    mine = plot.Figure(plot.Scatter(x=[0, 10], y=[0, 1]))
    theirs = go.Figure(go.Scatter(x=[0, 10], y=[0, 1]))
    for fig in (mine, theirs):
        fig.add_hline(y=0.5, line={"dash": "dash"}, annotation_text="Target", annotation_position="top left")
        fig.add_vline(x=4, line={"dash": "dot"})
    expected = theirs.to_plotly_json()["layout"]
    assert [dict(s) for s in mine.layout.shapes] == expected["shapes"]
    ours, plotlys = dict(mine.layout.annotations[0]), expected["annotations"][0]
    assert {k: ours[k] for k in plotlys} == plotlys


def test_subplots_put_traces_on_the_axes_plotly_would():
    grid: dict[str, Any] = {"rows": 1, "cols": 3, "shared_yaxes": True, "horizontal_spacing": 0.06,
                            "subplot_titles": ["a", "b", "c"]}  # fmt: skip
    mine, theirs = plot.make_subplots(**grid), make_subplots(**grid)
    for fig in (mine, theirs):
        for col in (2, 3):  # Plotly draws no line on an empty subplot
            fig.add_trace(plot.Scatter(x=[1], y=["x"]) if fig is mine else go.Scatter(x=[1], y=["x"]), row=1, col=col)
        fig.add_vline(x=1, row=1, col=3)
        fig.update_xaxes(title={"text": "days"}, row=1, col=3)
    want = theirs.to_plotly_json()
    assert (mine.data[0].xaxis, mine.data[0].yaxis) == (want["data"][0]["xaxis"], want["data"][0]["yaxis"])
    for axis in ("xaxis", "xaxis2", "xaxis3", "yaxis2", "yaxis3"):
        assert mine.layout[axis]["domain"] == pytest.approx(list(want["layout"][axis]["domain"])), axis
    assert mine.layout.yaxis3.matches == "y" and mine.layout.yaxis3.showticklabels is False
    assert mine.layout.xaxis3.title.text == "days" and mine.layout.xaxis2.title is None
    assert [dict(s) for s in mine.layout.shapes] == want["layout"]["shapes"]


def _graphs(component: Any) -> list[dcc.Graph]:
    found = [component] if isinstance(component, dcc.Graph) else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += _graphs(child)
    return found


VIEWS = [{}, {"grain": "quarter"}, {"grain": "year", "region": "__second__"}]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_chart_of_every_page_passes_plotlys_validation(demo_store, language):
    settings, engine = demo_store
    app = create_app(settings, engine)
    checked = 0
    with app.server.test_request_context("/"), use(language):
        for page in dash.page_registry.values():
            for view in VIEWS:
                params = {k: settings.regions[1].id if v == "__second__" else v for k, v in view.items()}
                for graph in _graphs(page["layout"](**params)):
                    figure = graph.figure
                    assert isinstance(figure, plot.Figure), f"{page['path']}: {graph.id} is not built by dashboard.plot"
                    try:
                        go.Figure(figure.to_dict())
                    except ValueError as err:  # Plotly names the property and what it expected
                        pytest.fail(f"{page['path']} {params}: {graph.id}: {err}")
                    checked += 1
    # The pages draw dozens of charts; a walk that found none would prove nothing.
    assert checked > 50, checked
