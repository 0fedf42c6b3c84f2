"""How long this process trusts that an access token is still active (``INTROSPECTION_CACHE_SECONDS``).

Whether a signature-valid access token is active needs the database: its ``jti`` not revoked, its family
alive, its user enabled and not logged out everywhere since it was issued. Resource servers introspect the
same token many times in a row, so each process keeps the answer "active" per ``jti`` for a few seconds:

- A revocation written through **this** process (``/oauth/revoke``, log out everywhere, reuse detection, a
  logout, a user disabled or a consent withdrawn through the CLI in-process) voids every cached answer at
  once (:mod:`authserver.store.revocations`): the next request asks the database again.
- One written through **another** process (another worker, host, or a CLI run) is seen within
  ``INTROSPECTION_CACHE_SECONDS``: that is the staleness the cache allows. 0 turns the cache off.
- Only "active" is cached, never "inactive" (an inactive token never becomes active again). The cache holds
  at most :data:`MAX_ENTRIES` tokens; when full it starts over empty.

The client's existence is not part of this answer: it comes from the client store's own cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask
from flask import current_app

from authserver.settings import current_settings
from authserver.store import revocations

MAX_ENTRIES = 10_000
_EXTENSION = "authserver.active_tokens"


class ActiveTokens:
    """``jti`` -> (until, revocation generation) of access tokens last seen active."""

    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES, monotonic: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.monotonic = monotonic
        self._entries: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def is_active(self, jti: str, look_up: Callable[[], bool]) -> bool:
        """The cached answer for ``jti`` while fresh and no revocation happened here since; else ``look_up()``."""
        if self.ttl <= 0:
            return look_up()
        entry = self._entries.get(jti)
        now = self.monotonic()
        if entry is not None and entry[0] > now and entry[1] == revocations.generation():
            return True
        generation = revocations.generation()  # before the look-up: a revocation during it voids the answer
        active = look_up()
        if active:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[jti] = (now + self.ttl, generation)
        else:
            self._entries.pop(jti, None)
        return active


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = ActiveTokens(current_settings(app).introspection_cache_seconds)


def current_active_tokens() -> ActiveTokens:
    return current_app.extensions[_EXTENSION]
