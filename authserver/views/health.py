"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify
from sqlalchemy import text

from authserver.extensions import db

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
