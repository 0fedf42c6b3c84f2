"""Database models (SQLAlchemy 2.0 typed declarative)."""

from authserver.models.client import Client
from authserver.models.client import ClientOrigin
from authserver.models.throttle import ThrottleEntry
from authserver.models.token import RefreshToken
from authserver.models.token import RevokedAccessToken
from authserver.models.user import User

__all__ = ["Client", "ClientOrigin", "RefreshToken", "RevokedAccessToken", "ThrottleEntry", "User"]
