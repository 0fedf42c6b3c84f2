"""Issuing tokens: RS256 JWT access tokens (RFC 9068) and opaque refresh tokens.

The access token is signed with the keystore's one active key, never a key set (joserfc would pick
a random key from a set). ``expires_in`` is exactly ``exp - iat``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from authserver.http import MAX_TOKEN_CHARS
from authserver.keys.keyring import current_keystore
from authserver.oauth.clientcache import ClientInfo
from authserver.settings import current_settings


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
    token = jwt.encode(keystore.signing_header, claims, keystore.signing.key,
                       algorithms=[keystore.signing.record.alg])
    return token, ttl


def audience_includes(claims: dict[str, Any], audience: str) -> bool:
    """True if the token's ``aud`` (a string or a list, RFC 7519 §4.1.3) names ``audience`` exactly."""
    aud = claims.get("aud")
    return aud == audience if isinstance(aud, str) else isinstance(aud, list) and audience in aud


def token_response(access_token: str, expires_in: int, scope: str, refresh_token: str | None) -> str:
    """The RFC 6749 §5.1 success body, encoded once."""
    body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in,
                            "scope": scope}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return json.dumps(body, separators=(",", ":"))


#: A JWT larger than this is not one of ours; refuse before parsing (RFC 8725 §3.x resource limits).


def decode_access_token(token: str, now: int) -> dict[str, Any] | None:
    """Verify one of our access tokens strictly; its claims, or ``None`` if it is not a valid one.

    Algorithms pinned to those of our published keys, ``typ`` must be ``at+jwt`` (RFC 9068 §4),
    ``iss`` must be us, and ``exp``/``iat``/``jti``/``sub``/``client_id`` must be present.
    """
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        return None
    keystore = current_keystore()
    try:
        decoded = jwt.decode(token, keystore.verification_keys, algorithms=keystore.algorithms)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    header, claims = decoded.header, decoded.claims
    if header.get("typ") != "at+jwt" or claims.get("iss") != current_settings().issuer:
        return None
    if not all(isinstance(claims.get(c), str) and claims[c] for c in ("sub", "jti", "client_id")):
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or exp <= now:
        return None
    return dict(claims)

