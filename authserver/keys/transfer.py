"""Copying keys from one key store into another (``authserver keys import-directory``).

The keys keep their kids, states and times, so the lifecycle goes on where it was: a next key still
activates after its publish delay, a retired key is still removed when its tokens have expired. The copy
is one change of the target store (all or nothing, under its lock, proven to load), and idempotent: a key
the target already holds with the same record is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from authserver.keys.lifecycle import Policy
from authserver.keys.records import KeystoreError
from authserver.keys.storage import KeyStore


@dataclass
class Imported:
    """What an import did: the kids copied, and those the target already held as they are."""

    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def import_keys(source: KeyStore, target: KeyStore, policy: Policy) -> Imported:
    """Copy every key of ``source`` into ``target``; refused, with ``target`` unchanged, if the source does
    not load with the passphrase, if a key both hold differs, or if the result would not load (for
    instance, ``target`` already has another active key)."""
    keys = source.load(policy.passphrase).keys  # every key opens and the set is one a server would load
    result = Imported()
    with target.changing(policy.passphrase, policy.require_encryption) as change:
        held = {r.kid: r for r in change.records}
        incoming = {k.record.kid for k in keys}
        for other in change.records:
            if other.state == "active" and other.kid not in incoming:
                raise KeystoreError(
                    f"{target.describe()} already has an active key {other.kid} that {source.describe()} does "
                    "not hold; nothing was imported (import into an empty store, or revoke that key first)"
                )
        for loaded in keys:
            record = loaded.record
            mine = held.get(record.kid)
            if mine is None:
                change.put(loaded)
                result.imported.append(record.kid)
            elif mine == record:
                result.unchanged.append(record.kid)
            else:
                raise KeystoreError(
                    f"key {record.kid} differs: {mine.state} in {target.describe()}, {record.state} in "
                    f"{source.describe()} (or other times); nothing was imported"
                )
    return result
