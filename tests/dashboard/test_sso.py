"""Single sign-on (OpenID Connect) on the real dashboard server, against a real provider on
the loopback interface (tests/dashboard/oidc_provider.py): the browser's trips to the provider
are real HTTP requests, and the dashboard's server exchanges the code at the provider's token
endpoint itself. An ID token that does not verify, a forged state, or a name without an active
account here signs nobody in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import ValidationError
from sqlalchemy import Engine

from dashboard.app import create_app
from metrics import audit, users
from metrics.config import AuthSettings, Names, OidcSettings, Settings
from tests.dashboard.auth_support import PASSWORD, SECRET, add_accounts, log_in, route_page
from tests.dashboard.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with Provider() as p:
        yield p


@pytest.fixture(autouse=True)
def _fresh_provider(provider: Provider) -> None:
    provider.user, provider.tamper = "manager", {}


@pytest.fixture
def sso_settings(settings: Settings, provider: Provider) -> Settings:
    name = Names(en="the ministry account", zh="部委账户")
    oidc = OidcSettings(issuer=provider.issuer, client_id=CLIENT_ID, name=name)
    return settings.model_copy(update={"auth": AuthSettings(oidc=oidc)})


@pytest.fixture
def app(sso_settings: Settings, cell_store: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CIVIC_METRICS_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    add_accounts(cell_store)
    return create_app(sso_settings, cell_store, secret_key=SECRET)


def sign_in_through(client, provider: Provider, next_path: str = "/kpi"):  # type: ignore[no-untyped-def]
    """What a browser does: the dashboard sends it to the provider, which signs in
    `provider.user` and sends it back with a code."""
    start = client.get("/login/sso?next=" + next_path)
    assert start.status_code == 302, start.get_data(as_text=True)
    location = start.headers["Location"]
    assert location.startswith(provider.issuer + "/authorize?")
    back = requests.get(location, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/login/sso/callback"
    return client.get(f"{callback.path}?{callback.query}")


def test_the_sign_in_page_offers_single_sign_on_beside_the_password(app):
    page = app.server.test_client().get("/login?next=/kpi").get_data(as_text=True)
    assert 'id="login-sso"' in page and "Sign in with the ministry account" in page
    assert 'href="/login/sso?next=/kpi"' in page
    assert 'id="password"' in page
    assert "使用部委账户登录" in app.server.test_client().get("/login?lang=zh").get_data(as_text=True)


def test_a_provider_sign_in_opens_the_account_with_its_own_role(app, provider, cell_store):
    client = app.server.test_client()
    answer = sign_in_through(client, provider, "/kpi")
    assert answer.status_code == 303 and answer.headers["Location"] == "/kpi"
    assert route_page(client, "/").status_code == 200
    # The role is the account's: a programme manager may not read the audit log.
    assert client.get("/audit/log.csv").status_code == 403
    asked = parse_qs(urlsplit(client.get("/logout").headers["Location"]).query)
    assert asked == {} and route_page(client, "/").status_code == 401
    # The code went back with the PKCE verifier (the provider checks it) and the client secret.
    assert provider.token_requests and "code_verifier" in provider.token_requests[-1]
    log = audit.entries(cell_store, 5)
    login = log[log["action"] == "login"].iloc[0]
    assert login["target"] == "manager" and '"method": "oidc"' in login["detail"]


def test_a_name_without_an_account_here_is_refused(app, provider, cell_store):
    provider.user = "someone-in-the-directory"
    client = app.server.test_client()
    answer = sign_in_through(client, provider)
    assert answer.status_code == 403
    assert "no account of this dashboard has that name" in answer.get_data(as_text=True)
    assert route_page(client, "/").status_code == 401
    failed = audit.entries(cell_store, 1).iloc[0]
    assert (failed["action"], failed["target"]) == ("login_failed", "someone-in-the-directory")


def test_a_disabled_account_is_refused(app, provider, cell_store):
    users.add(cell_store, "leaver", PASSWORD, "auditor", actor="test")
    users.set_active(cell_store, "leaver", False, actor="test")
    provider.user = "leaver"
    client = app.server.test_client()
    assert sign_in_through(client, provider).status_code == 403
    assert route_page(client, "/").status_code == 401


@pytest.mark.parametrize(
    "tamper",
    [
        {"aud": "another-client"},
        {"iss": "https://impostor.example"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nonce": "a nonce of another sign-in"},
        {"sign_with_stranger": True},
    ],
    ids=["audience", "issuer", "expired", "nonce", "signature"],
)
def test_an_id_token_that_does_not_verify_signs_nobody_in(app, provider, cell_store, tamper):
    provider.tamper = tamper
    client = app.server.test_client()
    answer = sign_in_through(client, provider)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert "Single sign-on did not complete" in answer.get_data(as_text=True)
    assert route_page(client, "/").status_code == 401
    assert audit.entries(cell_store, 1)["action"].iloc[0] == "login_failed"


def test_the_same_provider_answer_passes_untampered(app, provider):
    """The control of the test above: the provider's tokens verify when nothing is changed."""
    assert sign_in_through(app.server.test_client(), provider).status_code == 303


