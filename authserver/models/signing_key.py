"""The database key store's tables (``AUTHSERVER_KEYS_STORE=database``, store/signing_keys.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from authserver.extensions import Model


class SigningKey(Model):
    """One signing key: its record (times are Unix seconds) and its private key as PKCS#8 PEM,
    encrypted with ``AUTHSERVER_KEYS_PASSPHRASE`` (production never stores an unencrypted one)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("state IN ('next', 'active', 'retired')", name="ck_signing_keys_state"),
        # At most one active key, whatever writes the table: the lifecycle's rule held by the database too.
        Index(
            "uq_signing_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: Listing order (the order keys were added), as a keys directory's manifest keeps it.
    seq: Mapped[int] = mapped_column(BigInteger)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    activated_at: Mapped[int | None] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger)
    private_key: Mapped[str] = mapped_column(Text)


class SigningKeySet(Model):
    """One row: the key set's revision, replaced by every change. Each server process reads only this
    once per ``KEYS_RELOAD_INTERVAL`` and loads the keys when it differs from the one it holds."""

    __tablename__ = "signing_key_set"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[int] = mapped_column(BigInteger)
