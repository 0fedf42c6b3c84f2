"""Claim checks for RFC 9068 access tokens (§2.2, §4): few, strict, and cheap.

Required: ``iss`` (exactly the issuer), ``aud`` (one of ours), ``exp``, ``iat``, ``sub``,
``client_id`` and ``jti``. Times are NumericDates (RFC 7519 §2) compared with a small leeway. Every
member we read has its type checked: a claim of the wrong type refuses the token.
"""

from __future__ import annotations

from typing import Any

from authserver_verifier.errors import InsufficientScopeError
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import UserTokenRequiredError

REQUIRED_STRINGS = ("sub", "client_id", "jti")
#: 9999-12-31T23:59:59Z: any later (or negative) "time" is not one; it would also overflow datetime and float.
MAX_NUMERIC_DATE = 253402300799


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    # not bool, not str; finite and within the calendar (JSON numbers may be 10**4000, or 1e999 = inf)
    if (type(value) is int or type(value) is float) and 0 <= value <= MAX_NUMERIC_DATE:
        return value
    raise InvalidTokenError(f"claim {name} missing or not a NumericDate")


def check_claims(
    claims: Any, *, issuer: str, audiences: frozenset[str] | None, now: float, leeway: float
) -> dict[str, Any]:
    """``claims`` if they make a valid access token for us at ``now``; else :class:`InvalidTokenError`.

    ``audiences`` ``None``: any audience (the issuer checking its own tokens, whatever resource they
    are for); ``aud`` must still be present, a non-empty string or a non-empty list of them.
    """
    if type(claims) is not dict:
        raise InvalidTokenError("payload is not a JSON object")
    iss = claims.get("iss")
    if type(iss) is not str or iss != issuer:
        raise InvalidTokenError("wrong or missing iss")
    aud = claims.get("aud")
    if type(aud) is str:
        auds = [aud]
    elif type(aud) is list and aud:
        if not all(type(a) is str for a in aud):
            raise InvalidTokenError("aud is not a list of strings")
        auds = aud
    else:
        raise InvalidTokenError("missing or empty aud")
    if audiences is None:
        if not all(auds):
            raise InvalidTokenError("empty aud")
    elif not any(a in audiences for a in auds):
        raise InvalidTokenError("wrong aud")
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
    if type(claims.get("scope", "")) is not str:
        raise InvalidTokenError("claim scope is not a string")
    if "sid" in claims and (type(claims["sid"]) is not str or not claims["sid"]):  # the login session
        raise InvalidTokenError("claim sid is not a non-empty string")
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
        raise InsufficientScopeError(
            f"missing scope(s) {' '.join(s for s in required if s not in granted)}", scopes=tuple(required)
        )


def is_user_token(claims: dict[str, Any]) -> bool:
    """Whether the token was issued to a client on behalf of a user (password or refresh grant).

    Our server marks both ways, and both must agree: a user's token carries ``sid`` (its login
    session; ``check_claims`` made sure it is a non-empty string) and a ``sub`` (the user's id)
    other than ``client_id``; a client_credentials token has ``sub`` = ``client_id`` (RFC 9068 §2.2)
    and no ``sid``. Any doubt says "not a user", so a confusion can only refuse, never admit.
    """
    sid, sub = claims.get("sid"), claims.get("sub")
    return type(sid) is str and bool(sid) and type(sub) is str and sub != claims.get("client_id")


def require_user_token(claims: dict[str, Any]) -> None:
    """:class:`UserTokenRequiredError` (403 ``insufficient_scope``) unless :func:`is_user_token`."""
    if not is_user_token(claims):
        raise UserTokenRequiredError("not a user's token (sub is the client_id, or no sid)")
