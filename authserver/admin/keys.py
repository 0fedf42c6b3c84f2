"""Signing-key operations, one implementation for the CLI (``authserver keys ...``) and the admin API.

Each function runs one step of :mod:`authserver.keys.lifecycle` on the app's key store (the one
``AUTHSERVER_KEYS_STORE`` selected at start-up: the keys directory or the database), with the policy from
the settings, at the app clock's now. They raise
:class:`~authserver.keys.keystore.KeystoreError` with a message for the operator when a step is refused
(or the key store is unusable); nothing is changed then.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from authserver.clock import now
from authserver.keys import lifecycle
from authserver.keys import transfer
from authserver.keys.keystore import DirectoryStore
from authserver.keys.records import KeyRecord
from authserver.keys.records import KeystoreError
from authserver.keys.storage import KeyStore
from authserver.settings import current_settings
from authserver.store import current_stores


def _context() -> tuple[KeyStore, lifecycle.Policy]:
    return current_stores().signing_keys, lifecycle.Policy.from_settings(current_settings().keys)


def list_keys() -> list[dict[str, Any]]:
    """Every key: kid, alg, state, created/activated/retired times, and when it may activate or will be removed."""
    store, policy = _context()
    rows: list[dict[str, Any]] = []
    for record in store.records():
        row = asdict(record)
        row["activation_eligible_at"] = (
            lifecycle.activation_eligible_at(record, policy) if record.state == "next" else None
        )
        row["removal_due_at"] = lifecycle.removal_due_at(record, policy)
        rows.append(row)
    return rows


def generate(alg: str = "RS256", size: int = 2048, activate: bool = False) -> KeyRecord:
    """A new key in state ``next``; with ``activate``, the first key of an empty store, active at once."""
    store, policy = _context()
    policy = replace(policy, alg=alg, size=size)
    return (lifecycle.generate_first if activate else lifecycle.generate)(store, policy, now())


def activate(kid: str, force: bool = False) -> lifecycle.Actions:
    store, policy = _context()
    return lifecycle.activate(store, kid, policy, now(), force)


def retire(kid: str) -> lifecycle.Actions:
    store, policy = _context()
    return lifecycle.retire(store, kid, policy, now())


def prune() -> lifecycle.Actions:
    store, policy = _context()
    return lifecycle.prune(store, policy, now())


def rotate(if_due: bool = False) -> lifecycle.Actions:
    store, policy = _context()
    return lifecycle.rotate(store, policy, now(), if_due)


def revoke(kid: str) -> lifecycle.Actions:
    store, policy = _context()
    return lifecycle.revoke(store, kid, policy, now())


def import_directory(directory: str | None = None) -> transfer.Imported:
    """Copy a keys directory's keys (states and times kept) into the database store; ``directory``
    defaults to ``AUTHSERVER_KEYS_DIR``. Idempotent, all or nothing (:func:`authserver.keys.transfer.import_keys`)."""
    store, policy = _context()
    keys = current_settings().keys
    if keys.store != "database":
        raise KeystoreError(
            "import-directory copies a keys directory into the database store: run it with "
            "AUTHSERVER_KEYS_STORE=database (and the servers' AUTHSERVER_KEYS_PASSPHRASE)"
        )
    return transfer.import_keys(DirectoryStore(Path(directory or keys.keys_dir)), store, policy)
