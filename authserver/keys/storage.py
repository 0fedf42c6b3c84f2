"""Where the signing keys are kept: the :class:`KeyStore` interface and its one way to change them.

Two implementations, chosen once at start-up by ``AUTHSERVER_KEYS_STORE``:
:class:`authserver.keys.keystore.DirectoryStore` (PEM files and ``manifest.json``, changes under an
``flock``; one host, or hosts sharing a volume) and :class:`authserver.store.signing_keys.DatabaseKeyStore`
(a ``signing_keys`` table, changes in one transaction under ``pg_advisory_xact_lock`` on PostgreSQL or
SQLite's write lock; any number of hosts sharing only the database).

Every change goes through :meth:`KeyStore.changing`, which gives the same guarantees on both: changes are
serialised (across hosts, for the database), the passphrase must open every existing key before anything
is written, an unencrypted key never joins encrypted ones (nor is written at all in production), and the
changed store must load as a server loads it, else nothing of the change remains.
:mod:`authserver.keys.lifecycle` is written against this interface only.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import AbstractContextManager
from typing import Protocol

from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from authserver.keys.keystore import Keystore
from authserver.keys.records import KeyRecord
from authserver.keys.records import LoadedKey
from authserver.keys.records import generate_private_key


class KeyChange(Protocol):
    """The records of a store while :meth:`KeyStore.changing` holds its lock; every write goes through here.

    ``records`` may be edited in place (states and times); :meth:`save` makes such edits part of the change."""

    records: list[KeyRecord]

    def add(self, key: RSAKey | ECKey, alg: str, state: str, now: int) -> KeyRecord:
        """Store ``key`` (PKCS#8, encrypted with the passphrase) and list it."""
        ...

    def put(self, loaded: LoadedKey) -> KeyRecord:
        """List a key exactly as recorded elsewhere (an import): its state and times are kept."""
        ...

    def save(self) -> None:
        """Record the edits made to ``records``."""
        ...

    def remove(self, kids: list[str]) -> None:
        """Unpublish ``kids``; their private keys are deleted once the change is proven to load."""
        ...


class KeyStore(Protocol):
    """The signing keys of every server process using this store."""

    def describe(self) -> str:
        """Where the keys are, for operators' messages (``the keys directory /keys``, ``the database``)."""
        ...

    def records(self) -> list[KeyRecord]:
        """Every key's record, as stored (no private key is opened)."""
        ...

    def load(self, passphrase: str | None) -> Keystore:
        """The keys as a server uses them; :class:`~authserver.keys.records.KeystoreError` if unusable."""
        ...

    def version(self) -> Hashable:
        """A cheap value that changes whenever the keys change (a ``stat``; one small query): the
        keyring compares it once per reload interval and loads only when it differs."""
        ...

    def changing(self, passphrase: str | None, require_encryption: bool = False) -> AbstractContextManager[KeyChange]:
        """Change the store all or nothing, serialised against every other change (see the module)."""
        ...


def ensure_development_key(store: KeyStore, now: int, passphrase: str | None = None) -> KeyRecord | None:
    """Create one active RS256 key if the store has none; safe when many workers start at once (the
    store's lock serialises them, and each finds the key the first one made)."""
    with store.changing(passphrase or None) as change:
        if change.records:
            return None
        return change.add(generate_private_key("RS256"), "RS256", "active", now)
