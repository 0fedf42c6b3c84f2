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

#: PostgreSQL's fillfactor of ``refresh_tokens``: each row is updated once or twice (used, revoked) in place.
FILLFACTOR = 80


class RefreshToken(Model):
    """One refresh token. Times are Unix seconds (JWT NumericDate), identical on every database."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        # Only the code flow's families have a login session: the password grant's and the JSON API's rows
        # (most of them) stay out of this index, and their rotations write one index entry less.
        Index(
            "ix_refresh_tokens_session_id",
            "session_id",
            postgresql_where=text("session_id IS NOT NULL"),
            sqlite_where=text("session_id IS NOT NULL"),
        ),
        # No index may cover used_at, revoked_at or successor_sealed, the columns a rotation or a revocation
        # updates: PostgreSQL then updates the row in place on its page (a HOT update) instead of writing a new
        # entry into every index. The free fifth of each page is room for those updates.
        {"postgresql_with": {"fillfactor": FILLFACTOR}},
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
    session_id: Mapped[str | None] = mapped_column(String(36))
    #: When the family began (the login); the absolute lifetime counts from here.
    auth_time: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    #: Written by releases before sealed_successors (migration 5e1f0c2d7a83); still read, and erased, so that a
    #: grace replay of a token rotated by such a release works during a rolling upgrade. Nothing writes it now;
    #: a later release drops it (expand/contract, docs/migrations.md).
    successor_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class SealedSuccessor(Model):
    """Grace window only: a used token's successor, kept so that a replay of the used token within the window
    (its answer was lost) gets the same successor back instead of counting as theft.

    The successor token is AES-GCM-sealed under a key derived from the used token (never stored) and the
    pepper. The row is erased once the window has passed (lazily, by later rotations, and by ``tokens purge``),
    when the successor is used in turn, and when the family is revoked. A table of its own, not columns of
    ``refresh_tokens``: a rotation then updates only ``used_at`` there, which no index covers (a HOT update).
    """

    __tablename__ = "sealed_successors"

    #: The used token.
    token_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("refresh_tokens.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    #: The successor minted for it (its liveness decides whether a replay may get it back).
    successor_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    #: When the used token was used: the window runs from here.
    used_at: Mapped[int] = mapped_column(BigInteger, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RevokedAccessToken(Model):
    """A revoked access token's ``jti`` (RFC 7009), kept until the token would have expired."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[int] = mapped_column(BigInteger)
