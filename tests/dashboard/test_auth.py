"""Login, roles and scope on the real dashboard server, through its real endpoints.

The store is a copy of the demo store in which every cell a programme manager of one service
(bin_collection) may not read carries a marker value, 987654. Each test logs in (a real login
form, a real session cookie) and asks pages, Dash's callback endpoint and the export URLs for
other programmes' slices: the marker must never reach the programme manager, and reaches the
roles that read every programme (which shows the search for it finds what it looks for).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator

import dash
import pytest
from sqlalchemy import Engine, select, text, update

from dashboard.app import create_app
from dashboard.auth import PAGE_ROLES
from metrics import access, audit, users
from metrics.config import AuthSettings, Settings
from metrics.query import parse_dims
from metrics.store.db import make_engine
from metrics.store.models import MetricCell
from tests.dashboard.auth_support import ACCOUNTS, PASSWORD, SECRET, add_accounts, call, csrf_of, log_in, route_page

MARKER = 987654.0
# The marker as the pages may write it: raw in figures and grids, grouped in text, as a percentage.
MARKS = ("987654", "987,654", "98,765,4", "98765400")
SCOPE = access.Scope(services=frozenset({"bin_collection"}))
OTHER = "fly_tipping"  # a service of the same department, outside the manager's scope


def marked(body: str) -> bool:
    return any(m in body for m in MARKS)


@pytest.fixture(scope="module")
def marked_store(demo_store, tmp_path_factory) -> Iterator[tuple[Settings, Engine]]:
    settings, demo = demo_store
    path = tmp_path_factory.mktemp("auth") / "store.db"
    with sqlite3.connect(demo.url.database) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        rows = conn.execute(select(MetricCell.id, MetricCell.dims_key)).all()
        hidden = [i for i, key in rows if not SCOPE.admits(parse_dims(key))]
        assert hidden and len(hidden) < len(rows)
        for start in range(0, len(hidden), 5000):
            conn.execute(update(MetricCell).where(MetricCell.id.in_(hidden[start:start + 5000]))
                         .values(value=MARKER + (MetricCell.id % 40) / 100.0, ci_low=None, ci_high=None))  # fmt: skip
    add_accounts(engine)
    yield settings.model_copy(update={"auth": AuthSettings()}), engine
    engine.dispose()


@pytest.fixture(scope="module")
def app(marked_store) -> dash.Dash:
    settings, engine = marked_store
    return create_app(settings, engine, secret_key=SECRET)


def client_of(app: dash.Dash, username: str):  # type: ignore[no-untyped-def]
    client = app.server.test_client()
    assert log_in(client, username).status_code == 303
    return client


def page_paths(app: dash.Dash) -> list[str]:
    return sorted(p["path"] for p in dash.page_registry.values())


# --- login ------------------------------------------------------------------------------------


def test_nothing_without_a_login(app):
    client = app.server.test_client()
    page = client.get("/kpi")
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=/kpi")
    assert route_page(client, "/").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/download/figures.csv?metric=cases_opened").status_code == 401
    assert client.get("/audit/log.csv").status_code == 401
    assert client.get("/login").status_code == 200


def test_login_sets_a_secure_session_and_logout_ends_it(app):
    client = app.server.test_client()
    answer = log_in(client, "admin")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "civic_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    assert client.get("/logout").status_code == 303
    assert route_page(client, "/").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(app, marked_store):
    _settings, engine = marked_store
    client = app.server.test_client()
    wrong = log_in(client, "auditor", "not the password at all")
    nobody = log_in(client, "no-such-user", "not the password at all")
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    log = audit.entries(engine, 10)
    assert {"auditor", "no-such-user"} <= set(log[log["action"] == "login_failed"]["target"])


def test_a_form_from_elsewhere_is_refused(app):
    client = app.server.test_client()
    client.get("/login")
    answer = client.post("/login", data={"csrf_token": "forged", "username": "admin", "password": PASSWORD})
    assert answer.status_code == 400 and route_page(client, "/").status_code == 401


def test_failed_logins_are_throttled(marked_store):
    settings, engine = marked_store
    strict = settings.model_copy(update={"auth": AuthSettings(max_failed_logins=3)})
    app = create_app(strict, engine, secret_key=SECRET)
    users.add(engine, "target", PASSWORD, "auditor", actor="test")
    client = app.server.test_client()
    for _ in range(3):
        assert log_in(client, "target", "a wrong guess at it").status_code == 401
    # Now even the right password is refused until the window passes: guessing gains nothing.
    assert log_in(client, "target").status_code == 429
    assert audit.entries(engine, 1)["action"].iloc[0] == "login_throttled"
    assert log_in(client, "admin").status_code == 303  # other accounts are not locked out


def test_next_never_leaves_the_site(app):
    client = app.server.test_client()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = client.post("/login", data={"csrf_token": _csrf(client), "username": "admin", "password": PASSWORD,
                                             "next": target})  # fmt: skip
        assert answer.headers["Location"] == "/", target
        client.get("/logout")


def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    return csrf_of(client)


def test_a_session_ends_when_idle_too_long_or_the_account_is_disabled(app, marked_store):
    _settings, engine = marked_store
    users.add(engine, "leaver", PASSWORD, "minister_office", actor="test")
    client = client_of(app, "leaver")
    assert route_page(client, "/").status_code == 200
    users.set_active(engine, "leaver", False, actor="test")
    assert route_page(client, "/").status_code == 401
    assert log_in(client, "leaver").status_code == 401
    # Idle expiry: the signed cookie carries its time; one older than auth.idle_minutes is void.
    client = client_of(app, "minister")
    cookie = client.get_cookie("civic_session")
    assert cookie is not None and cookie.expires is not None
    idle = cookie.expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=29) < idle <= dt.timedelta(minutes=30)
    with client.session_transaction() as session:
        session["login_at"] = 0  # logged in long ago: beyond auth.max_hours
    assert route_page(client, "/").status_code == 401


# --- scope: pages, callbacks, exports -------------------------------------------------------


SEARCHES = ("", f"?service={OTHER}", "?service=bin_collection", "?region=Northgate", "?grain=year")


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_every_page_and_role(app, username):
    """Every page, asked through Dash's routing callback for whole-population, other-programme
    and own slices: the programme manager never gets a marked figure; the roles that read
    every programme get them on the pages that show figures."""
    client = client_of(app, username)
    role = ACCOUNTS[username][0]
    shown, failed = set(), set()
    for path in page_paths(app):
        for search in SEARCHES:
            answer = route_page(client, path, search)
            if answer.status_code != 200:
                failed.add((path, search, answer.status_code))
                continue
            body = answer.get_data(as_text=True)
            forbidden = "Your role does not give access to this page." in body
            assert forbidden == (role not in PAGE_ROLES.get(path, access.ROLES)), path
            if marked(body):
                shown.add(path)
    assert not failed, failed  # every page answers every role, scoped or not
    if role == "programme_manager":
        assert not shown, f"another programme's figures reached a programme manager on {sorted(shown)}"
    else:
        # The marker is found where figures are shown (not vacuous).
        assert {"/", "/kpi", "/trends", "/equal-service"} & shown, shown


@pytest.mark.parametrize("username", ["manager", "admin"])
def test_every_content_callback(app, username):
    """Each page's own callback, as its filters send it, asking for the other service."""
    client = client_of(app, username)
    deps = client.get("/_dash-dependencies").get_json()
    contents = [d for d in deps if d["output"].endswith("-content.children")]
    assert len(contents) >= 7
    shown, failed = [], []
    for dep in contents:
        page = dep["output"].split("-content")[0]
        for service in (OTHER, None):
            values = {f"{page}-filter-grain.value": "month", f"{page}-filter-service.value": service}
            answer = call(client, dep, values)
            if answer.status_code not in (200, 204):
                failed.append((dep["output"], service, answer.status_code))
            if marked(answer.get_data(as_text=True)):
                shown.append(dep["output"])
    assert not failed, failed
    if username == "manager":
        assert not shown
    else:
        assert shown


