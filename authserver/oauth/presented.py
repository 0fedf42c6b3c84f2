"""The token a client presents to revocation or introspection: one of our JWT access tokens, or an
opaque refresh token looked up by its digest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authserver.digests import token_digest
from authserver.errors import InvalidRequestError
from authserver.http import MAX_TOKEN_CHARS
from authserver.oauth import tokens
from authserver.store import current_stores
from authserver.store.refresh_tokens import TokenState


@dataclass
class FoundToken:
    kind: str  # "access_token" | "refresh_token"
    client_id: str
    claims: dict[str, Any] | None = None
    refresh: TokenState | None = None


def find_token(value: str, hint: str | None, now: int) -> FoundToken | None:
    """Our token ``value`` if it is one: a valid JWT access token or a stored refresh token.

    The hint only orders the look-ups (RFC 7009 §2.1: an unknown hint is ignored, not an error).
    """
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for kind in order:
        if kind == "access_token":
            claims = tokens.decode_access_token(value, now)
            if claims is not None:
                return FoundToken(kind, claims["client_id"], claims=claims)
        else:
            state = current_stores().refresh_tokens.lookup(token_digest(value), now)
            if state is not None:
                return FoundToken(kind, state.client_id, refresh=state)
    return None


def token_param(request: Any) -> str:
    value = request.form.get("token")
    if not value or len(value) > MAX_TOKEN_CHARS:
        raise InvalidRequestError("missing or oversized token parameter")
    return value
