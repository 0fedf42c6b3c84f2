"""The running process's keys: loaded once, re-checked every ``KEYS_RELOAD_INTERVAL`` seconds.

Every server process (gunicorn workers, hosts sharing the keys volume) converges on a changed
keys directory within one reload interval, without a restart. Between checks a request costs one
monotonic-clock comparison: no file is read or even stat'ed on the hot path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask import current_app

from authserver.keys import lifecycle
from authserver.keys.keystore import MANIFEST
from authserver.keys.keystore import Keystore
from authserver.keys.keystore import KeystoreError
from authserver.settings import current_settings
from authserver.telemetry import emit

log = logging.getLogger("authserver.keys.keyring")


@dataclass(frozen=True)
class Loaded:
    keystore: Keystore
    #: When the published set next changes by schedule (bounds the JWKS max-age); None if never.
    next_change_at: int | None
    signature: tuple[int, int, int] | None


def _signature(keys_dir: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(keys_dir / MANIFEST)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class Keyring:
    """Holds the current :class:`Keystore` and swaps it when the manifest changes on disk."""

    def __init__(self, keys_dir: Path, policy: lifecycle.Policy) -> None:
        self.keys_dir = keys_dir
        self.policy = policy
        self._lock = threading.Lock()
        self.current = self._load()
        self._next_check = time.monotonic() + policy.reload_interval
        #: Why the last reload failed (the directory changed but does not load); None while healthy.
        #: ``/readyz`` fails and the ``key_reload_healthy`` gauge is 0 until a reload succeeds.
        self.reload_error: str | None = None
        self._failed_signature: tuple[int, int, int] | None = None

    def _load(self) -> Loaded:
        signature = _signature(self.keys_dir)
        keystore = Keystore.load(self.keys_dir, self.policy.passphrase)
        records = [k.record for k in keystore.keys]
        return Loaded(keystore, lifecycle.next_change_at(records, self.policy), signature)

    def maybe_reload(self) -> None:
        """Called per request: a clock comparison, and at most once per interval a ``stat``."""
        if time.monotonic() < self._next_check or not self._lock.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + self.policy.reload_interval
            signature = _signature(self.keys_dir)
            if signature == self.current.signature:
                self.reload_error = None  # the manifest is the one loaded again
                return
            try:
                self.current = self._load()
            except KeystoreError as exc:  # keep serving with the keys we have; say so where operators look
                self._reload_failed(signature, str(exc))
                return
            self.reload_error = None
            emit("key.reloaded", kid=self.current.keystore.signing.record.kid)
        finally:
            self._lock.release()

    def _reload_failed(self, signature: tuple[int, int, int] | None, reason: str) -> None:
        """Retried every interval; logged and counted once per failing manifest, not once per retry."""
        first = self.reload_error is None or signature != self._failed_signature
        self.reload_error, self._failed_signature = reason, signature
        if first:
            log.error(
                "keys directory changed but cannot be loaded; serving the last good keys, /readyz fails "
                "until a reload succeeds: %s",
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


def init_app(app: Flask) -> None:
    keys = current_settings(app).keys
    keyring = Keyring(Path(keys.keys_dir), lifecycle.Policy.from_settings(keys))
    app.extensions["authserver.keys.keyring"] = keyring
    app.before_request(keyring.maybe_reload)


def current_keyring() -> Keyring:
    return current_app.extensions["authserver.keys.keyring"]


def current_keystore() -> Keystore:
    return current_app.extensions["authserver.keys.keyring"].current.keystore
