"""Revocation (RFC 7009) and introspection (RFC 7662): Authlib's endpoints with our token model.

A token is either one of our JWT access tokens or an opaque refresh token (looked up by digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from authserver import clock
from authserver.digests import token_digest
from authserver.errors import InvalidClientError
from authserver.errors import InvalidRequestError
from authserver.extensions import db
from authserver.models import User
from authserver.oauth import families
from authserver.oauth import storage
from authserver.oauth import tokens
from authserver.oauth.clientcache import ClientInfo
from authserver.oauth.clientcache import get_client
from authserver.telemetry import emit

JSON_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
MAX_TOKEN_CHARS = 8192


@dataclass
class FoundToken:
    kind: str  # "access_token" | "refresh_token"
    client_id: str
    claims: dict[str, Any] | None = None
    refresh: storage.TokenState | None = None


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
            state = storage.lookup(token_digest(value))
            if state is not None:
                return FoundToken(kind, state.client_id, refresh=state)
    return None


def _token_param(request: Any) -> str:
    value = request.form.get("token")
    if not value or len(value) > MAX_TOKEN_CHARS:
        raise InvalidRequestError("missing or oversized token parameter")
    return value


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009: the log out. Revoking a refresh token revokes its family; an access token, its jti."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def create_endpoint_response(self, request: Any) -> tuple[int, str, list[tuple[str, str]]]:
        client = self.authenticate_endpoint_client(request)
        now = clock.now()
        found = find_token(_token_param(request), request.form.get("token_type_hint"), now)
        # RFC 7009 §2.2: unknown or already revoked tokens answer 200. Another client's token is left
        # alone and answered the same way, so the endpoint is no oracle for other clients' tokens.
        if found is not None and found.client_id == client.client_id:
            # Committed here, retried on deadlock; any other database failure raises: a 5xx, never a false 200.
            families.run_with_retry(lambda: _revoke(found, client.client_id, now))
            emit("token.revoked", client_id=client.client_id, kind=found.kind)
        return 200, "{}", JSON_HEADERS


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662 for resource servers (clients created with ``--introspect``), each told only about its own
    tokens (§4): access tokens of its audience, refresh tokens it holds. Anything else reads inactive."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def create_endpoint_response(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client = self.authenticate_endpoint_client(request)
        if client.is_public or not client.can_introspect:
            raise InvalidClientError(f"client {client.client_id} may not introspect")
        now = clock.now()
        found = find_token(_token_param(request), request.form.get("token_type_hint"), now)
        return 200, introspect(found, now, client), JSON_HEADERS


def _revoke(found: FoundToken, client_id: str, now: int) -> None:
    if found.refresh is not None:
        families.revoke_family(found.refresh.family_id, now)
    elif found.claims is not None:
        families.revoke_access_token(found.claims["jti"], client_id, found.claims["exp"], now)


def _user_active(user_id: str, issued_at: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or user.disabled:
        return False
    return user.sessions_not_before is None or issued_at >= user.sessions_not_before


def access_token_is_active(claims: dict[str, Any]) -> bool:
    """A signature-valid, unexpired access token is active unless its jti or family was revoked, its
    client deleted, or (user tokens) its user disabled or logged out everywhere since it was issued."""
    sid = claims.get("sid")
    if families.access_token_revoked(claims["jti"]) or (sid is not None and not families.family_is_active(sid)):
        return False
    if get_client(claims["client_id"]) is None:
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
    issuer = current_app.config["ISSUER"]
    if found.claims is not None:
        claims = found.claims
        if not tokens.audience_includes(claims, tokens.audience(asking)) or not access_token_is_active(claims):
            return inactive
        keys = ("sub", "client_id", "scope", "exp", "iat", "iss", "aud", "jti")
        return {"active": True, "token_type": "Bearer", **{k: claims[k] for k in keys if k in claims}}
    state = found.refresh
    assert state is not None
    if (state.client_id != asking.client_id or state.used_at is not None or state.revoked_at is not None
            or state.expires_at <= now or not _user_active(state.user_id, state.issued_at)):
        return inactive
    return {"active": True, "token_type": "refresh_token", "sub": state.user_id, "client_id": state.client_id,
            "scope": state.scope, "exp": state.expires_at, "iat": state.issued_at, "iss": issuer}
