"""``GET /metrics``: the Prometheus text exposition of every process of this server.

Under ``authserver serve`` each process writes its metrics to files in ``PROMETHEUS_MULTIPROC_DIR``
(:mod:`authserver.serving.runtime`); a scrape sums them (prometheus_client's multiprocess collector), so a
counter is the server's total, not one worker's. Gauges of the pools count live processes only: the files
of a process that has exited (a worker granian replaced) are marked dead at each scrape.

Computed here, at scrape time: the signing keys' gauges, the readiness gauge and the build info.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from authserver.management.readiness import Checks
from authserver.telemetry import metrics

bp = Blueprint("management_metrics", __name__)

_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


class ScrapeTime(Collector):
    """Gauges this management process computes when scraped."""

    def __init__(self, app: Flask, checks: Checks, version: str) -> None:
        self.app = app
        self.checks = checks
        self.version = version

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = int(time.time())
        keyring = self.app.extensions.get("authserver.keys.keyring")
        if keyring is not None:
            gauges = keyring.metrics(now)
            for name, value in gauges.items():
                if value is not None:
                    yield GaugeMetricFamily(f"authserver_{name}", f"Signing keys: {name.replace('_', ' ')}.", value)
            age = gauges.get("active_key_age_seconds")
            if age is not None:
                yield GaugeMetricFamily(
                    "authserver_signing_key_age_seconds", "Seconds since the active signing key was activated.", age
                )
            yield GaugeMetricFamily(
                "authserver_signing_key_rotation_period_seconds",
                "AUTHSERVER_KEY_ROTATION_PERIOD: the active key should be younger than this.",
                keyring.policy.rotation_period,
            )
        result = self.checks.run()
        yield GaugeMetricFamily("authserver_ready", "1 while /readyz answers 200.", int(result.ready))
        info = GaugeMetricFamily(
            "authserver_build_info", "The running release (value 1).", labels=["version", "schema_head"]
        )
        info.add_metric([self.version, self.checks.code_revisions()[0]], 1)
        yield info


def _mark_dead_processes(path: str) -> None:
    for entry in os.listdir(path):
        match = _LIVE_FILE.match(entry)
        if match and not Path(f"/proc/{match[1]}").exists():
            multiprocess.mark_process_dead(int(match[1]), path)


def registry_for(app: Flask, checks: Checks, version: str) -> CollectorRegistry | Any:
    """What a scrape collects: every process's files under ``serve``, else this process's metrics."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    scrape = ScrapeTime(app, checks, version)
    if path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path)
        registry.register(scrape)
        return registry
    return _Joined(metrics.REGISTRY, scrape)


class _Joined:
    """This process's registry and the scrape-time gauges, for :func:`generate_latest`."""

    def __init__(self, registry: CollectorRegistry, scrape: ScrapeTime) -> None:
        self.registry = registry
        self.scrape = scrape

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()
        yield from self.scrape.collect()


@bp.get("/metrics")
def metrics_view() -> Response:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        _mark_dead_processes(path)
    body = generate_latest(current_app.extensions["authserver.management.registry"])
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
