"""The signing keys' store, chosen once at start-up by ``AUTHSERVER_KEYS_STORE``: the keys directory
(:class:`~authserver.keys.keystore.DirectoryStore`) or the database (:class:`DatabaseKeyStore`).

The database store keeps every key in ``signing_keys`` (the private key as PKCS#8 PEM encrypted with the
keys passphrase) and a revision in the one row of ``signing_key_set``. A change is one transaction: it
first takes the key set's lock (``pg_advisory_xact_lock`` on PostgreSQL, so two hosts' operators or
CronJobs are serialised; on SQLite the database's write lock, taken by the transaction's first
statement, as ``BEGIN IMMEDIATE`` would), checks the passphrase against every stored key, writes, reads
the keys back and loads them as a server does, replaces the revision, and commits; any failure rolls
all of it back. Server processes read only the revision once per reload interval (the keyring).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import cast

from flask import Flask
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from authserver.extensions import db
from authserver.keys.keystore import DirectoryStore
from authserver.keys.keystore import Keystore
from authserver.keys.records import KeyRecord
from authserver.keys.records import KeystoreError
from authserver.keys.records import LoadedKey
from authserver.keys.records import open_key
from authserver.keys.records import require_passphrase
from authserver.keys.storage import KeyStore
from authserver.models.signing_key import SigningKey
from authserver.models.signing_key import SigningKeySet
from authserver.settings import KeySettings

#: The advisory lock of key changes: one 64-bit number per database, named so no other use collides.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"authserver.signing_keys").digest()[:8], "big", signed=True)
#: How long a change waits for another one to finish before it gives up (PostgreSQL ``lock_timeout``).
LOCK_TIMEOUT = "60s"
STORES = ("directory", "database")

KEYS = cast(Table, SigningKey.__table__)  # a mapped class's table (typed FromClause)
KEY_SET = cast(Table, SigningKeySet.__table__)
_RECORD = (KEYS.c.kid, KEYS.c.alg, KEYS.c.state, KEYS.c.created_at, KEYS.c.activated_at, KEYS.c.retired_at)


def make_store(app: Flask, keys: KeySettings) -> KeyStore:
    """The app's key store; ``keys.store`` has been validated at start-up."""
    if keys.store == "database":
        with app.app_context():
            return DatabaseKeyStore(db.engine)
    return DirectoryStore(Path(keys.keys_dir))


def _record(row: Any) -> KeyRecord:
    return KeyRecord(row.kid, row.alg, row.state, row.created_at, row.activated_at, row.retired_at)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message only: SQLAlchemy's own text lists the statement's parameters (private keys)."""
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {str(orig).strip().splitlines()[0] if orig is not None else 'no detail'}"


class DatabaseKeyStore:
    """The ``signing_keys`` table as a :class:`~authserver.keys.storage.KeyStore`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"

    def describe(self) -> str:
        return "the database"

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise KeystoreError(
                f"cannot read the signing keys from the database (has `authserver db upgrade` run?): {_reason(exc)}"
            ) from None

    def records(self) -> list[KeyRecord]:
        with self._reading() as conn:
            return [_record(r) for r in conn.execute(select(*_RECORD).order_by(KEYS.c.seq))]

    def version(self) -> str | None:
        """The key set's revision: one primary-key lookup of one row."""
        with self._reading() as conn:
            return conn.execute(select(KEY_SET.c.revision).where(KEY_SET.c.id == 1)).scalar()

    def load(self, passphrase: str | None) -> Keystore:
        with self._reading() as conn:
            return _load(conn, passphrase)

    @contextlib.contextmanager
    def changing(self, passphrase: str | None, require_encryption: bool = False) -> Iterator[DatabaseChange]:
        """Change the keys all or nothing in one transaction holding the key set's lock (see the module)."""
        passphrase = passphrase or None
        try:
            with self.engine.connect() as conn, conn.begin():
                self._lock(conn)
                rows = list(conn.execute(select(*_RECORD, KEYS.c.seq, KEYS.c.private_key).order_by(KEYS.c.seq)))
                require_passphrase(passphrase, require_encryption)
                for row in rows:
                    open_key(_record(row), row.private_key.encode(), passphrase, f"key {row.kid} in the database")
                change = DatabaseChange(passphrase, [_record(r) for r in rows], max((r.seq for r in rows), default=0))
                yield change
                if change.apply(conn):
                    try:
                        _load(conn, passphrase)
                    except KeystoreError as exc:
                        raise KeystoreError(
                            f"the changed key store would not load, so the change was undone: {exc}"
                        ) from None
                    change.stamp_publication(conn)
                    _new_revision(conn)
        except SQLAlchemyError as exc:
            raise KeystoreError(f"the database key store could not be changed: {_reason(exc)}") from None

    def _lock(self, conn: Connection) -> None:
        if self.postgresql:
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        else:
            # pysqlite opens the transaction before its first write: this one takes SQLite's write lock
            # at once (busy_timeout queues the others), so the reads below see the latest keys.
            conn.execute(update(KEY_SET).where(KEY_SET.c.id == 1).values(id=KEY_SET.c.id))


