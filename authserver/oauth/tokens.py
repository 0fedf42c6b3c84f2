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

from authserver.keystore import Keystore
from authserver.models import Client


def current_keystore() -> Keystore:
    return current_app.extensions["authserver.keystore"]


def access_token_ttl(client: Client) -> int:
    return client.access_token_ttl or current_app.config["ACCESS_TOKEN_TTL"]


def refresh_token_ttl(client: Client) -> int:
    return client.refresh_token_ttl or current_app.config["REFRESH_TOKEN_TTL"]


def sign_access_token(*, client: Client, sub: str, scope: str, sid: str | None, now: int) -> tuple[str, int]:
    """Return ``(jwt, expires_in)`` for an RFC 9068 access token."""
    ttl = access_token_ttl(client)
    claims: dict[str, Any] = {
        "iss": current_app.config["ISSUER"],
        "sub": sub,
        "aud": client.audience or current_app.config["DEFAULT_AUDIENCE"],
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


def token_response(access_token: str, expires_in: int, scope: str, refresh_token: str | None) -> str:
    """The RFC 6749 §5.1 success body, encoded once."""
    body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in,
                            "scope": scope}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return json.dumps(body, separators=(",", ":"))
