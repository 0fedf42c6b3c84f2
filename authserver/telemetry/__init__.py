"""Events, logs, metrics and traces: what an operator sees of the server.

Grants and views call :func:`emit` with an event name ``<noun>.<verb>`` (``login.failed``,
``refresh_token.rotated``) and plain identifiers: one log line and one counter
``authserver_<event with _>_total`` each. Tokens, secrets and passwords are never passed here;
:data:`FORBIDDEN_FIELDS` makes that a hard error instead of a convention.

- :mod:`.logs`: JSON lines in production, readable lines in development, each with the request id.
- :mod:`.metrics`: the metric catalogue (Prometheus, summed across workers by the management listener).
- :mod:`.tracing`: OpenTelemetry spans when ``AUTHSERVER_OTEL_ENDPOINT`` is set, nothing imported otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from authserver.extensions import db
from authserver.telemetry import logs
from authserver.telemetry import metrics
from authserver.telemetry import tracing
from authserver.telemetry.logs import ConsoleFormatter
from authserver.telemetry.logs import JsonFormatter

FORBIDDEN_FIELDS = frozenset({"password", "token", "access_token", "refresh_token", "client_secret", "secret"})

events_log = logging.getLogger("authserver.events")


def emit(event: str, **fields: Any) -> None:
    """Record one event: a log line and a counter ``authserver_<event with _>_total``."""
    leaked = FORBIDDEN_FIELDS.intersection(fields)
    if leaked:
        raise ValueError(f"refusing to log secret fields: {sorted(leaked)}")
    metrics.count_event(event)
    if events_log.isEnabledFor(logging.INFO):  # no record, no extra dict, when the level is off
        events_log.info(event, extra={"event": event, **fields})


def count(event: str) -> None:
    """Count one event without a log line (for events too frequent to log every time)."""
    metrics.count_event(event)


def counters() -> dict[str, int]:
    """Snapshot of this process's event counters, keyed by metric name."""
    return metrics.event_counts()


def init_app(app: Flask) -> None:
    """Logs (:func:`.logs.init_app`), first: everything after start-up may log."""
    logs.init_app(app)


def init_stores(app: Flask) -> None:
    """Once the app's database engines exist: their pool gauges and, when configured, traces."""
    with app.app_context():
        metrics.instrument_pool(db.engine)
    tracing.init_app(app)


__all__ = ["FORBIDDEN_FIELDS", "ConsoleFormatter", "JsonFormatter", "count", "counters", "emit", "init_app"]
