"""Single sign-on through an OpenID Connect provider (`auth.oidc`), beside the password login.

The authorization code flow with PKCE, as a confidential client (Authlib on the Flask server):
`/login/sso` sends the browser to the provider with a fresh state and nonce kept in the
session; `/login/sso/callback` exchanges the code, and Authlib checks the ID token's signature
against the provider's published keys, its issuer, audience, expiry and nonce. The provider
only says who someone is: the named claim must match an active account made with
`civic-metrics users add`, which carries the role and scope. Every outcome goes to the audit
log like a password login.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, redirect, request, session, url_for

from dashboard import i18n
from dashboard.i18n import _
from metrics.config import OidcSettings

START, CALLBACK = "/login/sso", "/login/sso/callback"
NEXT_KEY = "sso_next"

log = logging.getLogger(__name__)
_oauth: OAuth | None = None
_settings: OidcSettings | None = None


def enabled() -> bool:
    return _settings is not None


def button_text() -> str:
    assert _settings is not None
    return _("Sign in with {name}").format(name=_settings.name.get(i18n.lang()))


def install(server: Flask, settings: OidcSettings, client_secret: str | None) -> None:
    """Register the provider and the two routes. The discovery document is read at the first
    sign-in, not here, so the dashboard starts while the provider is down."""
    global _oauth, _settings
    if not client_secret:
        raise RuntimeError(
            "auth.oidc is set, so the dashboard needs its client secret at the provider in "
            "CIVIC_METRICS_OIDC_CLIENT_SECRET (environment only)"
        )
    _settings = settings
    _oauth = OAuth(server)
    _oauth.register(
        "provider",
        client_id=settings.client_id,
        client_secret=client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": " ".join(settings.scopes), "code_challenge_method": "S256"},
    )
    server.add_url_rule(START, "sso_start", start)
    server.add_url_rule(CALLBACK, "sso_callback", callback)


def _client() -> Any:
    assert _oauth is not None
    return _oauth.create_client("provider")


def start() -> Response:
    from dashboard import auth

    assert _settings is not None
    session[NEXT_KEY] = auth.safe_next(request.args.get("next"))
    redirect_uri = _settings.redirect_uri or url_for("sso_callback", _external=True)
    try:
        return _client().authorize_redirect(redirect_uri)  # type: ignore[no-any-return]
    except Exception as error:  # the provider's discovery document could not be read
        log.warning("single sign-on: cannot reach the provider: %s", error)
        auth.record("login_failed", None, "failed", {"method": "oidc", "error": "provider unreachable"})
        return auth.login_page(_("The sign-in service cannot be reached. Please try again later."), status=502)


def callback() -> Response:
    from dashboard import auth

    assert _settings is not None
    if "error" in request.args:  # the reader cancelled, or the provider refused
        auth.record("login_failed", None, "failed", {"method": "oidc", "error": request.args["error"][:100]})
        return auth.login_page(_("Single sign-on did not complete. Please try again."), status=401)
    try:
        token = _client().authorize_access_token()
    except OAuthError as error:  # a state that is not this session's, a refused code
        auth.record("login_failed", None, "failed", {"method": "oidc", "error": error.error[:100]})
        return auth.login_page(_("Single sign-on did not complete. Please try again."), status=401)
    except Exception as error:  # a token that does not verify, or a provider that did not answer
        log.warning("single sign-on: refused an answer from the provider: %r", error)
        auth.record("login_failed", None, "failed", {"method": "oidc", "error": type(error).__name__})
        return auth.login_page(_("Single sign-on did not complete. Please try again."), status=401)
    claims = token.get("userinfo") or {}
    name = str(claims.get(_settings.username_claim) or "").strip()[:100]
    target = session.get(NEXT_KEY) or dash.get_relative_path("/")
    if not auth.sign_in(name, {"method": "oidc", "subject": str(claims.get("sub", ""))[:200]}):
        return auth.login_page(
            _("Signed in as {name}, but no account of this dashboard has that name. Ask an administrator.").format(
                name=name or "?"),
            status=403,
        )  # fmt: skip
    return redirect(target, code=303)
