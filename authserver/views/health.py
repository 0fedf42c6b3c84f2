"""``GET /healthz`` on the public listener: the process answers, nothing more (no database, no detail).

Readiness, metrics and version moved to the management listener (:mod:`authserver.management`), which
the public proxy never routes. ``/healthz`` stays public because something depends on it: a load
balancer or platform that can probe only the traffic port (docs/operations.md, "The listeners"), and
the flood control of bench/abuse (the cheapest request there is).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")
