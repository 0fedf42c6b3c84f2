"""Example third-party web app: signs users in with our authserver (authorization code + PKCE + OpenID Connect).

    THIRD_PARTY_APP_ISSUER=http://127.0.0.1:8000 THIRD_PARTY_APP_RESOURCE=http://127.0.0.1:8001 \\
    THIRD_PARTY_APP_CLIENT_ID=demo-third-party THIRD_PARTY_APP_CLIENT_SECRET=... \\
        gunicorn -w 1 -b 127.0.0.1:8003 "examples.third_party_app.app:create_app()"

A confidential client using Authlib's Flask client with OIDC discovery. Configuration (environment):

* ``THIRD_PARTY_APP_ISSUER`` (required): the authorization server's issuer; discovery reads
  ``<issuer>/.well-known/openid-configuration``.
* ``THIRD_PARTY_APP_CLIENT_ID``, ``THIRD_PARTY_APP_CLIENT_SECRET`` (required): its registration
  (``authserver clients create --grant authorization_code --redirect-uri <URL>/callback ...``).
* ``THIRD_PARTY_APP_RESOURCE`` (required): the example resource service (``GET /user/data``).
* ``THIRD_PARTY_APP_URL``: this app's own base URL (default ``http://127.0.0.1:8003``): the redirect URI
  is ``<URL>/callback``, the post-logout redirect URI ``<URL>/``.
* ``THIRD_PARTY_APP_SECRET_KEY``: signs its session cookie (default: random per process, so a restart
  signs everyone out of the app).

Tokens never reach the browser: the session cookie holds only a random key into a server-side store
(in memory here, hence one worker; a real app uses its database or Redis).
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import Response
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from joserfc.errors import JoseError

SCOPE = "openid profile email read"
TIMEOUT = 10
#: What talking to the server can fail with: its OAuth errors, an id_token that does not verify, the network.
SERVER_ERRORS = (OAuthError, JoseError, requests.RequestException)


class TokenStore:
    """Each signed-in browser's tokens, server-side, under a random key kept in its session cookie."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, dict[str, Any]] = {}

    def put(self, token: dict[str, Any]) -> str:
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[key] = token
        return key

    def get(self, key: str | None) -> dict[str, Any] | None:
        with self._lock:
            return self._tokens.get(key) if key else None

    def replace(self, key: str, token: dict[str, Any]) -> None:
        with self._lock:
            self._tokens[key] = token

    def drop(self, key: str | None) -> dict[str, Any] | None:
        with self._lock:
            return self._tokens.pop(key, None) if key else None


def described(exc: Exception) -> tuple[str, str | None]:
    """An error code and description to show, without anything secret in them."""
    if isinstance(exc, OAuthError):
        return exc.error or "server_error", exc.description
    if isinstance(exc, JoseError):
        return "invalid_id_token", exc.description or exc.error
    return "server_unreachable", type(exc).__name__


