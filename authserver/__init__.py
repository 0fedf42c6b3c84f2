"""authserver: an OAuth 2.0 authorization server issuing RS256 JWT access tokens and rotating refresh tokens.

This package root stays light: ``authserver.verifier`` (for resource services) must import without
Flask or SQLAlchemy, so the server's app factory is loaded only when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the server app; see :func:`authserver.app.create_app`."""
    from authserver.app import create_app as _create_app

    return _create_app(overrides)


def create_admin_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the admin listener's app; see :func:`authserver.app.create_admin_app`."""
    from authserver.app import create_admin_app as _create_admin_app

    return _create_admin_app(overrides)


def create_management_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the management listener's app; see :func:`authserver.app.create_management_app`."""
    from authserver.app import create_management_app as _create_management_app

    return _create_management_app(overrides)


__all__ = ["create_admin_app", "create_app", "create_management_app"]
