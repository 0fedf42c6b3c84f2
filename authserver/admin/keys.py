"""Signing-key operations, one implementation for the CLI (``authserver keys ...``) and the admin API.

Each function runs one step of :mod:`authserver.keys.lifecycle` on the app's key store, with the
policy from the settings, at the app clock's now. They raise
:class:`~authserver.keys.keystore.KeystoreError` with a message for the operator when a step is refused
(or the key store is unusable); nothing is changed then.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from authserver.clock import now
from authserver.keys import keystore
from authserver.keys import lifecycle
from authserver.keys.keystore import KeyRecord
from authserver.settings import current_settings


def _context() -> tuple[Path, lifecycle.Policy]:
    keys = current_settings().keys
    return Path(keys.keys_dir), lifecycle.Policy.from_settings(keys)


def list_keys() -> list[dict[str, Any]]:
    """Every key: kid, alg, state, created/activated/retired times, and when it may activate or will be removed."""
    keys_dir, policy = _context()
    rows: list[dict[str, Any]] = []
    for record in keystore.read_manifest(keys_dir):
        row = asdict(record)
        row["activation_eligible_at"] = (
            lifecycle.activation_eligible_at(record, policy) if record.state == "next" else None
        )
        row["removal_due_at"] = lifecycle.removal_due_at(record, policy)
        rows.append(row)
    return rows


def generate(alg: str = "RS256", size: int = 2048, activate: bool = False) -> KeyRecord:
    """A new key in state ``next``; with ``activate``, the first key of an empty store, active at once."""
    keys_dir, policy = _context()
    policy = replace(policy, alg=alg, size=size)
    return (lifecycle.generate_first if activate else lifecycle.generate)(keys_dir, policy, now())


def activate(kid: str, force: bool = False) -> lifecycle.Actions:
    keys_dir, policy = _context()
    return lifecycle.activate(keys_dir, kid, policy, now(), force)


def retire(kid: str) -> lifecycle.Actions:
    keys_dir, policy = _context()
    return lifecycle.retire(keys_dir, kid, policy, now())


def prune() -> lifecycle.Actions:
    keys_dir, policy = _context()
    return lifecycle.prune(keys_dir, policy, now())


def rotate(if_due: bool = False) -> lifecycle.Actions:
    keys_dir, policy = _context()
    return lifecycle.rotate(keys_dir, policy, now(), if_due)


def revoke(kid: str) -> lifecycle.Actions:
    keys_dir, policy = _context()
    return lifecycle.revoke(keys_dir, kid, policy, now())
