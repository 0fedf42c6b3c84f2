"""JSON log lines and event counters.

Grants and views call :func:`emit` with an event name ``<noun>.<verb>`` (``login.failed``,
``refresh_token.rotated``) and plain identifiers. Tokens, secrets and passwords are never passed
here; :data:`FORBIDDEN_FIELDS` makes that a hard error instead of a convention.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import Counter
from typing import Any

from flask import Flask

from authserver.settings import current_settings

FORBIDDEN_FIELDS = frozenset({"password", "token", "access_token", "refresh_token", "client_secret", "secret"})
_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

events_log = logging.getLogger("authserver.events")
_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """Record one event: a JSON log line and a counter ``authserver_<event with _>_total``."""
    leaked = FORBIDDEN_FIELDS.intersection(fields)
    if leaked:
        raise ValueError(f"refusing to log secret fields: {sorted(leaked)}")
    count(event)
    if events_log.isEnabledFor(logging.INFO):  # no record, no extra dict, when the level is off
        events_log.info(event, extra={"event": event, **fields})


def count(event: str) -> None:
    """Count one event without a log line (for events too frequent to log every time)."""
    with _counts_lock:
        _counts[event] += 1


def counters() -> dict[str, int]:
    """Snapshot of the event counters, keyed by metric name."""
    with _counts_lock:
        return {f"authserver_{name.replace('.', '_')}_total": n for name, n in _counts.items()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def init_app(app: Flask) -> None:
    """Send ``authserver.*`` logs as JSON to stderr; keep Authlib's token-dumping DEBUG logs off."""
    logger = logging.getLogger("authserver")
    logger.setLevel(current_settings(app).log_level.upper())
    if not any(getattr(h, "_authserver", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._authserver = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    # Authlib's grants log whole token dicts with log.debug("Issue token %r ..."): never let them through.
    logging.getLogger("authlib").setLevel(logging.INFO)
