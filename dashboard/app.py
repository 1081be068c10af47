"""The Dash app: a navigation bar over the pages of `dashboard/pages`.

It needs no network at run time: Bootstrap's stylesheet is served from `dashboard/assets`
(a copy of bootstrap 5.3.6's dist/css/bootstrap.min.css, the version
dash-bootstrap-components 2 is built for) and Dash serves its own scripts locally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy import Engine

from dashboard import data, ids, state, views
from metrics.config import Settings

HERE = Path(__file__).parent
PRODUCT = "civic-metrics"

INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def navbar(settings: Settings, engine: Engine) -> html.Header:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
    ]
    return html.Header(
        dbc.Navbar(
            dbc.Container(
                [
                    dbc.NavbarBrand(PRODUCT, href=dash.get_relative_path("/")),
                    dbc.Nav(links, navbar=True, className="me-auto"),
                    html.Span(
                        views.as_of_text(data.refresh_run(engine), settings),
                        id=ids.NAV_AS_OF,
                        className="navbar-text as-of",
                    ),
                ],
                fluid=True,
            ),
            id=ids.NAVBAR,
            color="dark",
            dark=True,
            className="mb-3",
        )
    )


def create_app(settings: Settings, engine: Engine) -> dash.Dash:
    """The dashboard over `engine`'s metric cells, configured by `settings` (with the
    targets and events loaded from tables)."""
    from metrics.lookups import with_store_lookups

    settings = with_store_lookups(settings, engine)
    state.configure(settings, engine)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title=PRODUCT,
        update_title=None,
        index_string=INDEX_STRING,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )

    def layout() -> Any:
        # A function, so the as-of date in the navigation bar is read on every page load.
        return html.Div(
            [
                html.A("Skip to main content", href="#main", className="visually-hidden-focusable"),
                navbar(settings, engine),
                html.Main(dash.page_container, id="main", className="container-fluid px-4 pb-5"),
            ]
        )

    app.layout = layout
    return app
