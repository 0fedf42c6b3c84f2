"""Claim checks for RFC 9068 access tokens (§2.2, §4): few, strict, and cheap.

Required: ``iss`` (exactly the issuer), ``aud`` (one of ours), ``exp``, ``iat``, ``sub``,
``client_id`` and ``jti``. Times are NumericDates (RFC 7519 §2) compared with a small leeway.
"""

from __future__ import annotations

from typing import Any

from authserver.verifier.errors import InsufficientScopeError
from authserver.verifier.errors import InvalidTokenError

REQUIRED_STRINGS = ("sub", "client_id", "jti")


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if type(value) is int or type(value) is float:  # not bool, not str
        return value
    raise InvalidTokenError(f"claim {name} missing or not a number")


def check_claims(claims: Any, *, issuer: str, audiences: frozenset[str], now: float, leeway: float) -> dict[str, Any]:
    """``claims`` if they make a valid access token for us at ``now``; else :class:`InvalidTokenError`."""
    if type(claims) is not dict:
        raise InvalidTokenError("payload is not a JSON object")
    if claims.get("iss") != issuer:
        raise InvalidTokenError("wrong or missing iss")
    aud = claims.get("aud")
    if type(aud) is str:
        if aud not in audiences:
            raise InvalidTokenError("wrong aud")
    elif type(aud) is list and aud:
        if not any(type(a) is str and a in audiences for a in aud):
            raise InvalidTokenError("wrong aud")
    else:
        raise InvalidTokenError("missing or empty aud")
    # RFC 7519 §4.1.4: MUST NOT be accepted on or after exp; leeway absorbs clock skew only.
    if now - leeway >= _number(claims, "exp"):
        raise InvalidTokenError("token expired")
    if _number(claims, "iat") > now + leeway:
        raise InvalidTokenError("iat in the future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise InvalidTokenError("token not yet valid (nbf)")
    for name in REQUIRED_STRINGS:
        value = claims.get(name)
        if type(value) is not str or not value:
            raise InvalidTokenError(f"claim {name} missing or empty")
    scope = claims.get("scope", "")
    if type(scope) is not str:
        raise InvalidTokenError("scope is not a string")
    return claims


def scopes_of(claims: dict[str, Any]) -> list[str]:
    """The token's scopes (RFC 9068 §2.2.3: the space-separated ``scope`` claim)."""
    scope = claims.get("scope")
    return scope.split() if isinstance(scope, str) else []


def require_scopes(claims: dict[str, Any], required: tuple[str, ...] | list[str]) -> None:
    """:class:`InsufficientScopeError` (403) unless the token has every scope in ``required``."""
    if not required:
        return
    granted = set(scopes_of(claims))
    if not granted.issuperset(required):
        raise InsufficientScopeError(f"missing scope(s) {' '.join(s for s in required if s not in granted)}",
                                     scopes=tuple(required))
