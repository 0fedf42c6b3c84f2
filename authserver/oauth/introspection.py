"""Introspection (RFC 7662) for resource servers: Authlib's endpoint with our token model, and the
rule for whether an access token is still active (also used by log out everywhere)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from authserver import clock
from authserver.errors import InvalidClientError
from authserver.http import JSON_HEADERS
from authserver.oauth import tokens
from authserver.oauth.active_tokens import current_active_tokens
from authserver.oauth.presented import FoundToken
from authserver.oauth.presented import find_token
from authserver.oauth.presented import token_param
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import ClientInfo


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662 for resource servers (clients created with ``--introspect``), each told only about its own
    tokens (§4): access tokens of its audience, refresh tokens it holds. Anything else reads inactive."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def create_endpoint_response(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client = self.authenticate_endpoint_client(request)
        if client.is_public or not client.can_introspect:
            raise InvalidClientError(f"client {client.client_id} may not introspect")
        now = clock.now()
        found = find_token(token_param(request), request.form.get("token_type_hint"), now)
        return 200, introspect(found, now, client), JSON_HEADERS


def _user_active(user_id: str, issued_at: int) -> bool:
    user = current_stores().users.standing(user_id)
    if user is None or user.disabled:
        return False
    return user.sessions_not_before is None or issued_at >= user.sessions_not_before


def access_token_is_active(claims: dict[str, Any]) -> bool:
    """A signature-valid, unexpired access token is active unless its jti or family was revoked, its
    client deleted or its tokens revoked since it was issued (``tokens_not_before``), or (user tokens) its user
    disabled or logged out everywhere since it was issued."""
    client = current_stores().clients.get(claims["client_id"])
    if client is None or (client.tokens_not_before is not None and claims["iat"] < client.tokens_not_before):
        return False
    # Cached per jti for INTROSPECTION_CACHE_SECONDS (oauth/active_tokens.py: the staleness it allows).
    return current_active_tokens().is_active(claims["jti"], lambda: _not_revoked(claims))


def _not_revoked(claims: dict[str, Any]) -> bool:
    sid, stores = claims.get("sid"), current_stores()
    if stores.revoked_jtis.is_revoked(claims["jti"]) or (
        sid is not None and not stores.refresh_tokens.family_is_active(sid)
    ):
        return False
    return sid is None or _user_active(claims["sub"], claims["iat"])


def introspect(found: FoundToken | None, now: int, asking: ClientInfo) -> dict[str, Any]:
    """The RFC 7662 §2.2 answer for the resource server ``asking``; anything inactive is exactly ``{"active": false}``.

    RFC 7662 §4: what a resource server learns is limited to tokens meant for it. An access token is
    active only if its ``aud`` is the asking client's audience (``--audience``, else
    ``AUTHSERVER_DEFAULT_AUDIENCE``); a refresh token only for the client that holds it, so no one can
    probe another client's refresh tokens (which, presented at the token endpoint, would trip reuse
    detection). Anything else, valid or not, answers exactly like an unknown token.
    """
    inactive: dict[str, Any] = {"active": False}
    if found is None:
        return inactive
    issuer = current_settings().issuer
    if found.claims is not None:
        claims = found.claims
        if not tokens.audience_includes(claims, tokens.audience(asking)) or not access_token_is_active(claims):
            return inactive
        keys = ("sub", "client_id", "scope", "exp", "iat", "iss", "aud", "jti")
        return {"active": True, "token_type": "Bearer", **{k: claims[k] for k in keys if k in claims}}
    state = found.refresh
    assert state is not None
    if (
        state.client_id != asking.client_id
        or state.used_at is not None
        or state.revoked_at is not None
        or state.expires_at <= now
        or not _user_active(state.user_id, state.issued_at)
    ):
        return inactive
    return {
        "active": True,
        "token_type": "refresh_token",
        "sub": state.user_id,
        "client_id": state.client_id,
        "scope": state.scope,
        "exp": state.expires_at,
        "iat": state.issued_at,
        "iss": issuer,
    }
