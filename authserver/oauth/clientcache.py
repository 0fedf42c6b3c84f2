"""Registered clients as immutable snapshots, cached in-process for ``CLIENT_CACHE_SECONDS``.

Every token request authenticates a client; reading it from the database each time costs a round
trip on the hottest path. A snapshot is kept for a few seconds: changes made through this process
(``clients rotate-secret``, ``delete``) invalidate it at once, other processes see them within the
TTL (documented in the README). Unknown client ids are not cached, so random ids cannot fill memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask
from flask import current_app

from authserver.extensions import db
from authserver.models import Client
from authserver.settings import current_settings

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class ClientInfo:
    """What the token path needs to know about a client."""

    client_id: str
    secret_hash: str | None
    grant_types: frozenset[str]
    scopes: frozenset[str]
    audience: str | None
    first_party: bool
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    refresh_token_max_lifetime: int | None
    can_introspect: bool

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def scope_set(self) -> set[str]:
        return set(self.scopes)

    @classmethod
    def of(cls, client: Client) -> ClientInfo:
        return cls(client.client_id, client.secret_hash, frozenset(client.grant_types.split()),
                   frozenset(client.scopes.split()), client.audience, client.first_party, client.access_token_ttl,
                   client.refresh_token_ttl, client.refresh_token_max_lifetime, client.can_introspect)


class ClientCache:
    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ClientInfo]] = {}

    def get(self, client_id: str) -> ClientInfo | None:
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        client = db.session.get(Client, client_id)
        if client is None:
            self._entries.pop(client_id, None)
            return None
        info = ClientInfo.of(client)
        if self.ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = (now + self.ttl, info)
        return info

    def invalidate(self, client_id: str) -> None:
        self._entries.pop(client_id, None)


def init_app(app: Flask) -> None:
    app.extensions["authserver.client_cache"] = ClientCache(current_settings(app).client_cache_seconds)


def get_client(client_id: str) -> ClientInfo | None:
    return current_app.extensions["authserver.client_cache"].get(client_id)


def invalidate(client_id: str) -> None:
    current_app.extensions["authserver.client_cache"].invalidate(client_id)