def test_a_code_sent_back_to_another_session_is_refused(app, provider):
    """Login CSRF: a code fetched by an attacker's session, planted in a victim's browser."""
    attacker, victim = app.server.test_client(), app.server.test_client()
    start = attacker.get("/login/sso")
    back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(back.headers["Location"])
    victim.get("/login/sso")  # the victim's own state differs
    assert victim.get(f"{callback.path}?{callback.query}").status_code == 401
    assert route_page(victim, "/").status_code == 401


def test_a_cancelled_sign_in_says_so(app):
    client = app.server.test_client()
    client.get("/login/sso")
    answer = client.get("/login/sso/callback?error=access_denied&state=x")
    assert answer.status_code == 401 and route_page(client, "/").status_code == 401


def test_single_sign_on_only(sso_settings, cell_store, provider, monkeypatch):
    monkeypatch.setenv("CIVIC_METRICS_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    add_accounts(cell_store)
    oidc = sso_settings.auth.oidc.model_copy(update={"password_login": False})
    only = sso_settings.model_copy(update={"auth": AuthSettings(oidc=oidc)})
    client = create_app(only, cell_store, secret_key=SECRET).server.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="login-sso"' in page and 'id="password"' not in page
    client.get("/login")
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 405
    assert route_page(client, "/").status_code == 401
    assert sign_in_through(client, provider, "/").status_code == 303


def test_a_provider_that_cannot_be_reached_gets_a_clear_message(sso_settings, cell_store, monkeypatch):
    monkeypatch.setenv("CIVIC_METRICS_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    with Provider() as gone:
        issuer = gone.issuer  # a loopback port nobody listens on once it is closed
    oidc = sso_settings.auth.oidc.model_copy(update={"issuer": issuer})
    down = sso_settings.model_copy(update={"auth": AuthSettings(oidc=oidc)})
    client = create_app(down, cell_store, secret_key=SECRET).server.test_client()
    answer = client.get("/login/sso")
    assert answer.status_code == 502 and "cannot be reached" in answer.get_data(as_text=True)
    add_accounts(cell_store)
    assert log_in(client, "admin").status_code == 303  # the password login still works


def test_no_client_secret_no_start(sso_settings, cell_store, monkeypatch):
    monkeypatch.delenv("CIVIC_METRICS_OIDC_CLIENT_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="CIVIC_METRICS_OIDC_CLIENT_SECRET"):
        create_app(sso_settings, cell_store, secret_key=SECRET)


def test_the_issuer_must_be_https_but_on_loopback():
    with pytest.raises(ValidationError, match="issuer: expected an https:// URL"):
        OidcSettings(issuer="http://login.ministry.example", client_id="x")
    with pytest.raises(ValidationError, match="'openid'"):
        OidcSettings(issuer="https://login.ministry.example", client_id="x", scopes=("profile",))
    assert OidcSettings(issuer="https://login.ministry.example", client_id="x").username_claim == "preferred_username"
