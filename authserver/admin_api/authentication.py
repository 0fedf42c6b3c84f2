"""Who is calling: the admin API's bearer tokens (RFC 6750), strictly checked (docs/admin-api.md "Authentication").

A token is accepted only if, in this order: it is presented in the ``Authorization`` header; it is one of our
access tokens (:func:`authserver.oauth.tokens.decode_access_token`: signature with our keys, the algorithms
pinned, ``typ`` ``at+jwt``, ``iss``, ``exp``, ``iat``, ``jti``, ``sub`` and ``client_id``); its ``aud`` names
``authserver-admin``; it is a client's own token (``sub`` is its ``client_id``, no ``sid``: never a user's);
the client still exists and is an admin client; the token was not revoked (its ``jti``) nor issued before the
client's ``tokens_not_before``. Then the scope: the token's scopes that the client still has must cover the
one the operation needs (403 ``insufficient_scope`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver import clock
from authserver.admin.access import ADMIN_AUDIENCE
from authserver.admin.access import covers
from authserver.errors import InsufficientScopeError
from authserver.errors import InvalidTokenError
from authserver.errors import MissingTokenError
from authserver.oauth import tokens
from authserver.oauth.bearer import header_token
from authserver.store import current_stores


@dataclass(frozen=True)
class Caller:
    """An authenticated admin client and the admin scopes it may use now."""

    client_id: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return covers(self.scopes, scope)


def caller_of(authorization: str | None) -> Caller:
    """The admin client behind the ``Authorization`` header; :class:`InvalidTokenError` (401) if there is none."""
    token = header_token(authorization)
    if token is None:
        raise MissingTokenError("no bearer token")
    claims = tokens.decode_access_token(token, clock.now())
    if claims is None:
        raise InvalidTokenError("not a valid access token of ours")
    if not tokens.audience_includes(claims, ADMIN_AUDIENCE):
        raise InvalidTokenError("an access token for another audience")
    if "sid" in claims or claims["sub"] != claims["client_id"]:
        raise InvalidTokenError("a user's access token")
    stores = current_stores()
    client = stores.clients.get(claims["client_id"])
    if client is None or not client.admin:
        raise InvalidTokenError("not an admin client's token (or the client was deleted)")
    if client.tokens_not_before is not None and claims["iat"] < client.tokens_not_before:
        raise InvalidTokenError("issued before the client's tokens were revoked")
    if stores.revoked_jtis.is_revoked(claims["jti"]):
        raise InvalidTokenError("revoked")
    granted = frozenset(str(claims.get("scope", "")).split()) & client.scopes
    return Caller(client.client_id, granted)


def require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise InsufficientScopeError(f"{caller.client_id} lacks {scope}", scope=scope)
