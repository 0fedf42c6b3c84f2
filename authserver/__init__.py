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


__all__ = ["create_app"]
