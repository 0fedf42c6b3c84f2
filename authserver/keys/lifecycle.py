"""The signing-key lifecycle: next → active → retired → removed, staged so no valid token fails.

A new key is published (state ``next``) before it signs: :func:`activate` refuses until it has been
in the JWKS for ``publish_delay`` = the JWKS cache lifetime plus the time every server process
needs to reload keys, so every cache that could hold an older set has expired. A retired key stays
published for ``retire_keep`` = the longest access-token lifetime plus leeway plus reload time,
so every token it signed expires first. Every operation runs in :meth:`KeyStore.changing
<authserver.keys.storage.KeyStore.changing>` of the key store given (the directory store's file lock, or
the database store's transaction under an advisory lock), so cron runs on several hosts at once are
serialised, and each step is idempotent. ``changing`` first proves the passphrase opens every existing
key, and after writing proves the store loads as a server loads it, else nothing of the change remains.
The same code runs on both stores; a :class:`~pathlib.Path` given as the store is a keys directory.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from authserver.keys.keystore import DirectoryStore
from authserver.keys.records import KeyRecord
from authserver.keys.records import KeystoreError
from authserver.keys.records import generate_private_key
from authserver.keys.storage import KeyChange
from authserver.keys.storage import KeyStore
from authserver.settings import KeySettings

LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Policy:
    """Timing of the lifecycle, in seconds."""

    jwks_max_age: int
    reload_interval: int
    token_lifetime: int
    rotation_period: int = 0  # 0: no schedule
    passphrase: str | None = None
    #: Production: never write an unencrypted key (the settings already require a passphrase there).
    require_encryption: bool = False
    alg: str = "RS256"
    size: int = 2048

    @classmethod
    def from_settings(cls, keys: KeySettings) -> Policy:
        return cls(
            jwks_max_age=keys.jwks_max_age,
            reload_interval=keys.reload_interval,
            token_lifetime=keys.token_lifetime,
            rotation_period=keys.rotation_period,
            passphrase=keys.passphrase or None,
            require_encryption=keys.require_encryption,
        )

    @property
    def publish_delay(self) -> int:
        return self.jwks_max_age + self.reload_interval

    @property
    def retire_keep(self) -> int:
        return self.token_lifetime + LEEWAY_SECONDS + self.reload_interval


@dataclass
class Actions:
    """What an operation did, for the CLI's output."""

    generated: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.generated or self.activated or self.retired or self.removed)


def activation_eligible_at(record: KeyRecord, policy: Policy) -> int:
    """``created_at`` is a whole second at or before the manifest listed the key; +1 covers the
    truncation, so the key has been published for at least the full publish delay."""
    return record.created_at + policy.publish_delay + 1


def removal_due_at(record: KeyRecord, policy: Policy) -> int | None:
    return None if record.retired_at is None else record.retired_at + policy.retire_keep


def revoke_propagation_bound(policy: Policy) -> int:
    """Seconds after :func:`revoke` until no verifier that honours the JWKS max-age accepts the key's
    tokens: every server process reloads keys, then every cached JWKS that still lists the key expires."""
    return policy.jwks_max_age + policy.reload_interval


def generation_due_at(records: list[KeyRecord], policy: Policy) -> int | None:
    """When the schedule wants the next key published, so it can sign at the end of the period."""
    active = [r for r in records if r.state == "active"]
    if policy.rotation_period <= 0 or not active or any(r.state == "next" for r in records):
        return None
    return (active[0].activated_at or active[0].created_at) + max(0, policy.rotation_period - policy.publish_delay)


def next_change_at(records: list[KeyRecord], policy: Policy) -> int | None:
    """The next moment the published set changes by schedule (a key generated or removed)."""
    moments = [m for m in (removal_due_at(r, policy) for r in records) if m is not None]
    due = generation_due_at(records, policy)
    if due is not None:
        moments.append(due)
    return min(moments) if moments else None


def _find(records: list[KeyRecord], kid: str) -> KeyRecord:
    for record in records:
        if record.kid == kid:
            return record
    raise KeystoreError(f"no key {kid!r}")


def store_of(where: KeyStore | Path) -> KeyStore:
    """``where`` itself, or the keys directory it names."""
    return DirectoryStore(where) if isinstance(where, Path) else where


def _changing(where: KeyStore | Path, policy: Policy) -> contextlib.AbstractContextManager[KeyChange]:
    return store_of(where).changing(policy.passphrase, policy.require_encryption)


def _generate(change: KeyChange, policy: Policy, now: int, started: float, state: str = "next") -> KeyRecord:
    """Generate and list a key. It is stamped with the moment the manifest lists it: ``now`` plus the
    time spent since ``started`` (lock wait, checking the existing keys, key generation), rounded up,
    so activation can never come before the key has really been published for the publish delay."""
    key = generate_private_key(policy.alg, policy.size)
    published = now + math.ceil(time.monotonic() - started)
    return change.add(key, policy.alg, state, published)


def generate(store: KeyStore | Path, policy: Policy, now: int) -> KeyRecord:
    started = time.monotonic()
    with _changing(store, policy) as change:
        return _generate(change, policy, now, started)


