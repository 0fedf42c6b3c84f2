"""The running process's keys: loaded once, re-checked every ``KEYS_RELOAD_INTERVAL`` seconds.

Every server process (workers, hosts sharing the keys volume or the database) converges on a changed
key store within one reload interval, without a restart. Between checks a request costs one
monotonic-clock comparison; once per interval the store's :meth:`~authserver.keys.storage.KeyStore.version`
is compared (a ``stat`` of the manifest, or one query of the key set's revision: no file access for the
database store), and the keys are loaded only when it changed. A reload that fails keeps the last good keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass

from flask import Flask
from flask import current_app

from authserver.keys import lifecycle
from authserver.keys.keystore import Keystore
from authserver.keys.records import KeystoreError
from authserver.keys.storage import KeyStore
from authserver.settings import current_settings
from authserver.telemetry import emit

log = logging.getLogger("authserver.keys.keyring")


@dataclass(frozen=True)
class Loaded:
    keystore: Keystore
    #: When the published set next changes by schedule (bounds the JWKS max-age); None if never.
    next_change_at: int | None
    signature: Hashable


class Keyring:
    """Holds the current :class:`Keystore` and swaps it when the key store changes."""

    def __init__(self, store: KeyStore, policy: lifecycle.Policy) -> None:
        self.store = store
        self.policy = policy
        self._lock = threading.Lock()
        self.current = self._load(store.version())
        self._next_check = time.monotonic() + policy.reload_interval
        #: Why the last reload failed (the store changed but does not load, or cannot be read); None while healthy.
        #: ``/readyz`` fails and the ``key_reload_healthy`` gauge is 0 until a reload succeeds.
        self.reload_error: str | None = None
        self._failed_signature: Hashable = None

    def _load(self, signature: Hashable) -> Loaded:
        """The keys now, labelled with ``signature`` read before them (a change in between loads again next time)."""
        keystore = self.store.load(self.policy.passphrase)
        records = [k.record for k in keystore.keys]
        return Loaded(keystore, lifecycle.next_change_at(records, self.policy), signature)

    def maybe_reload(self) -> None:
        """Called per request: a clock comparison, and at most once per interval the store's version."""
        if time.monotonic() < self._next_check or not self._lock.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + self.policy.reload_interval
            try:
                signature = self.store.version()
            except KeystoreError as exc:  # the database did not answer: keep the keys, retry next interval
                self._reload_failed(("unreadable", str(exc)), str(exc))
                return
            if signature == self.current.signature:
                self.reload_error = None  # the manifest is the one loaded again
                return
            try:
                self.current = self._load(signature)
            except KeystoreError as exc:  # keep serving with the keys we have; say so where operators look
                self._reload_failed(signature, str(exc))
                return
            self.reload_error = None
            emit("key.reloaded", kid=self.current.keystore.signing.record.kid)
        finally:
            self._lock.release()

    def _reload_failed(self, signature: Hashable, reason: str) -> None:
        """Retried every interval; logged and counted once per failing manifest, not once per retry."""
        first = self.reload_error is None or signature != self._failed_signature
        self.reload_error, self._failed_signature = reason, signature
        if first:
            log.error(
                "%s changed but cannot be loaded; serving the last good keys, /readyz fails "
                "until a reload succeeds: %s",
                self.store.describe(),
                reason,
            )
            emit("key.reload_failed", kid=self.current.keystore.signing.record.kid, reason=reason)

    def jwks_max_age(self, now: int) -> int:
        change = self.current.next_change_at
        if change is None:
            return self.policy.jwks_max_age
        floor = min(self.policy.jwks_max_age, self.policy.reload_interval)
        return max(floor, min(self.policy.jwks_max_age, change - now))

    def metrics(self, now: int) -> dict[str, int | None]:
        gauges = lifecycle.key_metrics([k.record for k in self.current.keystore.keys], self.policy, now)
        return {**gauges, "key_reload_healthy": int(self.reload_error is None)}


def init_app(app: Flask, store: KeyStore) -> None:
    """Load the keys of ``store`` (the app's key store, chosen at start-up) and re-check them per interval."""
    keys = current_settings(app).keys
    keyring = Keyring(store, lifecycle.Policy.from_settings(keys))
    app.extensions["authserver.keys.keyring"] = keyring
    app.before_request(keyring.maybe_reload)


def current_keyring() -> Keyring:
    return current_app.extensions["authserver.keys.keyring"]


def current_keystore() -> Keystore:
    return current_app.extensions["authserver.keys.keyring"].current.keystore
