"""The refresh-token store: what the grants, revocation, introspection and housekeeping ask of stored refresh
tokens and their families (one login's chain of refresh tokens), and the facts it answers with.

The implementations are in :mod:`authserver.store.refresh_token_sql`, one chosen when the app is created
(:func:`authserver.store.init_app`); protocol code reaches it as ``current_stores().refresh_tokens``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Grant:
    """What a refresh token grants: the facts the access token is built from."""

    token_id: int
    user_id: str
    client_id: str
    family_id: str
    scope: str
    auth_time: int
    parent_id: int | None = None
    #: The login session the family was issued under (the ID token's ``sid``); ``None`` outside the code flow.
    session_id: str | None = None


class Standing(enum.Enum):
    """Where a refresh token that could not be consumed stands, for the client that presented it."""

    #: Unused, unrevoked, unexpired and this client's: refused for a requested scope it does not cover, or
    #: because its user is disabled. Not a replay.
    LIVE = "live"
    #: Unused, another client's. Not a replay.
    FOREIGN = "foreign"
    #: Unused, this client's, expired. Not a replay.
    EXPIRED = "expired"
    #: Used by this client within the grace window, its sealed successor still live: the replay gets it back.
    REPLAYABLE = "replayable"
    #: Used, outside the grace window (or another client's, or its successor no longer live): reuse.
    CONSUMED = "consumed"
    #: Revoked (its family ended): reuse.
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenState:
    """A stored refresh token, looked up by digest on the failure path and by introspection."""

    id: int
    client_id: str
    user_id: str
    family_id: str
    scope: str
    auth_time: int
    issued_at: int
    expires_at: int
    used_at: int | None
    revoked_at: int | None
    successor_sealed: bytes | None
    #: At the lookup's ``now``: its successor is unused, unrevoked, unexpired and its user enabled. Looked up
    #: only while a sealed successor is kept (``False`` otherwise), the one case :meth:`standing` reads it.
    successor_live: bool
    #: The family's login session, as on :class:`Grant`.
    session_id: str | None = None

    def standing(self, client_id: str, now: int, grace_seconds: int) -> Standing:
        """Where this token stands for ``client_id`` at ``now``, with a grace window of ``grace_seconds``."""
        if self.revoked_at is not None:
            return Standing.REVOKED
        if self.used_at is None:
            if self.client_id != client_id:
                return Standing.FOREIGN
            return Standing.LIVE if self.expires_at > now else Standing.EXPIRED
        if (
            grace_seconds
            and self.client_id == client_id
            and now - self.used_at <= grace_seconds
            and self.successor_sealed is not None
            and self.successor_live
        ):
            return Standing.REPLAYABLE
        return Standing.CONSUMED


@dataclass(frozen=True)
class Purged:
    """What :meth:`RefreshTokenStore.purge` removed."""

    refresh_tokens: int
    sealed_erased: int


class RefreshTokenStore(Protocol):
    """Stored refresh tokens and their families.

    :meth:`start_family` and :meth:`rotate` commit on their own; :meth:`revoke_family`,
    :meth:`revoke_user_families`, :meth:`revoke_session_families` and :meth:`revoke_client_user_families` write
    in the request's unit of work, which
    :func:`authserver.store.transaction.run_with_retry` (or the caller) commits.
    """

    def start_family(
        self,
        *,
        token_hash: str,
        client_id: str,
        user_id: str,
        scope: str,
        now: int,
        expires_at: int,
        session_id: str | None = None,
    ) -> Grant:
        """Store the first refresh token of a new family (one login), committed when this returns.

        ``session_id``: the login session it was issued under (the authorization code flow), else ``None``."""
        ...

    def rotate(
        self,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: int,
        ttl: int,
        max_lifetime: int,
        sealed: bytes | None,
        grace_seconds: int = 0,
        required_scopes: list[str] | None = None,
    ) -> Grant | None:
        """Consume a refresh token and store its successor, atomically; the successor's grant, or ``None``.

        ``None`` means the token could not be consumed (unknown, used, revoked, expired, another client's,
        its user disabled, or a requested scope it does not cover) and nothing changed. The successor
        expires ``ttl`` after now, never after the family's absolute end (``auth_time + max_lifetime``).
        With a grace window (``sealed`` given), the successor is kept sealed on the consumed token's row,
        and the sealed successors no replay can claim any more are erased: the consumed token's parent's,
        and some whose ``grace_seconds`` have passed.
        """
        ...

    def lookup(self, token_hash: str, now: int) -> TokenState | None:
        """The stored token with this digest, its successor's liveness judged at ``now``."""
        ...

    def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every token of a family and erase any sealed successor; returns rows newly revoked."""
        ...

    def family_is_active(self, family_id: str) -> bool:
        """A family is active while it has at least one unrevoked token."""
        ...

    def revoke_user_families(self, user_id: str, now: int) -> int:
        """Log out everywhere: revoke all the user's families, erase their sealed successors, and refuse the
        user's access tokens issued before ``now`` (the user's ``sessions_not_before``); rows newly revoked."""
        ...

    def revoke_session_families(self, session_id: str, now: int) -> int:
        """Sign-out (RP-initiated logout): revoke the families issued under one login session and erase their
        sealed successors; rows newly revoked. The user's other sessions and families are untouched."""
        ...

    def revoke_client_user_families(self, client_id: str, user_id: str, now: int) -> int:
        """End every family the user has with one client (consent withdrawn): revoke their tokens and erase
        their sealed successors, the user's other clients untouched; rows changed."""
        ...

    def purge(self, now: int, grace_seconds: int, batch_size: int, access_token_max_ttl: int) -> Purged:
        """Erase sealed successors whose window has passed, then delete the tokens expired for longer than
        ``access_token_max_ttl`` in batches of ``batch_size``, committing after each batch."""
        ...
