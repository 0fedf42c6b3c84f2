"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify

from authserver.clock import now
from authserver.keys.keyring import current_keyring
from authserver.settings import current_settings
from authserver.store import database
from authserver.telemetry import counters

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """The database answers, and the keys directory loaded the last time it changed."""
    keyring = current_app.extensions.get("authserver.keys.keyring")
    if keyring is not None and keyring.reload_error is not None:
        # No path or key detail here: the key.reload_failed event and the log line say what to fix.
        resp = jsonify(
            status="not_ready",
            reason="signing keys changed on disk but cannot be loaded; serving "
            "the last good keys (see the key.reload_failed event)",
        )
        resp.status_code = 503
        resp.headers["Cache-Control"] = "no-store"
        return resp
    database.ping()
    return jsonify(status="ready")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition: event counters and signing-key gauges (``AUTHSERVER_METRICS``)."""
    if not current_settings().metrics:
        abort(404)
    lines = []
    for name, value in sorted(counters().items()):
        lines += [f"# TYPE {name} counter", f"{name} {value}"]
    for name, gauge in current_keyring().metrics(now()).items():
        if gauge is not None:
            lines += [f"# TYPE authserver_{name} gauge", f"authserver_{name} {gauge}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})
