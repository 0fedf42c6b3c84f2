"""The JSON API for first-party apps: ``POST /login``, ``/auth/refresh``, ``/auth/logout``.

The same login, refresh and family revocation as the token endpoint (:mod:`authserver.oauth.login`,
:mod:`authserver.oauth.refresh`, :mod:`authserver.oauth.revocation`), in another wire format: camelCase
JSON, and for browsers (an ``Origin`` header) the refresh token in an HttpOnly cookie instead of the body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from authlib.oauth2 import OAuth2Error
from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from authserver import clock
from authserver.errors import DESCRIPTIONS
from authserver.errors import InvalidClientError
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import error_response
from authserver.http import NO_STORE
from authserver.oauth import client_auth
from authserver.oauth import refresh as refreshing
from authserver.oauth.issued import JSON_API
from authserver.oauth.issued import Issued
from authserver.oauth.login import start_family
from authserver.oauth.login import verify_login
from authserver.oauth.revocation import end_family
from authserver.oauth.scope import parse_scope
from authserver.oauth.scope import requested_scope
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.telemetry import metrics
from authserver.views import browser
from authserver.views.json_body import json_object

bp = Blueprint("json_api", __name__)
log = logging.getLogger("authserver.errors")

LOGIN_MEMBERS = frozenset({"username", "password", "clientId", "scope"})
REFRESH_MEMBERS = frozenset({"refreshToken", "clientId", "scope"})
LOGOUT_MEMBERS = frozenset({"refreshToken", "clientId"})
#: Statuses of the JSON API where the token endpoint's differ: a refused credential or client is 401.
_STATUS = {"invalid_grant": 401, "invalid_client": 401}


@dataclass(frozen=True)
class Caller:
    """Who is asking: the client, whether it is a browser (cookie mode), and the request's members."""

    client: ClientInfo
    in_browser: bool
    body: dict[str, str]


def caller(members: frozenset[str], *, empty_ok: bool = False) -> Caller:
    """The client and mode of this request, its CSRF checks passed and its body read."""
    if browser.browser_origin() is None:
        browser.refuse_cookie_without_origin()
        body = json_object(members, empty_ok=empty_ok)
        named = body.get("clientId")
        if not named and not request.headers.get("Authorization"):
            default = current_stores().clients.login_default()
            named = default.client_id if default is not None else None
        return Caller(_json_api_client(named), False, body)
    client = browser.browser_client()
    body = json_object(members - {"refreshToken"}, empty_ok=empty_ok)
    if body.get("clientId", client.client_id) != client.client_id:
        raise InvalidClientError("clientId is not the client of this origin")
    return Caller(_json_api_client(client.client_id), True, body)


def _json_api_client(client_id: str | None) -> ClientInfo:
    """A public client named by id, or a confidential one through HTTP Basic, as at the token endpoint;
    first-party and allowed the password grant. Unknown, disabled or not allowed: the same ``401``."""
    client, _method = client_auth.authenticate(
        cast(Mapping[str, str], request.headers), {"client_id": client_id} if client_id else {}
    )
    if not client.first_party or not client.allows_grant("password"):
        raise InvalidClientError(f"client {client.client_id} may not use the JSON API")
    return client


def _answer(issued: Issued, who: Caller) -> Response:
    body: dict[str, object] = {
        "accessToken": issued.access_token,
        "tokenType": "Bearer",
        "expiresIn": issued.expires_in,
        "scope": issued.scope,
    }
    if issued.refresh_token is not None and not who.in_browser:
        body["refreshToken"] = issued.refresh_token
    response = Response(json.dumps(body, separators=(",", ":")), mimetype="application/json")
    if issued.refresh_token is not None and who.in_browser:
        browser.set_refresh_cookie(response, issued.refresh_token, issued.refresh_expires_at - clock.now())
    return response


def _presented(who: Caller) -> str | None:
    return browser.presented_cookie() if who.in_browser else who.body.get("refreshToken") or None


@bp.route("/login", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def login() -> Response:
    if request.method == "OPTIONS":
        return browser.preflight()
    who = caller(LOGIN_MEMBERS)
    username, password = who.body.get("username"), who.body.get("password")
    if not username or password is None:
        raise InvalidRequestError("missing username or password")
    scope = requested_scope(who.client, who.body.get("scope"))
    user = verify_login(who.client, username, password, request.remote_addr or "unknown", JSON_API)
    old = browser.presented_cookie() if who.in_browser else None
    if old is not None:  # a new login ends the browser's old family: no fixation, no orphaned family
        end_family(who.client, old, JSON_API)
    issued = start_family(who.client, user, scope, JSON_API)
    metrics.token_issued("password")
    return _answer(issued, who)


@bp.route("/auth/refresh", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def refresh() -> Response:
    if request.method == "OPTIONS":
        return browser.preflight()
    who = caller(REFRESH_MEMBERS, empty_ok=True)
    if not who.client.allows_grant("refresh_token"):
        raise InvalidClientError(f"client {who.client.client_id} may not refresh")
    g.clear_refresh_cookie = who.in_browser  # from here, a refused refresh token ends the cookie too
    presented = _presented(who)
    if presented is None and who.in_browser:  # no cookie: no session (the app shows its login)
        raise InvalidGrantError("no refresh cookie")
    if presented is None:
        raise InvalidRequestError("no refresh token")
    issued = refreshing.refresh(who.client, presented, parse_scope(who.body.get("scope")), JSON_API)
    metrics.token_issued("refresh_token")
    return _answer(issued, who)


@bp.route("/auth/logout", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def logout() -> Response:
    """Ends the family (RFC 7009's revocation); idempotent: 204 with no, an unknown or a revoked token."""
    if request.method == "OPTIONS":
        return browser.preflight()
    who = caller(LOGOUT_MEMBERS, empty_ok=True)
    presented = _presented(who)
    if presented is not None:
        end_family(who.client, presented, JSON_API)
    response = Response(status=204)
    if who.in_browser:
        browser.clear_refresh_cookie(response)
    return response


@bp.errorhandler(OAuth2Error)
def json_api_error(exc: OAuth2Error) -> Response:
    """The token endpoint's error bodies, byte for byte; a refused credential or client is ``401``."""
    code = exc.error if exc.error in DESCRIPTIONS else "invalid_request"
    if code == "unauthorized_client":
        code = "invalid_client"
    status = _STATUS.get(code, exc.status_code or 400)
    detail = getattr(exc, "detail", "") or exc.description
    log.info("oauth error", extra={"event": "oauth.error", "error": code, "status": status, "detail": detail})
    retry_after = getattr(exc, "retry_after", None)
    response = error_response(code, status, (("Retry-After", str(max(1, retry_after))),) if retry_after else ())
    if code == "invalid_grant" and g.get("clear_refresh_cookie"):
        browser.clear_refresh_cookie(response)
    return response


@bp.after_request
def json_api_headers(response: Response) -> Response:
    for name, value in NO_STORE:
        response.headers[name] = value
    return browser.add_cors_headers(response)
