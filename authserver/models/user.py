"""Resource owners."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from authserver.extensions import Model
from authserver.usernames import MAX_LENGTH


def _utcnow() -> datetime:
    return datetime.now(UTC)


class User(Model):
    """A user who logs in with the password grant. ``id`` is the token's ``sub``.

    ``username`` is the name as created (for display); ``normal_username`` is its normal form
    (:func:`authserver.usernames.normal_form`), what every lookup compares, unique.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    username: Mapped[str] = mapped_column(String(MAX_LENGTH), unique=True)
    normal_username: Mapped[str] = mapped_column(String(MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: OpenID Connect standard claims (Core §5.1): ``profile`` gives ``name``, ``email`` gives the other two.
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: "Log out everywhere": access tokens issued before this Unix time are inactive.
    sessions_not_before: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, onupdate=_utcnow)