def generate_first(store: KeyStore | Path, policy: Policy, now: int) -> KeyRecord:
    """The first key of an empty store, active at once."""
    with _changing(store, policy) as change:
        if change.records:
            raise KeystoreError("--activate is only for the first key; use `keys activate` after the publish delay")
        return change.add(generate_private_key(policy.alg, policy.size), policy.alg, "active", now)


def _activate(records: list[KeyRecord], kid: str, policy: Policy, now: int, force: bool, actions: Actions) -> None:
    record = _find(records, kid)
    if record.state != "next":
        raise KeystoreError(f"key {kid} is {record.state}; only a next key can be activated")
    eligible = activation_eligible_at(record, policy)
    if now < eligible and not force:
        raise KeystoreError(
            f"key {kid} was published at {record.created_at}; resource services' caches may not "
            f"have it before {eligible} (in {eligible - now}s). Use --force to override."
        )
    for other in records:
        if other.state == "active":
            other.state, other.retired_at = "retired", now
            actions.retired.append(other.kid)
    record.state, record.activated_at = "active", now
    actions.activated.append(kid)


def activate(store: KeyStore | Path, kid: str, policy: Policy, now: int, force: bool = False) -> Actions:
    actions = Actions()
    with _changing(store, policy) as change:
        _activate(change.records, kid, policy, now, force, actions)
        change.save()
    return actions


def retire(store: KeyStore | Path, kid: str, policy: Policy, now: int) -> Actions:
    """Retire a next key that will not be used; the active key is retired by activating its successor."""
    with _changing(store, policy) as change:
        record = _find(change.records, kid)
        if record.state == "active":
            raise KeystoreError(f"key {kid} is active: activate its successor instead (which retires it)")
        if record.state == "next":
            record.state, record.retired_at = "retired", now
            change.save()
            return Actions(retired=[kid])
        return Actions()


def _prune(change: KeyChange, policy: Policy, now: int, actions: Actions) -> None:
    due = [r.kid for r in change.records if r.state == "retired" and (removal_due_at(r, policy) or now + 1) <= now]
    if due:
        actions.removed.extend(due)
        change.remove(due)


def prune(store: KeyStore | Path, policy: Policy, now: int) -> Actions:
    actions = Actions()
    with _changing(store, policy) as change:
        _prune(change, policy, now, actions)
    return actions


def rotate(store: KeyStore | Path, policy: Policy, now: int, if_due: bool = False) -> Actions:
    """One step of the schedule: ensure a next key, activate it once published long enough, prune.

    With ``if_due`` nothing happens before the rotation period says so, which makes it safe to run
    from cron on every host: the lock serialises the runs and each step is idempotent.
    """
    actions = Actions()
    started = time.monotonic()
    with _changing(store, policy) as change:
        active = next((r for r in change.records if r.state == "active"), None)
        pending = next((r for r in change.records if r.state == "next"), None)
        due = generation_due_at(change.records, policy)
        if pending is None and (not if_due or (due is not None and due <= now)):
            pending = _generate(change, policy, now, started)
            actions.generated.append(pending.kid)
        period_over = (
            active is None
            or policy.rotation_period <= 0
            or ((active.activated_at or active.created_at) + policy.rotation_period <= now)
        )
        if pending is not None and activation_eligible_at(pending, policy) <= now and (not if_due or period_over):
            _activate(change.records, pending.kid, policy, now, False, actions)
            change.save()
        _prune(change, policy, now, actions)
    return actions


def revoke(store: KeyStore | Path, kid: str, policy: Policy, now: int) -> Actions:
    """Emergency: unpublish and delete a compromised key at once. Tokens it signed stop verifying as
    soon as caches refresh. If it was the active key, a next key is promoted at once, or a new one
    generated and activated at once (resource services may fail until their caches refresh)."""
    actions = Actions(removed=[kid])
    with _changing(store, policy) as change:
        record = _find(change.records, kid)
        if record.state == "active":
            pending = next((r for r in change.records if r.state == "next"), None)
            if pending is None:
                pending = _generate(change, policy, now, time.monotonic())
                actions.generated.append(pending.kid)
            pending.state, pending.activated_at = "active", now
            actions.activated.append(pending.kid)
        change.remove([kid])  # unpublished first; the file is deleted once the directory is proven to load
    return actions


def key_metrics(records: list[KeyRecord], policy: Policy, now: int) -> dict[str, int | None]:
    """Hooks for export: the active key's age and the time until the next scheduled step."""
    active = next((r for r in records if r.state == "active"), None)
    moments = [m for m in (next_change_at(records, policy),) if m is not None]
    pending = next((r for r in records if r.state == "next"), None)
    if pending is not None and active is not None:
        period_end = (active.activated_at or active.created_at) + policy.rotation_period
        moments.append(max(activation_eligible_at(pending, policy), period_end if policy.rotation_period else 0))
    return {
        "active_key_age_seconds": None if active is None else now - (active.activated_at or active.created_at),
        "next_key_step_in_seconds": max(0, min(moments) - now) if moments else None,
    }
