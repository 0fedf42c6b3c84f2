"""Failed-login counters when no Redis is configured (the embedded default)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from authserver.extensions import Model


class ThrottleEntry(Model):
    """One throttle key (``user:…``, ``ip:…:window``, ``global:minute``). Times are Unix seconds."""

    __tablename__ = "throttle_entries"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_end: Mapped[int] = mapped_column(BigInteger, default=0)
    locked_until: Mapped[int | None] = mapped_column(BigInteger)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    lockouts_reset_at: Mapped[int] = mapped_column(BigInteger, default=0)
