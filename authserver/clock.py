"""The server's notion of "now", in whole seconds (JWT NumericDate, RFC 7519 §2).

Everything that compares times asks ``current_clock()``, so tests can move time with a
:class:`FrozenClock` instead of sleeping.
"""

from __future__ import annotations

import time

from flask import current_app


class Clock:
    """Wall-clock time in whole seconds."""

    def now(self) -> int:
        return int(time.time())


class FrozenClock(Clock):
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: int | None = None) -> None:
        self.value = int(time.time()) if start is None else start

    def now(self) -> int:
        return self.value

    def advance(self, seconds: int) -> None:
        self.value += seconds


def current_clock() -> Clock:
    return current_app.extensions["authserver.clock"]


def now() -> int:
    return current_clock().now()
