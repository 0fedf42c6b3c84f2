"""Refresh tokens, stored only as SHA-256 digests, grouped in families (one login = one family)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from authserver.extensions import Model


class RefreshToken(Model):
    """One refresh token. Times are Unix seconds (JWT NumericDate), identical on every database."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        # The few rows still holding a sealed successor, by use: the lazy erasure once their window passed.
        Index(
            "ix_refresh_tokens_sealed_used_at",
            "used_at",
            postgresql_where=text("successor_sealed IS NOT NULL"),
            sqlite_where=text("successor_sealed IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    #: SHA-256 of the token, hex. The token itself is never stored (RFC 9700 §4.14, RFC 6749 §10.4).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The login this token descends from; the access token's ``sid`` claim.
    family_id: Mapped[str] = mapped_column(String(36))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_tokens.id", ondelete="SET NULL"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(1000), default="")
    #: The login session (:class:`~authserver.models.authorization.LoginSession`) the family was issued under
    #: by the authorization code flow; ``None`` for the password grant and the JSON API.
    session_id: Mapped[str | None] = mapped_column(String(36), index=True)
    #: When the family began (the login); the absolute lifetime counts from here.
    auth_time: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    #: Grace window only: the successor token, AES-GCM-sealed under a key derived from the parent token (this
    #: row's token, never stored) and the pepper; erased once the window has passed.
    successor_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class RevokedAccessToken(Model):
    """A revoked access token's ``jti`` (RFC 7009), kept until the token would have expired."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[int] = mapped_column(BigInteger)
