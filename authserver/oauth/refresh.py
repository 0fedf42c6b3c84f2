"""Refreshing (RFC 6749 §6) as both front doors share it: single use, reuse detection, the grace window.

Every refresh token is single-use (RFC 9700 §4.14.2). A used or revoked token presented again is
reuse: the whole family is revoked. Within the client's grace window, the immediately preceding
token replayed by the same client gets the same successor back instead (see docs/refresh-tokens.md).
"""

from __future__ import annotations

from typing import NoReturn

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidScopeError
from authserver.oauth import grace
from authserver.oauth import tokens
from authserver.oauth.id_token import with_id_token
from authserver.oauth.issued import Issued
from authserver.oauth.issued import issue
from authserver.oauth.scope import scope_covers
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.refresh_tokens import Standing
from authserver.store.refresh_tokens import TokenState
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit


def refresh(
    client: ClientInfo, presented: str, requested: list[str] | None, door: str, *, id_token: bool = False
) -> Issued:
    """The rotated pair for ``presented``, or ``invalid_grant`` (``invalid_scope`` for a wider scope).

    With ``id_token`` and ``openid`` in the scope, a new ID token too (OpenID Connect Core §12.2): the family's
    ``sub``, ``auth_time`` and login session (``sid``), no ``nonce`` (that belonged to the authorization request).
    """
    now = clock.now()
    server_grace = current_settings().tokens.refresh_grace_seconds
    grace_seconds = client.grace_window(server_grace)
    successor = new_token()
    ttl, max_lifetime = tokens.refresh_token_ttl(client), tokens.refresh_token_max_lifetime(client)
    # Sealed successors are erased once no client's window can claim them any more, not this client's.
    sweep = max(grace_seconds, server_grace, current_stores().clients.longest_grace_seconds()) if grace_seconds else 0
    # One atomic step: consumed only if valid for this client and covering the requested scope.
    grant = current_stores().refresh_tokens.rotate(
        token_hash=token_digest(presented),
        client_id=client.client_id,
        new_hash=token_digest(successor),
        now=now,
        ttl=ttl,
        max_lifetime=max_lifetime,
        sealed=grace.seal(successor, presented) if grace_seconds else None,
        grace_seconds=sweep,
        required_scopes=requested,
    )
    if grant is None:
        return _replayed(client, presented, requested, now, grace_seconds, door, id_token)
    scope = " ".join(requested) if requested else grant.scope
    emit(
        "refresh_token.rotated",
        client_id=client.client_id,
        user_id=grant.user_id,
        family_id=grant.family_id,
        door=door,
    )
    expires_at = min(now + ttl, grant.auth_time + max_lifetime)
    issued = issue(client, grant.user_id, grant.family_id, scope, successor, expires_at, now)
    if not id_token:
        return issued
    return with_id_token(issued, client, auth_time=grant.auth_time, session_id=grant.session_id, nonce=None, now=now)


def _narrowed_scope(granted: str, requested: list[str] | None) -> str:
    """RFC 6749 §6: the scope may narrow, never widen; the refresh token keeps the original scope."""
    if requested is None:
        return granted
    if not scope_covers(granted, requested):
        raise InvalidScopeError("requested scope exceeds the refresh token's scope")
    return " ".join(requested)


def _replayed(
    client: ClientInfo,
    presented: str,
    requested: list[str] | None,
    now: int,
    grace_seconds: int,
    door: str,
    id_token: bool,
) -> Issued:
    """The token could not be consumed: a grace replay, reuse, or simply invalid."""
    store = current_stores().refresh_tokens
    state = store.lookup(token_digest(presented), now)
    if state is None:
        _reject(client, door)
    match state.standing(client.client_id, now, grace_seconds):
        case Standing.LIVE:
            # Not consumed for a requested scope it does not cover (invalid_scope; the token stays
            # usable), or because its user is disabled.
            _narrowed_scope(state.scope, requested)
            _reject(client, door)
        case Standing.FOREIGN | Standing.EXPIRED:
            _reject(client, door)
        case Standing.REPLAYABLE:
            replay = _grace_replay(client, state, presented, requested, now, door, id_token)
            if replay is not None:
                return replay
    # Consumed, revoked, or a replay the sealed successor does not open: reuse.
    run_with_retry(lambda: store.revoke_family(state.family_id, now))
    emit(
        "refresh_token.reused",
        client_id=client.client_id,
        user_id=state.user_id,
        family_id=state.family_id,
        door=door,
    )
    raise InvalidGrantError("refresh token reuse: family revoked")


def _grace_replay(
    client: ClientInfo,
    state: TokenState,
    presented: str,
    requested: list[str] | None,
    now: int,
    door: str,
    id_token: bool,
) -> Issued | None:
    """The successor sealed for ``presented``, handed back again; ``None`` if it does not open."""
    assert state.successor_sealed is not None and state.used_at is not None  # replayable: its successor is kept
    successor = grace.unseal(state.successor_sealed, presented)  # only the parent token opens it
    if successor is None:
        return None
    scope = _narrowed_scope(state.scope, requested)
    emit(
        "refresh_token.replayed",
        client_id=client.client_id,
        user_id=state.user_id,
        family_id=state.family_id,
        door=door,
    )
    expires_at = min(
        state.used_at + tokens.refresh_token_ttl(client), state.auth_time + tokens.refresh_token_max_lifetime(client)
    )
    issued = issue(client, state.user_id, state.family_id, scope, successor, expires_at, now)
    if not id_token:
        return issued
    return with_id_token(issued, client, auth_time=state.auth_time, session_id=state.session_id, nonce=None, now=now)


def _reject(client: ClientInfo, door: str) -> NoReturn:
    """Unknown, expired, another client's, or its user disabled: invalid, but not a replay."""
    emit("refresh_token.rejected", client_id=client.client_id, door=door)
    raise InvalidGrantError("refresh token unknown, expired, not this client's, or user disabled")
