"""The run's progress lines (stderr) and its key events (generated, activated, retired, pruned, revoked)."""

from __future__ import annotations

import sys
import time
from typing import Any


class Timeline:
    def __init__(self, verbose: bool = True) -> None:
        self.start = time.monotonic()
        self.verbose = verbose
        self.events: list[dict[str, Any]] = []

    def say(self, message: str) -> None:
        if self.verbose:
            print(f"[{time.monotonic() - self.start:7.2f}s] {message}", file=sys.stderr, flush=True)

    def event(self, name: str, kid: str, at: float | None = None, **extra: Any) -> None:
        at = time.time() if at is None else at
        self.events.append({"event": name, "kid": kid, "at": at, **extra})
        self.say(f"{name} {kid[:12]} {' '.join(f'{k}={v}' for k, v in extra.items())}".rstrip())