def _load(conn: Connection, passphrase: str | None) -> Keystore:
    rows = list(conn.execute(select(*_RECORD, KEYS.c.private_key).order_by(KEYS.c.seq)))
    if not rows:
        raise KeystoreError(
            "no signing keys in the database: run `authserver keys generate --activate`, or "
            "`authserver keys import-directory` to copy a keys directory (development generates one automatically)"
        )
    return Keystore(
        [open_key(_record(r), r.private_key.encode(), passphrase, f"key {r.kid} in the database") for r in rows]
    )


def _new_revision(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO signing_key_set (id, revision, changed_at) VALUES (1, :revision, :now) "
            "ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, changed_at = excluded.changed_at"
        ),
        {"revision": uuid.uuid4().hex, "now": int(time.time())},
    )


class DatabaseChange:
    """The records while :meth:`DatabaseKeyStore.changing` holds the lock; written when the change ends.

    As in the directory store, edits of ``records`` count from the next :meth:`save` (or ``add``/``remove``)."""

    def __init__(self, passphrase: str | None, records: list[KeyRecord], last_seq: int) -> None:
        self.passphrase = passphrase
        self.records = records
        self._before = {r.kid: copy.copy(r) for r in records}
        self._saved = copy.deepcopy(records)
        self._pems: dict[str, str] = {}
        #: Keys added by the lifecycle: published when the transaction commits, stamped then (monotonic).
        self._added_at: dict[str, float] = {}
        self._seq = last_seq

    def _new(self, record: KeyRecord, key: RSAKey | ECKey) -> KeyRecord:
        if any(r.kid == record.kid for r in self.records):
            raise KeystoreError(f"key {record.kid} already exists")
        self._pems[record.kid] = key.as_pem(private=True, password=self.passphrase).decode()
        self.records.append(record)
        self.save()
        return record

    def add(self, key: RSAKey | ECKey, alg: str, state: str, now: int) -> KeyRecord:
        record = KeyRecord(
            kid=key.thumbprint(), alg=alg, state=state, created_at=now, activated_at=now if state == "active" else None
        )
        self._new(record, key)
        self._added_at[record.kid] = time.monotonic()
        return record

    def put(self, loaded: LoadedKey) -> KeyRecord:
        """List a key exactly as recorded elsewhere (an import): its state and times are kept."""
        return self._new(copy.copy(loaded.record), loaded.key)

    def save(self) -> None:
        self._saved = copy.deepcopy(self.records)

    def remove(self, kids: list[str]) -> None:
        self.records = [r for r in self.records if r.kid not in kids]
        self.save()

    def apply(self, conn: Connection) -> bool:
        """Write the saved records; False if they equal the stored ones. Removals and demotions go before
        promotions (the one-active index is checked per statement)."""
        saved = {r.kid: r for r in self._saved}
        for kid in [k for k in self._before if k not in saved]:
            conn.execute(delete(KEYS).where(KEYS.c.kid == kid))
        changed = [r for r in self._saved if r.kid in self._before and r != self._before[r.kid]]
        new = [r for r in self._saved if r.kid not in self._before]
        for record in [r for r in changed if r.state != "active"]:
            conn.execute(update(KEYS).where(KEYS.c.kid == record.kid).values(**vars(record)))
        for record in new:  # in listing order
            self._seq += 1
            conn.execute(insert(KEYS).values(**vars(record), seq=self._seq, private_key=self._pems[record.kid]))
        for record in [r for r in changed if r.state == "active"]:
            conn.execute(update(KEYS).where(KEYS.c.kid == record.kid).values(**vars(record)))
        return bool(changed or new or len(saved) != len(self._before))

    def stamp_publication(self, conn: Connection) -> None:
        """A key added as ``next`` is published when the transaction commits, after the load check: move its
        ``created_at`` on by the time since it was stamped, rounded up, so it never activates too early."""
        for record in self._saved:
            added = self._added_at.get(record.kid)
            if added is None or record.state != "next":
                continue
            late = math.ceil(time.monotonic() - added)
            if late:
                record.created_at += late
                conn.execute(update(KEYS).where(KEYS.c.kid == record.kid).values(created_at=record.created_at))
                for listed in self.records:
                    if listed.kid == record.kid:
                        listed.created_at = record.created_at
