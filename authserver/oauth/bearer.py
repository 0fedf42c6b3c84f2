"""Bearer access tokens at our own protected endpoints (RFC 6750): what makes one a valid user's token.

Log-out-everywhere and userinfo share it. The checks, in order: a token is presented (else a challenge without
an error code, §3.1), it is one of our valid access tokens (:func:`authserver.oauth.tokens.decode_access_token`),
a user's (it has a family, ``sid``; a client_credentials token has none), for the wanted audience when one is
wanted, and active (not revoked, its family alive, its user enabled, :func:`access_token_is_active`).
"""

from __future__ import annotations

from typing import Any

from authserver.errors import InvalidTokenError
from authserver.errors import MissingTokenError
from authserver.oauth import tokens
from authserver.oauth.introspection import access_token_is_active


def header_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1); ``None`` without a header.

    Another scheme, or ``Bearer`` without a token, is an invalid token (it was an attempt at credentials)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidTokenError("not a bearer token")
    return value.strip()


def user_token_claims(token: str | None, now: int, *, audience: str | None) -> dict[str, Any]:
    """The claims of a valid, active user access token; ``audience`` ``None`` accepts any ``aud``."""
    if token is None:
        raise MissingTokenError("no bearer token")
    claims = tokens.decode_access_token(token, now)
    if claims is None or "sid" not in claims:
        raise InvalidTokenError("missing or invalid bearer token, or not a user's")
    if audience is not None and not tokens.audience_includes(claims, audience):
        raise InvalidTokenError("bearer token for another audience")
    if not access_token_is_active(claims):
        raise InvalidTokenError("inactive bearer token")
    return claims
