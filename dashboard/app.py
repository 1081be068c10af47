"""The Dash app: a navigation bar over the pages of `dashboard/pages`, in English or Chinese.

It needs no network at run time: Bootstrap's stylesheet is served from `dashboard/assets`
(a copy of bootstrap 5.3.6's dist/css/bootstrap.min.css, the version
dash-bootstrap-components 2 is built for) and Dash serves its own scripts locally.

The Flask server underneath carries what is not a page: the language switch (`/lang/<code>`,
remembered in a cookie), the `lang` attribute of the HTML, the CSV downloads, and the login,
scope, audit and security headers of `dashboard.auth`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import Response, redirect, request
from sqlalchemy import Engine

from dashboard import audit_view, auth, briefings_view, data, downloads, i18n, ids, state, views
from dashboard.i18n import _
from metrics.config import Secrets, Settings

HERE = Path(__file__).parent
PRODUCT = "civic-metrics"
LANG_COOKIE_DAYS = 365

INDEX_STRING = """<!DOCTYPE html>
<html lang="{lang}">
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


# plotly.js with the scatter and bar traces only (MIT, plotly.js-basic-dist-min): a quarter of
# the full bundle, whose parsing was the largest part of a page's first render. The full bundle
# is kept where the equal-service map (a choropleth) may be drawn.
BASIC_PLOTLY = "vendor/plotly-basic-3.7.0.min.js"


class App(dash.Dash):
    """Dash with the page's language in `<html lang>`, for screen readers and fonts, and the
    plotly.js bundle the charts need."""

    def __init__(self, *args: Any, full_plotly: bool = False, **kwargs: Any):
        self.full_plotly = full_plotly
        if full_plotly:
            kwargs["assets_ignore"] = re.escape(BASIC_PLOTLY.rsplit("/", 1)[1])
        super().__init__(*args, **kwargs)

    def _collect_and_register_resources(self, resources: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        # The basic bundle, an asset, sets window.Plotly before the graphs load, and dcc.Graph
        # then takes it instead of fetching its own; Dash's full bundle is left out.
        if not self.full_plotly:
            resources = [r for r in resources if r.get("namespace") != "plotly"]
        return super()._collect_and_register_resources(resources, *args, **kwargs)

    def interpolate_index(self, **kwargs: Any) -> str:
        return super().interpolate_index(**kwargs).replace('lang="{lang}"', f'lang="{i18n.lang()}"', 1)


def language_switch() -> html.Ul:
    """Links to the other languages, each named in its own language."""
    here = i18n.lang()
    return html.Ul(
        [
            html.Li(
                html.A(
                    i18n.ENDONYMS[code],
                    href=dash.get_relative_path(f"/lang/{code}"),
                    lang=code,
                    id=f"{ids.NAV_LANG}-{code}",
                    className="nav-link",
                ),
                className="nav-item",
            )
            for code in i18n.LANGS
            if code != here
        ],
        id=ids.NAV_LANG,
        className="navbar-nav",
        **{"aria-label": _("Language")},
    )


def navbar(settings: Settings, engine: Engine) -> html.Header:
    links = [
        dbc.NavItem(dbc.NavLink(_(page["name"]), href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
        if auth.may_open(page["path"])  # a page the reader's role does not open is not offered
    ]
    return html.Header(
        dbc.Navbar(
            dbc.Container(
                [
                    dbc.NavbarBrand(PRODUCT, href=dash.get_relative_path("/")),
                    html.Nav(dbc.Nav(links, navbar=True, className="flex-row flex-wrap"), className="me-auto",
                             **{"aria-label": _("Pages")}),
                    html.Span(
                        views.as_of_text(data.refresh_run(engine), settings),
                        id=ids.NAV_AS_OF,
                        className="navbar-text as-of me-3",
                    ),
                    language_switch(),
                    *account_menu(),
                ],
                fluid=True,
            ),
            id=ids.NAVBAR,
            color="dark",
            dark=True,
            expand=True,
            className="mb-3",
        )
    )


def account_menu() -> list[Any]:
    """Who is signed in, and the way out (nothing when no login is asked)."""
    account = auth.account()
    if account is None:
        return []
    return [
        html.Span(account.username, className="navbar-text ms-3"),
        html.A(_("Sign out"), href=dash.get_relative_path(auth.LOGOUT), id="nav-logout", className="nav-link ms-2"),
    ]


def switch_language(code: str) -> Response:
    """Remember `code` and go back to the page the reader came from (this site's only)."""
    if code not in i18n.LANGS:
        return Response(f"unknown language {code!r}; expected one of {list(i18n.LANGS)}", status=404)
    back = urlsplit(request.referrer or "")
    target = dash.get_relative_path("/")
    if back.netloc == request.host and back.path:
        query = "&".join(p for p in back.query.split("&") if p and not p.startswith("lang="))
        target = back.path + (f"?{query}" if query else "")
    response = redirect(target, code=303)
    response.set_cookie(i18n.COOKIE, code, max_age=LANG_COOKIE_DAYS * 86400, samesite="Lax", httponly=True)
    return response


def remember_language(response: Response) -> Response:
    """A page opened with `?lang=zh` keeps speaking Chinese in its callbacks and later pages."""
    asked = request.args.get("lang")
    if asked in i18n.LANGS and request.cookies.get(i18n.COOKIE) != asked:
        response.set_cookie(i18n.COOKIE, asked, max_age=LANG_COOKIE_DAYS * 86400, samesite="Lax", httponly=True)
    return response


def create_app(settings: Settings, engine: Engine, secret_key: str | None = None) -> dash.Dash:
    """The dashboard over `engine`'s metric cells, configured by `settings` (with the
    targets and events loaded from tables). `secret_key` signs the session cookies (default:
    `CIVIC_METRICS_SECRET_KEY`; required when `auth.required`)."""
    from metrics.lookups import with_store_lookups

    settings = with_store_lookups(settings, engine)
    state.configure(settings, engine)
    i18n.set_default(settings.dashboard.default_language)
    app = App(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title=PRODUCT,
        update_title=None,
        index_string=INDEX_STRING,
        full_plotly=settings.dashboard.boundaries is not None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        # Without it Dash renders every page's layout at the first request, as whoever sent it,
        # and sends that to every later reader inside each page's config (`validation_layout`):
        # figures of one reader's scope in another's page.
        suppress_callback_exceptions=True,
    )
    app.server.add_url_rule("/lang/<code>", "switch_language", switch_language)
    app.server.before_request(i18n.start_request)
    app.server.teardown_request(i18n.end_request)
    app.server.after_request(remember_language)
    downloads.register(app.server)
    briefings_view.register(app.server)
    audit_view.register(app.server)
    secrets = Secrets()
    key, oidc_secret = secrets.secret_key, secrets.oidc_client_secret
    auth.install(app.server, settings, engine, secret_key or (key.get_secret_value() if key else None),
                 oidc_secret.get_secret_value() if oidc_secret else None)  # fmt: skip

    def layout() -> Any:
        # A function, so the as-of date and the language are read on every page load.
        return html.Div(
            [
                html.A(_("Skip to main content"), href="#main", className="visually-hidden-focusable"),
                navbar(settings, engine),
                html.Main(dash.page_container, id="main", className="container-fluid px-4 pb-5"),
            ]
        )

    app.layout = layout
    return app
