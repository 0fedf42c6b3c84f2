"""The authorization code flow's state (RFC 6749 §4.1): login sessions, remembered consents, codes.

Times are Unix seconds, as for refresh tokens. Secrets (the session cookie's token, the code) are stored
only as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from authserver.extensions import Model


class LoginSession(Model):
    """A user signed in at the server's login page: its cookie lets later authorization requests skip the form."""

    __tablename__ = "login_sessions"

    #: The public session id: the id_token's ``sid`` (OpenID Connect Core §2), a UUID.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: SHA-256 of the cookie's token, hex.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: When the user signed in (the id_token's ``auth_time``).
    auth_time: Mapped[int] = mapped_column(BigInteger)
    #: The idle lifetime counts from here.
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    #: The absolute end, whatever the activity.
    expires_at: Mapped[int] = mapped_column(BigInteger)
    #: Signed out, or ended by an administrator or by "log out everywhere".
    ended_at: Mapped[int | None] = mapped_column(BigInteger)


class Consent(Model):
    """The scopes a user allowed a client (not first-party) to have; one row per user and client."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True)
    #: Space-separated, sorted.
    scope: Mapped[str] = mapped_column(String(1000), default="")
    granted_at: Mapped[int] = mapped_column(BigInteger)


class AuthorizationCode(Model):
    """An authorization code (RFC 6749 §4.1.2), single use, bound to everything its redemption must match."""

    __tablename__ = "authorization_codes"

    #: SHA-256 of the code, hex. The code itself is never stored.
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(36))
    #: The ``redirect_uri`` as sent to the authorization endpoint; ``None`` when it was omitted (RFC 6749 §4.1.3).
    redirect_uri: Mapped[str | None] = mapped_column(String(2000))
    #: The PKCE S256 challenge (RFC 7636 §4.2).
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(1000), default="")
    nonce: Mapped[str | None] = mapped_column(String(512))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The family its redemption started: a second redemption revokes it (RFC 6749 §4.1.2).
    family_id: Mapped[str | None] = mapped_column(String(36))
