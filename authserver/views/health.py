"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from sqlalchemy import text

from authserver.clock import now
from authserver.extensions import db
from authserver.keyring import current_keyring
from authserver.telemetry import counters

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """The database answers."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ready")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition: event counters and signing-key gauges (``AUTHSERVER_METRICS``)."""
    if not current_app.config["METRICS"]:
        abort(404)
    lines = []
    for name, value in sorted(counters().items()):
        lines += [f"# TYPE {name} counter", f"{name} {value}"]
    for name, gauge in current_keyring().metrics(now()).items():
        if gauge is not None:
            lines += [f"# TYPE authserver_{name} gauge", f"authserver_{name} {gauge}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain", headers={"Cache-Control": "no-store"})
