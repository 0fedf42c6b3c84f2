"""The refresh_token grant (RFC 6749 §6) with rotation, reuse detection and the grace window."""

from __future__ import annotations

from typing import NoReturn

from authlib.oauth2.rfc6749 import grants

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import InvalidScopeError
from authserver.http import JSON_HEADERS
from authserver.oauth import grace
from authserver.oauth import tokens
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.scope import parse_scope
from authserver.oauth.scope import scope_covers
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.refresh_tokens import Standing
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit


class RefreshTokenGrant(TokenEndpointGrant, grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation always on: every refresh token is single-use (RFC 9700 §4.14.2).

    A used or revoked token presented again is reuse: the whole family is revoked. Within the
    optional grace window, the immediately preceding token replayed by the same client gets the
    same successor back instead (see docs/refresh-tokens.md).
    """

    def validate_token_request(self) -> None:
        self.authenticate_token_endpoint_client()
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("missing refresh_token")
        self.requested_scope = parse_scope(self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client = self.client
        presented = self.request.form["refresh_token"]
        digest = token_digest(presented)
        now = clock.now()
        grace_seconds = current_settings().tokens.refresh_grace_seconds
        successor = new_token()
        # One atomic step: consumed only if valid for this client and covering the requested scope.
        grant = current_stores().refresh_tokens.rotate(
            token_hash=digest,
            client_id=client.client_id,
            new_hash=token_digest(successor),
            now=now,
            ttl=tokens.refresh_token_ttl(client),
            max_lifetime=tokens.refresh_token_max_lifetime(client),
            sealed=grace.seal(successor, presented) if grace_seconds else None,
            grace_seconds=grace_seconds,
            required_scopes=self.requested_scope,
        )
        if grant is None:
            return self._replayed(client, presented, now, grace_seconds)
        scope = " ".join(self.requested_scope) if self.requested_scope else grant.scope
        emit("refresh_token.rotated", client_id=client.client_id, user_id=grant.user_id, family_id=grant.family_id)
        return self._respond(client, grant.user_id, grant.family_id, scope, successor, now)

    def _narrowed_scope(self, granted: str) -> str:
        """RFC 6749 §6: the scope may narrow, never widen; the refresh token keeps the original scope."""
        requested = self.requested_scope
        if requested is None:
            return granted
        if not scope_covers(granted, requested):
            raise InvalidScopeError("requested scope exceeds the refresh token's scope")
        return " ".join(requested)

    def _respond(
        self, client: ClientInfo, user_id: str, family_id: str, scope: str, refresh: str, now: int
    ) -> tuple[int, str, list[tuple[str, str]]]:
        access, expires_in = tokens.sign_access_token(client=client, sub=user_id, scope=scope, sid=family_id, now=now)
        return 200, tokens.token_response(access, expires_in, scope, refresh), JSON_HEADERS

    def _replayed(
        self, client: ClientInfo, presented: str, now: int, grace_seconds: int
    ) -> tuple[int, str, list[tuple[str, str]]]:
        """The token could not be consumed: a grace replay, reuse, or simply invalid."""
        store = current_stores().refresh_tokens
        state = store.lookup(token_digest(presented), now)
        if state is None:
            self._reject(client)
        match state.standing(client.client_id, now, grace_seconds):
            case Standing.LIVE:
                # Not consumed for a requested scope it does not cover (invalid_scope; the token stays
                # usable), or because its user is disabled.
                self._narrowed_scope(state.scope)
                self._reject(client)
            case Standing.FOREIGN | Standing.EXPIRED:
                self._reject(client)
            case Standing.REPLAYABLE:
                assert state.successor_sealed is not None  # replayable: its sealed successor is kept
                successor = grace.unseal(state.successor_sealed, presented)  # only the parent token opens it
                if successor is not None:
                    scope = self._narrowed_scope(state.scope)
                    emit(
                        "refresh_token.replayed",
                        client_id=client.client_id,
                        user_id=state.user_id,
                        family_id=state.family_id,
                    )
                    return self._respond(client, state.user_id, state.family_id, scope, successor, now)
        # Consumed, revoked, or a replay the sealed successor does not open: reuse.
        run_with_retry(lambda: store.revoke_family(state.family_id, now))
        emit("refresh_token.reused", client_id=client.client_id, user_id=state.user_id, family_id=state.family_id)
        raise InvalidGrantError("refresh token reuse: family revoked")

    def _reject(self, client: ClientInfo) -> NoReturn:
        """Unknown, expired, another client's, or its user disabled: invalid, but not a replay."""
        emit("refresh_token.rejected", client_id=client.client_id)
        raise InvalidGrantError("refresh token unknown, expired, not this client's, or user disabled")
