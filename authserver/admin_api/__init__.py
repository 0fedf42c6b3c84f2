"""The admin HTTP API, served on its own listener (``AUTHSERVER_ADMIN_BIND``) by
:func:`authserver.app.create_admin_app`: JSON resources under ``/admin/`` over the domain functions of
:mod:`authserver.admin`, the same ones the CLI calls."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the admin API's blueprints and error handlers on ``app``."""