def test_exports_keep_to_the_scope(app):
    manager, admin = client_of(app, "manager"), client_of(app, "admin")
    for query in ("metric=cases_opened&by=service", "metric=cases_opened", "metric=cases_opened&by=region",
                  f"metric=cases_opened&by=service&service={OTHER}", "metric=on_time_rate&by=department",
                  "metric=coverage_gini&across=region"):  # fmt: skip
        url = f"/download/figures.csv?{query}"
        mine = manager.get(url)
        assert mine.status_code == 200 and not marked(mine.get_data(as_text=True)), query
        assert OTHER not in mine.get_data(as_text=True)
    own = manager.get("/download/figures.csv?metric=cases_opened&by=service").get_data(as_text=True)
    assert "bin_collection" in own.splitlines()[1]
    assert marked(admin.get("/download/figures.csv?metric=cases_opened&by=service").get_data(as_text=True))


def test_briefings_operations_and_audit_by_role(app, marked_store, tmp_path):
    _settings, engine = marked_store
    allowed = {"/briefings/file/briefing-2026-10-en.pdf": ("minister_office", "auditor", "admin"),
               "/audit/log.csv": ("auditor", "admin")}  # fmt: skip
    for username, (role, _scope) in ACCOUNTS.items():
        client = client_of(app, username)
        for url, roles in allowed.items():
            status = client.get(url).status_code
            # A briefing the store does not know is 404 for those who may download briefings.
            assert (status != 403) == (role in roles), (username, url, status)
    log = audit.entries(engine)
    assert {"audit_export", "refused", "login"} <= set(log["action"])


def test_downloads_are_audited(app, marked_store):
    _settings, engine = marked_store
    client = client_of(app, "minister")
    client.get("/download/figures.csv?metric=backlog_open")
    last = audit.entries(engine, 1).iloc[0]
    assert (last["actor"], last["action"]) == ("minister", "export") and "metric=backlog_open" in last["target"]


def test_the_pages_carry_no_layout_of_other_readers(app):
    """Dash sends a `validation_layout` (every page as first rendered) in each page's config
    unless callback exceptions are suppressed: it would carry one reader's figures to all."""
    client_of(app, "admin").get("/")
    body = client_of(app, "manager").get("/").get_data(as_text=True)
    assert "validation_layout" not in body and not marked(body)


# --- headers ----------------------------------------------------------------------------------


def test_security_headers(app):
    client = client_of(app, "admin")
    for url in ("/", "/login", "/download/figures.csv?metric=cases_opened"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert client.get("/download/figures.csv?metric=cases_opened").headers["Cache-Control"] == "no-store"


def test_errors_show_no_stack_trace(app):
    client = client_of(app, "admin")
    answer = client.post("/_dash-update-component", json={"output": "nothing.children", "inputs": []})
    assert answer.status_code >= 400 and "Traceback" not in answer.get_data(as_text=True)


def test_no_secret_key_no_dashboard(marked_store, monkeypatch):
    settings, engine = marked_store
    monkeypatch.delenv("CIVIC_METRICS_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CIVIC_METRICS_SECRET_KEY"):
        create_app(settings, engine)


def test_the_audit_log_cannot_be_changed(marked_store):
    _settings, engine = marked_store
    audit.record(engine, "test", actor="test")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert not audit.entries(engine).empty

