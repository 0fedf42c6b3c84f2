"""Database models (SQLAlchemy 2.0 typed declarative)."""

from authserver.models.authorization import AuthorizationCode
from authserver.models.authorization import Consent
from authserver.models.authorization import LoginSession
from authserver.models.client import Client
from authserver.models.client import ClientOrigin
from authserver.models.client import ClientRedirectUri
from authserver.models.signing_key import SigningKey
from authserver.models.signing_key import SigningKeySet
from authserver.models.throttle import ThrottleEntry
from authserver.models.token import RefreshToken
from authserver.models.token import RevokedAccessToken
from authserver.models.token import SealedSuccessor
from authserver.models.user import User

__all__ = [
    "AuthorizationCode",
    "Client",
    "ClientOrigin",
    "ClientRedirectUri",
    "Consent",
    "LoginSession",
    "RefreshToken",
    "RevokedAccessToken",
    "SealedSuccessor",
    "SigningKey",
    "SigningKeySet",
    "ThrottleEntry",
    "User",
]
