"""Issuing tokens: RS256 JWT access tokens (RFC 9068) and opaque refresh tokens.

The access token is signed with the keystore's one active key, never a key set (joserfc would pick
a random key from a set). ``expires_in`` is exactly ``exp - iat``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import current_app
from joserfc import jwt

from authserver.http import MAX_TOKEN_CHARS
from authserver.keys.keyring import current_keystore
from authserver.settings import current_settings
from authserver.store.clients import ClientInfo
from authserver.telemetry import tracing
from authserver_verifier import ANY_AUDIENCE
from authserver_verifier import TokenError
from authserver_verifier import Verifier


def access_token_ttl(client: ClientInfo) -> int:
    return client.access_token_ttl or current_settings().tokens.access_token_ttl


def refresh_token_ttl(client: ClientInfo) -> int:
    return client.refresh_token_ttl or current_settings().tokens.refresh_token_ttl


def refresh_token_max_lifetime(client: ClientInfo) -> int:
    return client.refresh_token_max_lifetime or current_settings().tokens.refresh_token_max_lifetime


def audience(client: ClientInfo) -> str:
    """The client's audience: the ``aud`` of its access tokens, and for a resource server (``--introspect``)
    the audience whose access tokens it may introspect."""
    return client.audience or current_settings().default_audience


def sign_access_token(*, client: ClientInfo, sub: str, scope: str, sid: str | None, now: int) -> tuple[str, int]:
    """Return ``(jwt, expires_in)`` for an RFC 9068 access token."""
    ttl = access_token_ttl(client)
    claims: dict[str, Any] = {
        "iss": current_settings().issuer,
        "sub": sub,
        "aud": audience(client),
        "exp": now + ttl,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "client_id": client.client_id,
        "scope": scope,
    }
    if sid is not None:
        claims["sid"] = sid
    keystore = current_keystore()
    with tracing.span("jwt.sign"):
        token = jwt.encode(
            keystore.signing_header, claims, keystore.signing.key, algorithms=[keystore.signing.record.alg]
        )
    return token, ttl


def audience_includes(claims: dict[str, Any], audience: str) -> bool:
    """True if the token's ``aud`` (a string or a list, RFC 7519 §4.1.3) names ``audience`` exactly."""
    aud = claims.get("aud")
    return aud == audience if isinstance(aud, str) else isinstance(aud, list) and audience in aud


def token_response(
    access_token: str, expires_in: int, scope: str, refresh_token: str | None, id_token: str | None = None
) -> str:
    """The RFC 6749 §5.1 success body, encoded once."""
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if id_token is not None:
        body["id_token"] = id_token
    return json.dumps(body, separators=(",", ":"))


_VERIFIER = "authserver.access_token_verifier"


def _own_verifier() -> Verifier:
    """The verifier of our own access tokens: the published key set, rebuilt when the keys are reloaded."""
    keystore = current_keystore()
    built = current_app.extensions.get(_VERIFIER)
    if built is None or built[0] is not keystore:
        # ANY_AUDIENCE: we answer for our tokens whatever resource they are for (RFC 7662, RFC 7009).
        # No leeway: our own clock issued them, and exp is exact (RFC 7519 §4.1.4).
        verifier = Verifier.from_jwks(
            json.loads(keystore.jwks_body),
            issuer=current_settings().issuer,
            audience=ANY_AUDIENCE,
            algorithms=keystore.algorithms,
            leeway=0,
            max_token_bytes=MAX_TOKEN_CHARS,
        )
        built = current_app.extensions[_VERIFIER] = (keystore, verifier)
    return built[1]


def decode_access_token(token: str, now: int) -> dict[str, Any] | None:
    """Verify one of our access tokens strictly; its claims, or ``None`` if it is not a valid one.

    The resource servers' verifier (authserver_verifier, docs/verifier.md "What is checked") against
    the keys we publish: algorithms pinned to theirs, ``typ`` ``at+jwt`` (RFC 9068 §4), ``iss`` us,
    ``aud``, ``exp``, ``iat``, ``jti``, ``sub`` and ``client_id`` present and typed, ``exp`` after ``now``.
    """
    try:
        return _own_verifier().verify(token, now=now)
    except TokenError:
        return None
