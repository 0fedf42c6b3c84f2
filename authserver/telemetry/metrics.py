"""The metric catalogue (docs/operations.md, "Metrics"): every Prometheus metric this server exposes.

The metrics live in this process (prometheus_client values: an in-memory float each, or under
``authserver serve`` an mmap'ed file per process, ``PROMETHEUS_MULTIPROC_DIR``, which the management
listener sums across every worker of every listener at each scrape). The management listener adds the
gauges it computes at scrape time (:mod:`authserver.management.exposition`: key age, readiness, build info).

An increment is a lock and a float add (plus an mmap write under ``serve``): cheap enough for every
request; nothing here formats text.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from sqlalchemy import event

#: The process's metrics, for exposition outside multiprocess mode (the test client, a single process).
REGISTRY = CollectorRegistry(auto_describe=True)

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

http_request_duration = Histogram(
    "authserver_http_request_duration_seconds",
    "Public listener requests by route template (unmatched: no route) and status, seconds to the response.",
    ["route", "status"],
    buckets=_HTTP_BUCKETS,
    registry=REGISTRY,
)
tokens_issued = Counter(
    "authserver_tokens_issued",
    "Token responses of the token endpoint and the JSON API, by grant.",
    ["grant"],
    registry=REGISTRY,
)
refresh_reuse_detected = Counter(
    "authserver_refresh_reuse_detected",
    "Refresh tokens presented again after use (outside any grace): each revoked its family.",
    registry=REGISTRY,
)
login_failures = Counter(
    "authserver_login_failures",
    "Failed password logins (wrong password or unknown user), every door.",
    registry=REGISTRY,
)
password_hash_duration = Histogram(
    "authserver_password_hash_seconds",
    "argon2id hashes and verifications, seconds (including the wait for a hashing slot).",
    buckets=_HASH_BUCKETS,
    registry=REGISTRY,
)
db_pool_size = Gauge(
    "authserver_db_pool_size",
    "Connections the database pools may hold open (pool size plus overflow), summed over processes.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
db_pool_checked_out = Gauge(
    "authserver_db_pool_checked_out",
    "Pooled database connections in use right now, summed over live processes.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

#: The catalogue's metrics kept in the processes (docs/operations.md, "Metrics").
CATALOGUE = (
    http_request_duration,
    tokens_issued,
    refresh_reuse_detected,
    login_failures,
    password_hash_duration,
    db_pool_size,
    db_pool_checked_out,
)

#: Grants the ``grant`` label may name; anything else counts as ``other`` (the label's values stay few).
GRANTS = frozenset({"password", "refresh_token", "authorization_code", "client_credentials"})

#: Events that also count in a catalogue metric under its own name.
_EVENT_METRICS: dict[str, Any] = {"refresh_token.reused": refresh_reuse_detected, "login.failed": login_failures}

_events: dict[str, Counter] = {}
_events_lock = threading.Lock()


def count_event(event: str) -> None:
    """``authserver_<event with _>_total`` plus one, and the catalogue metric the event feeds, if any."""
    counter = _events.get(event)
    if counter is None:
        counter = _event_counter(event)
    counter.inc()
    also = _EVENT_METRICS.get(event)
    if also is not None:
        also.inc()


def _event_counter(event: str) -> Counter:
    with _events_lock:
        counter = _events.get(event)
        if counter is None:
            name = f"authserver_{event.replace('.', '_')}"
            counter = Counter(name, f"Events {event}.", registry=REGISTRY)
            _events[event] = counter
        return counter


def event_counts() -> dict[str, int]:
    """This process's event counters, keyed by metric name (``authserver_login_failed_total``)."""
    with _events_lock:
        items = list(_events.items())
    return {f"authserver_{event.replace('.', '_')}_total": int(c._value.get()) for event, c in items}


def instrument_pool(engine: Any) -> None:
    """Keep the pool gauges of ``engine`` (this process's share of the summed gauges)."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if callable(size):
        db_pool_size.inc(size() + max(0, overflow))
    event.listen(engine, "checkout", lambda *_args: db_pool_checked_out.inc())
    event.listen(engine, "checkin", lambda *_args: db_pool_checked_out.dec())


def token_issued(grant: str | None) -> None:
    tokens_issued.labels(grant if grant in GRANTS else "other").inc()


class RequestDurations:
    """``authserver_http_request_duration_seconds`` children by (route, status), looked up once each."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, status: str, seconds: float) -> None:
        child = self._children.get((route, status))
        if child is None:
            child = self._children[route, status] = http_request_duration.labels(route, status)
        child.observe(seconds)


#: Every metric name the server can expose (catalogue, event counters known at import, scrape-time
#: gauges), for the test that the dashboard and the alert rules use only metrics that exist.
SCRAPE_TIME = (
    "authserver_signing_key_age_seconds",
    "authserver_signing_key_rotation_period_seconds",
    "authserver_active_key_age_seconds",
    "authserver_next_key_step_in_seconds",
    "authserver_key_reload_healthy",
    "authserver_ready",
    "authserver_build_info",
)
