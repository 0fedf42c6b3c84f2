"""Bearer credentials in and RFC 6750 error answers out, shared by the framework adapters."""

from __future__ import annotations

import json
import logging
import traceback
from http import HTTPStatus

from authserver_verifier.errors import InvalidRequestError
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import MissingTokenError
from authserver_verifier.errors import TokenError

log = logging.getLogger("authserver.verifier")

#: Seconds a client should wait after a 503 (keys or introspection unavailable).
RETRY_AFTER = "5"


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1).

    No header, or another scheme, is :class:`MissingTokenError` (a bare ``Bearer`` challenge);
    a ``Bearer`` header without exactly one token is :class:`InvalidRequestError` (400).
    """
    if not authorization:
        raise MissingTokenError("no Authorization header")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("not a bearer Authorization header")
    value = value.strip()
    if not value or " " in value or "," in value:
        raise InvalidRequestError("malformed bearer credentials")
    return value


def error_response(exc: TokenError, realm: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` for a refused request: JSON body, challenge, never cached."""
    if realm and not exc.realm:
        exc.realm = realm
    body = json.dumps(exc.body()).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("WWW-Authenticate", exc.www_authenticate),
    ]
    if exc.status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers.append(("Retry-After", RETRY_AFTER))
    return exc.status, headers, body


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def unexpected_error(exc: Exception) -> InvalidTokenError:
    """The adapters' defensive net: verification raised something other than :class:`TokenError`.

    The verifier raises only ``TokenError`` for any input (verifier/tests/test_verifier_hostile_input.py
    fuzzes it), so this is a bug; the request is still refused, as ``invalid_token`` 401, never a
    5xx that an unauthenticated caller could provoke at will. Logged at ERROR with the exception's
    type and where it was raised, but not its message nor a traceback, which may quote the token.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"
    log.error(
        "bug: verifying a bearer token raised %s at %s; refused as invalid_token",
        type(exc).__name__,
        where,
        extra={"event": "verifier.unexpected_error"},
    )
    return InvalidTokenError(f"unexpected {type(exc).__name__} at {where}")