def url_from_env(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = (env.get(name) or default or "").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise RuntimeError(f"{name} is required: an http(s) URL without query or fragment (got {value!r})")
    return value


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is required")
    return value


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    settings = os.environ if env is None else env
    issuer = url_from_env(settings, "THIRD_PARTY_APP_ISSUER")
    resource = url_from_env(settings, "THIRD_PARTY_APP_RESOURCE")
    base_url = url_from_env(settings, "THIRD_PARTY_APP_URL", "http://127.0.0.1:8003")
    issuer_origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.get("THIRD_PARTY_APP_SECRET_KEY") or secrets.token_bytes(32),
        # Cookies ignore ports: on 127.0.0.1 the server's and this app's cookies share a host, so a name of its own.
        SESSION_COOKIE_NAME="third_party_app_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # sent on the top-level redirect back to /callback
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
    )
    oauth = OAuth(app)
    server = oauth.register(
        "authserver",
        client_id=required(settings, "THIRD_PARTY_APP_CLIENT_ID"),
        client_secret=required(settings, "THIRD_PARTY_APP_CLIENT_SECRET"),
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "default_timeout": TIMEOUT},
    )
    store = TokenStore()
    redirect_uri = f"{base_url}/callback"

    def signed_in() -> dict[str, Any] | None:
        return store.get(session.get("tokens"))

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return str(session["csrf"])

    def check_csrf() -> None:
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), str(session.get("csrf", "")).encode()) or not sent:
            abort(400, "the form's CSRF token does not match this session")

    def problem(title: str, error: str, description: str | None, status: int = 400) -> tuple[str, int]:
        return render_template("problem.html", title=title, error=error, description=description), status

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["utc"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else ""

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            # form-action covers the redirect a form answers with too: /logout redirects to the issuer.
            f"default-src 'none'; style-src 'self'; form-action 'self' {issuer_origin}; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # never leak ?code= or ?state= to another site
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/")
    def home() -> Any:
        message = None
        if "state" in request.args:  # back from RP-initiated logout
            try:
                server.validate_logout_response()
                message = "You are signed out, here and at the authorization server."
            except OAuthError:
                message = "That sign-out answer does not belong to this browser: ignored."
        tokens = signed_in()
        if tokens is None:
            return render_template("home.html", tokens=None, message=message)
        return render_template(
            "home.html",
            tokens=tokens,
            message=message or session.pop("flash", None),
            expires_in=max(0, int(tokens["expires_at"] - time.time())),
        )

    @app.get("/login")
    def login() -> Any:
        return server.authorize_redirect(redirect_uri)

    @app.get("/callback")
    def callback() -> Any:
        # RFC 9207: the answer must come from our issuer, error answers included (mix-up attacks).
        # Our server always sends it (authorization_response_iss_parameter_supported), so it is required.
        if not hmac.compare_digest(request.args.get("iss", "").encode(), issuer.encode()):
            return problem("Sign-in refused", "invalid_issuer", "the answer's iss is not our issuer")
        if request.args.get("error"):
            state = request.args.get("state")
            if state:
                server.framework.clear_state_data(session, state)
            return problem("Sign-in did not complete", request.args["error"], request.args.get("error_description"))
        try:
            # Checks state, sends the code with its PKCE code_verifier, validates the id_token (signature
            # against the JWKS, iss, aud, exp, at_hash) and its nonce against the one this browser sent.
            token = server.authorize_access_token()
            userinfo = server.userinfo(token=token)
        except SERVER_ERRORS as exc:
            return problem("Sign-in failed", *described(exc))
        if userinfo["sub"] != token["userinfo"]["sub"]:  # OIDC Core 5.3.2
            return problem("Sign-in failed", "invalid_userinfo", "userinfo is about another user")
        store.drop(session.get("tokens"))
        session["tokens"] = store.put({**token, "id_claims": dict(token["userinfo"]), "profile": dict(userinfo)})
        return redirect(url_for("home"))

    @app.get("/data")
    def data() -> Any:
        tokens = signed_in()
        if tokens is None:
            return redirect(url_for("home"))
        try:
            reply = requests.get(
                f"{resource}/user/data", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            return problem("The resource service did not answer", "unreachable", str(exc), 502)
        try:
            body = reply.json()
        except ValueError:
            body = reply.text[:300]
        return render_template(
            "data.html", status=reply.status_code, body=body, challenge=reply.headers.get("WWW-Authenticate")
        )

    @app.post("/refresh")
    def refresh() -> Any:
        check_csrf()
        tokens = signed_in()
        if tokens is None:
            return redirect(url_for("home"))
        try:
            fresh = server.fetch_access_token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
            # OIDC Core 12.2: a new id_token is checked like the first (iss, aud, signature), with the same sub.
            claims = server.parse_id_token(fresh, nonce=None) if "id_token" in fresh else None
        except SERVER_ERRORS as exc:
            if isinstance(exc, OAuthError) and exc.error == "invalid_grant":  # ended at the server: here too
                store.drop(session.pop("tokens", None))
            return problem("Refresh failed", *described(exc))
        merged = {**tokens, **fresh}
        if claims is not None:
            if claims["sub"] != tokens["id_claims"]["sub"]:
                return problem("Refresh failed", "invalid_id_token", "the new id_token is about another user")
            merged["id_claims"] = dict(claims)
        store.replace(session["tokens"], merged)
        session["flash"] = f"Refreshed: a new access token, valid for {int(fresh['expires_at'] - time.time())} s."
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        check_csrf()
        tokens = store.drop(session.pop("tokens", None))
        if tokens is None:
            return redirect(url_for("home"))
        # RP-initiated logout: the server ends its login session and the tokens issued under it.
        return server.logout_redirect(post_logout_redirect_uri=f"{base_url}/", id_token_hint=tokens["id_token"])

    return app
