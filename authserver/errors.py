"""OAuth error classes and the single JSON error boundary of the app (RFC 6749 §5.2).

Each class carries its wire code, its status and a fixed public description. What went wrong in
detail goes in ``detail``, which is logged and never sent. Authlib's own errors are rendered by the
same function, so their descriptions (which can tell an unknown client from a wrong secret) never
reach the client either.
"""

from __future__ import annotations

import json
import logging

from authlib.oauth2 import OAuth2Error as AuthlibOAuth2Error
from flask import Flask
from flask import Response
from werkzeug.exceptions import HTTPException

from authserver.http import NO_STORE

log = logging.getLogger("authserver.errors")


#: The public description of every error code we send; one fixed text per code.
DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter, repeats one, or is otherwise malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The provided grant or credentials are invalid, expired or revoked.",
    "unauthorized_client": "The client is not allowed to use this grant type.",
    "unsupported_grant_type": "The grant type is not supported.",
    "invalid_scope": "The requested scope is invalid or exceeds what is allowed.",
    "unsupported_token_type": "The token type is not supported.",
    "invalid_token": "The access token is invalid.",
    "insufficient_scope": "The access token lacks the required scope.",
    "access_denied": "The request was refused.",
    "unsupported_response_type": "The response type is not supported.",
    "login_required": "The user must sign in.",
    "consent_required": "The user must consent to the request.",
    "not_found": "No such resource.",
    "method_not_allowed": "This method is not allowed on this resource.",
    "request_too_large": "The request body is too large.",
    "server_error": "The server encountered an unexpected condition.",
    "temporarily_unavailable": "The server is temporarily unable to handle the request.",
}


class OAuthError(AuthlibOAuth2Error):
    """Base of our errors: ``error`` and ``status_code`` on the class, ``detail`` for the log only."""

    error = "server_error"
    status_code = 400
    #: The ``WWW-Authenticate`` scheme of the challenge that carries this error (RFC 6750 §3 for ``Bearer``);
    #: ``None``: a challenge only for a 401, ``Basic`` (RFC 6749 §5.2).
    challenge: str | None = None
    #: The scope the resource needs, for the challenge's ``scope`` attribute (RFC 6750 §3).
    challenge_scope: str | None = None

    def __init__(self, detail: str = "", *, status_code: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(status_code=status_code)
        self.detail = detail
        self.retry_after = retry_after


class InvalidRequestError(OAuthError):
    error = "invalid_request"


class InvalidClientError(OAuthError):
    """Client authentication failed. Always 401 with a Basic challenge (RFC 6749 §5.2)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrantError(OAuthError):
    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"


class InvalidTokenError(OAuthError):
    """RFC 6750 §3.1: a bad bearer token at one of our protected endpoints; 401 with a Bearer challenge."""

    error = "invalid_token"
    status_code = 401
    challenge = "Bearer"


class BearerRequestError(InvalidRequestError):
    """RFC 6750 §3.1: a malformed request to a protected resource (two ways of sending the token); 400 with a
    Bearer challenge."""

    challenge = "Bearer"


class InsufficientScopeError(OAuthError):
    """RFC 6750 §3.1: the bearer token is valid but lacks the scope the resource needs; 403 with a challenge."""

    error = "insufficient_scope"
    status_code = 403
    challenge = "Bearer"

    def __init__(self, detail: str = "", *, scope: str) -> None:
        super().__init__(detail)
        self.challenge_scope = scope


class TooManyRequestsError(OAuthError):
    """A failed-login ceiling (per IP or global) is reached: 429 with ``Retry-After`` (RFC 6585 §4)."""

    error = "temporarily_unavailable"
    status_code = 429


class AccessDeniedError(OAuthError):
    """A browser request refused unread (CSRF, RFC 9700 §4.14 and the browser-apps draft): 403, nothing changed."""

    error = "access_denied"
    status_code = 403


class UnsupportedResponseTypeError(OAuthError):
    """RFC 6749 §4.1.2.1: the authorization endpoint answers ``response_type=code`` only."""

    error = "unsupported_response_type"


class LoginRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6: ``prompt=none`` and the user is not signed in (or must sign in again)."""

    error = "login_required"


class ConsentRequiredError(OAuthError):
    """OpenID Connect Core §3.1.2.6: ``prompt=none`` and the user has not allowed this client these scopes."""

    error = "consent_required"


class MissingTokenError(InvalidTokenError):
    """RFC 6750 §3.1: no credentials at all; the challenge then carries no error code."""


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


def error_response(code: str, status: int, extra_headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """The one JSON error shape: ``{"error", "error_description"}`` with ``no-store``."""
    body = {"error": code, "error_description": DESCRIPTIONS.get(code, DESCRIPTIONS["server_error"])}
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in NO_STORE + extra_headers:
        response.headers[name] = value
    return response


def render_oauth_error(exc: AuthlibOAuth2Error) -> Response:
    """Render one of our errors, or one of Authlib's, in our shape."""
    code = exc.error if exc.error in DESCRIPTIONS else "invalid_request"
    status = exc.status_code or 400
    if code == "invalid_client":
        status = 401
    detail = getattr(exc, "detail", "") or exc.description
    log.info("oauth error", extra={"event": "oauth.error", "error": code, "status": status, "detail": detail})
    headers: tuple[tuple[str, str], ...] = ()
    scheme = getattr(exc, "challenge", None)
    if scheme is None and status == 401:
        scheme = "Bearer" if code == "invalid_token" else "Basic"
    if scheme is not None:
        challenge = f'{scheme} realm="authserver"'
        if not isinstance(exc, MissingTokenError):
            challenge += f', error="{code}"'
        scope = getattr(exc, "challenge_scope", None)
        if scope is not None:
            challenge += f', scope="{scope}"'
        headers = (("WWW-Authenticate", challenge),)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers += (("Retry-After", str(max(1, retry_after))),)
    return error_response(code, status, headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def _render_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _render_unexpected(exc)
    code = _HTTP_CODES.get(status, "invalid_request")
    response = error_response(code, status)
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _render_unexpected(exc: BaseException) -> Response:
    log.error("unhandled exception", exc_info=exc, extra={"event": "request.failed"})
    return error_response("server_error", 500)


def init_app(app: Flask) -> None:
    """Make every 4xx/5xx of every route a JSON OAuth error with ``Cache-Control: no-store``."""
    app.register_error_handler(AuthlibOAuth2Error, render_oauth_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)
