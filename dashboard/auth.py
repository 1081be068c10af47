"""Login, roles and scope on the dashboard's Flask server, and the headers of every answer.

Every request but the login page, the language switch and the stylesheets needs a logged-in
account (flask-login, a signed session cookie that is Secure, HttpOnly and SameSite=Lax, ends
after `auth.idle_minutes` without a request and `auth.max_hours` after the login). For the
request's duration the account's scope is in force in the query layer (`metrics.access`), so
every callback, export and report reads only what the account may see; pages and files a role
may not open answer 403 whatever the menu shows. Logins, failures, exports, downloads and
refusals go to the audit log (`metrics.audit`).

With `auth.required: false` (tests of pages, a dashboard on the loopback interface only) no
login is asked and everything is readable; the headers are sent all the same.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import dash
from dash import html
from flask import Flask, Response, g, redirect, render_template_string, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import Engine

from dashboard import i18n, sso
from dashboard.i18n import ENDONYMS, LANGS, _
from metrics import access, audit, users
from metrics.config import AuthSettings, Settings

LOGIN, LOGOUT = "/login", "/logout"
# Pages (by path) that not every role opens; any other page is open to every role.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "/briefings": ("minister_office", "auditor", "admin"),  # briefings are whole-ministry figures
    "/operations": ("auditor", "admin"),  # ETL runs and refused rows as the source had them
    "/audit": ("auditor", "admin"),
}
# Flask routes (by path prefix) that not every role opens.
ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "/briefings/file/": PAGE_ROLES["/briefings"],
    "/audit/": PAGE_ROLES["/audit"],
}
# Open without a login: the login page, the language switch, the login page's stylesheets.
PUBLIC = (LOGIN, "/lang/", "/assets/bootstrap.min.css", "/assets/dashboard.css", "/_favicon.ico")
# What is recorded when an answer of these routes goes out (exports and report downloads).
AUDITED = (("/download/", "export"), ("/briefings/file/", "report_download"), ("/audit/", "audit_export"))

_settings: AuthSettings = AuthSettings()
_engine: Engine | None = None
_service_department: dict[str, str] = {}


class WebUser(UserMixin):  # type: ignore[misc]
    """The logged-in account. Its id carries the account's session key, so a new password or
    a disabled account ends the sessions open with the old one."""

    def __init__(self, account: users.Account):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_key}"


def _load(user_id: str) -> WebUser | None:
    """flask-login, on every request: the account as it is now (role and scope changes apply
    at once), None when it is gone, disabled or its session key changed."""
    number, _sep, key = user_id.partition(":")
    if _engine is None or not number.isdigit():
        return None
    account = users.by_id(_engine, int(number))
    if account is None or not account.active or not secrets.compare_digest(account.session_key, key):
        return None
    return WebUser(account)


def account() -> users.Account | None:
    """The logged-in account of the current request (None: nobody, or no login asked)."""
    if not _settings.required or not current_user.is_authenticated:
        return None
    return current_user.account  # type: ignore[no-any-return]


def role_allows(roles: tuple[str, ...]) -> bool:
    if not _settings.required:
        return True
    acct = account()
    return acct is not None and acct.role in roles


def may_open(path: str) -> bool:
    """Whether the reader may open the page at `path` (the navigation shows only those)."""
    return role_allows(PAGE_ROLES.get(path, access.ROLES))


def _actor() -> str | None:
    acct = account()
    return acct.username if acct else None


def record(action: str, target: str | None = None, outcome: str = "ok", detail: dict[str, Any] | None = None,
            actor: str | None = None) -> None:  # fmt: skip
    if _engine is not None:
        audit.record(_engine, action, actor=actor or _actor(), target=target, outcome=outcome, detail=detail,
                     remote_addr=request.remote_addr)  # fmt: skip


def _path() -> str:
    """The request's path under the app's prefix (`/login`, `/_dash-update-component`...)."""
    try:
        return "/" + dash.strip_relative_path(request.path) if request.path != "/" else "/"
    except AttributeError:
        return request.path


def _wants_page() -> bool:
    return request.method == "GET" and not _path().startswith(("/_dash", "/download/", "/briefings/file/", "/audit/"))


def gate() -> Response | None:
    """`before_request`: let the request through with the reader's scope in force, or answer
    with the login page (a page), 401 (anything else), or 403."""
    g.civic_scope_token = access.enter(access.NOTHING if _settings.required else access.EVERYTHING)
    if not _settings.required:
        return None
    path = _path()
    if path.startswith(PUBLIC) or path == LOGOUT:
        return None
    if current_user.is_authenticated and time.time() - session.get("login_at", 0) > _settings.max_hours * 3600:
        logout_user()
        session.clear()
    if not current_user.is_authenticated:
        if _wants_page():
            return redirect(dash.get_relative_path(LOGIN) + "?next=" + safe_next(request.full_path), code=303)
        return Response("login required", status=401, mimetype="text/plain")
    acct = current_user.account
    for prefix, roles in ROUTE_ROLES.items():
        if path.startswith(prefix) and acct.role not in roles:
            record("refused", path, "refused", {"role": acct.role})
            return Response("not permitted for your role", status=403, mimetype="text/plain")
    access.enter(acct.scope(_service_department))
    return None


def release(_error: BaseException | None = None) -> None:
    """`teardown_request`: the next request on this thread starts with no scope of its own."""
    token = g.pop("civic_scope_token", None)
    if token is not None:
        access.leave(token)


def record_downloads(response: Response) -> Response:
    """`after_request`: every export and report download that went out, in the audit log."""
    if _settings.required and response.status_code == 200:
        path = _path()
        for prefix, action in AUDITED:
            if path.startswith(prefix):
                record(action, request.full_path.rstrip("?"))
    return response


# --- the login page ---------------------------------------------------------------------------

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · civic-metrics</title>
<link rel="stylesheet" href="{{ assets }}bootstrap.min.css">
<link rel="stylesheet" href="{{ assets }}dashboard.css">
</head>
<body>
<header>
<nav class="navbar navbar-dark bg-dark mb-3" aria-label="{{ language_label }}">
<div class="container-fluid">
<span class="navbar-brand">civic-metrics</span>
<ul class="navbar-nav">
{% for code, name, href in languages %}
<li class="nav-item"><a class="nav-link" lang="{{ code }}" href="{{ href }}">{{ name }}</a></li>
{% endfor %}
</ul>
</div>
</nav>
</header>
<main id="main" class="container">
<div class="row justify-content-center"><div class="col-md-6 col-lg-4">
<h1 class="h2 mt-3">{{ title }}</h1>
<p>{{ intro }}</p>
{% if error %}<div class="alert alert-danger" role="alert" id="login-error">{{ error }}</div>{% endif %}
{% if sso %}<p><a class="btn btn-primary" id="login-sso" href="{{ sso }}">{{ sso_text }}</a></p>{% endif %}
{% if password_login %}
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3">
<label class="form-label" for="username">{{ username_label }}</label>
<input class="form-control" id="username" name="username" value="{{ username }}" autocomplete="username" required>
</div>
<div class="mb-3">
<label class="form-label" for="password">{{ password_label }}</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password" required>
</div>
<button class="btn {{ 'btn-outline-primary' if sso else 'btn-primary' }}" id="login-submit" type="submit">
{{ submit }}</button>
</form>
{% endif %}
</div></div>
</main>
</body>
</html>"""


def safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (`//evil.example`, `https://...`)."""
    target = (target or "").rstrip("?")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc or "\\" in target:
        return dash.get_relative_path("/")
    return target


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def login_page(error: str | None = None, status: int = 200, username: str = "") -> Response:
    here = i18n.lang()
    body = render_template_string(
        LOGIN_PAGE,
        lang=here,
        title=_("Sign in"),
        intro=_("The figures of this dashboard are for the staff of the ministry. Sign in with your account."),
        language_label=_("Language"),
        languages=[(c, ENDONYMS[c], dash.get_relative_path(f"/lang/{c}")) for c in LANGS if c != here],
        error=error,
        action=dash.get_relative_path(LOGIN),
        csrf=_csrf(),
        next=safe_next(request.values.get("next")),
        username=username,
        username_label=_("Username"),
        password_label=_("Password"),
        submit=_("Sign in"),
        assets=dash.get_relative_path("/assets/"),
        sso=dash.get_relative_path(sso.START) + "?next=" + quote(safe_next(request.values.get("next")))
        if sso.enabled() else None,
        sso_text=sso.button_text() if sso.enabled() else "",
        password_login=_settings.oidc is None or _settings.oidc.password_login,
    )
    return Response(body, status=status, mimetype="text/html")


def login() -> Response:
    if request.method == "GET":
        return login_page()
    if _settings.oidc is not None and not _settings.oidc.password_login:
        return login_page(status=405)  # only single sign-on here
    sent = request.form.get("csrf_token", "")
    if not secrets.compare_digest(sent, session.get("csrf", "")):
        # A form not from this site's login page (or one from before the session ended).
        return login_page(_("The form had expired. Please sign in again."), status=400)
    name = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    assert _engine is not None
    since = audit.now() - dt.timedelta(minutes=_settings.lockout_minutes)
    limit = _settings.max_failed_logins
    if (audit.count_since(_engine, "login_failed", since, target=name) >= limit
            or audit.count_since(_engine, "login_failed", since, remote_addr=request.remote_addr) >= 4 * limit):
        # Refused without looking at the password: guessing gains nothing until the window passes.
        record("login_throttled", name, "refused")
        return login_page(_("Too many failed sign-ins. Please wait {n} minutes and try again.").format(
            n=_settings.lockout_minutes), status=429, username=name)  # fmt: skip
    acct = users.verify(_engine, name, password)
    if acct is None:
        record("login_failed", name, "failed")
        return login_page(_("Wrong username or password."), status=401, username=name)
    start_session(acct)
    return redirect(safe_next(request.form.get("next")), code=303)


def start_session(acct: users.Account, detail: dict[str, Any] | None = None) -> None:
    session.clear()  # a new session: nothing of the anonymous one carries over (fixation)
    login_user(WebUser(acct))
    session.permanent = True
    session["login_at"] = time.time()
    record("login", acct.username, actor=acct.username, detail=detail)


def sign_in(name: str, detail: dict[str, Any]) -> bool:
    """Start the session of someone single sign-on vouched for, if an active account has the
    name; otherwise record the refusal."""
    assert _engine is not None
    acct = users.signed_in_elsewhere(_engine, name)
    if acct is None:
        record("login_failed", name or None, "failed", {**detail, "reason": "no active account"})
        return False
    start_session(acct, detail)
    return True


def logout() -> Response:
    if current_user.is_authenticated:
        record("logout", current_user.account.username)
    logout_user()
    session.clear()
    return redirect(dash.get_relative_path(LOGIN), code=303)


def forbidden_page() -> html.Div:
    return html.Div(
        [html.H1(_("Not available"), className="h2 mt-3"),
         html.P(_("Your role does not give access to this page."))],
        className="container-fluid",
    )  # fmt: skip


def guard_pages() -> None:
    """Wrap each page's layout so that a role that may not open it gets a notice instead (Dash
    routes pages through a callback: hiding the menu link alone would keep the page open)."""
    for page in dash.page_registry.values():
        layout = page.get("layout")
        if callable(layout) and not getattr(layout, "civic_guarded", False):
            page["layout"] = _guarded(layout, page["path"])


def _guarded(layout: Callable[..., Any], path: str) -> Callable[..., Any]:
    def guarded(**kwargs: Any) -> Any:
        if not may_open(path):
            return forbidden_page()
        return layout(**kwargs)

    guarded.civic_guarded = True  # type: ignore[attr-defined]
    return guarded


# --- headers ----------------------------------------------------------------------------------

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
# Dash's components and Plotly set inline styles; scripts run only from this site or with the
# hash of an inline script the page itself carries (Dash's renderer start and clientside
# callbacks), computed from each page as it goes out.
CSP = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")  # fmt: skip


def script_hashes(body: bytes) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(body)
        if m.group(1).strip()
    ]


def security_headers(response: Response) -> Response:
    """`after_request`: the headers every answer carries."""
    hashes: list[str] = []
    if response.mimetype == "text/html" and not response.direct_passthrough:
        hashes = sorted(set(script_hashes(response.get_data())))
    response.headers["Content-Security-Policy"] = CSP.format(hashes="".join(" " + h for h in hashes))
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if _settings.required and not _path().startswith("/assets/") and not _path().startswith("/_dash-component"):
        # Figures of a logged-in reader stay out of shared caches and the browser's disk cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def install(server: Flask, settings: Settings, engine: Engine, secret_key: str | None,
            oidc_client_secret: str | None = None) -> None:  # fmt: skip
    """Put login (with single sign-on when `auth.oidc` is set), scope, audit and headers on
    the dashboard's server."""
    global _settings, _engine, _service_department
    _settings, _engine, _service_department = settings.auth, engine, settings.service_department()
    if settings.auth.required and not secret_key:
        raise RuntimeError(
            "the dashboard asks for a login (auth.required) and so needs CIVIC_METRICS_SECRET_KEY in the "
            "environment to sign its session cookies (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    server.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        SESSION_COOKIE_NAME="civic_session",
        SESSION_COOKIE_SECURE=settings.auth.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.auth.idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    manager = LoginManager()
    manager.user_loader(_load)
    # A session cookie replayed from another address or browser is refused.
    manager.session_protection = "strong"
    manager.init_app(server)
    server.add_url_rule(LOGIN, "login", login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT, "logout", logout)
    if settings.auth.required and settings.auth.oidc is not None:
        sso.install(server, settings.auth.oidc, oidc_client_secret)
    server.before_request(gate)
    server.teardown_request(release)
    server.after_request(record_downloads)
    server.after_request(security_headers)
    guard_pages()
