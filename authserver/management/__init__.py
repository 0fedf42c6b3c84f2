"""The management listener (``AUTHSERVER_MANAGEMENT_BIND``), served by
:func:`authserver.app.create_management_app`: liveness, readiness, metrics and version."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the management endpoints on ``app``."""
