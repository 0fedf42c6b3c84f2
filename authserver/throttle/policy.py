"""Throttles for failed logins (RFC 6749 §4.3.2: the password grant MUST be protected against
brute force), after Keycloak's brute-force detection.

- **Per username**: ``BRUTE_FORCE_MAX_FAILURES`` failures within ``BRUTE_FORCE_WINDOW`` lock the
  username for ``BRUTE_FORCE_WAIT_INCREMENT`` x (lockouts so far), capped at
  ``BRUTE_FORCE_MAX_WAIT``; after ``BRUTE_FORCE_PERMANENT_AFTER`` lockouts (0 = never) the lock is
  permanent until ``authserver users unlock``. The key is the username's normal form
  (:mod:`authserver.usernames`), the same the login looks the user up by. Unknown usernames are
  counted the same way, so a lockout tells nothing about whether the account exists.
- **Per client IP**: ``IP_MAX_FAILURES`` failures within ``IP_WINDOW`` → 429 (credential stuffing
  across many usernames).
- **Global ceiling**: ``GLOBAL_MAX_FAILURES`` failures per minute → 429 for every password attempt.

Every attempt is counted against its username *before* its password is verified
(:meth:`Throttle.reserve`, one atomic store round trip that also reads the IP and global counts), and
a correct password then resets the count (one more round trip; the only one a login adds). So
parallel guesses, in any number of threads and processes, each take their own place in the count:
at most ``BRUTE_FORCE_MAX_FAILURES`` passwords are ever verified per username and window, and a
locked or over-counted username costs no argon2 work. The IP and global counters count failures,
after the verify.

Each counter is written on its own: a store error on one never keeps the others from counting. If
the store fails, the global and IP ceilings fail open (logged and counted as
``authserver_throttle_store_failed_total``, never a 500), but usernames are counted and locked in a
per-process :class:`Fallback` with the same limits (never permanent; ``users unlock`` does not reach
it; it lapses by itself), so a failing store never means unlimited guesses. An attempt that fails before
its password is judged (a 5xx: the database went away during the user lookup) gives its reservation back
(:meth:`Throttle.abandoned`): a client retrying a failed request is not counted into a lockout.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask
from flask import current_app

from authserver.settings import ThrottleLimits
from authserver.settings import current_settings
from authserver.store import stores_of
from authserver.store.throttle_counters import LOCKOUT_MEMORY
from authserver.store.throttle_counters import PERMANENT
from authserver.store.throttle_counters import Ceilings
from authserver.store.throttle_counters import Store
from authserver.store.throttle_counters import StoreError
from authserver.telemetry import emit
from authserver.usernames import normal_form

log = logging.getLogger("authserver.throttle.policy")


@dataclass(frozen=True)
class Verdict:
    """Why an attempt is refused before the password is checked; ``retry_after`` in seconds."""

    reason: str  # "locked" | "ip" | "global"
    retry_after: int | None  # None: permanent lock


def user_key(username: str) -> str:
    """The throttle key of a username: its normal form, as every lookup uses (the store bounds its length)."""
    return "user:" + normal_form(username)


@dataclass(frozen=True)
class Attempt:
    """One password attempt, from its reservation to its outcome (:meth:`Throttle.failure`/``success``)."""

    user_key: str
    ip: str
    now: int
    verdict: Verdict | None  # not None: refused before any password work
    user_failures: int = 0  # this attempt's place in the username's count; 0: nothing reserved
    local: bool = False  # reserved in the per-process fallback: the store had failed


@dataclass
class _Entry:
    failures: int = 0
    window_end: int = 0
    locked_until: int = 0
    lockouts: int = 0
    lockouts_reset_at: int = 0


class Fallback:
    """Username counts and locks of this process, for when the store fails: the same limits, never
    permanent. Locks taken here hold whether or not the store is back, until they lapse."""

    MAX_ENTRIES = 100_000

    def __init__(self, limits: ThrottleLimits) -> None:
        self.limits = limits
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def locked_until(self, key: str, now: int) -> int | None:
        if not self._entries:
            return None
        entry = self._entries.get(key)
        return entry.locked_until if entry is not None and entry.locked_until > now else None

    def reserve(self, key: str, now: int) -> int:
        """Add this attempt to the username's count; the count with it (0: locked, nothing reserved)."""
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._forget(now)
            entry = self._entries.setdefault(key, _Entry())
            if entry.locked_until > now:
                return 0
            if entry.window_end <= now:
                entry.failures, entry.window_end = 0, now + self.limits.window
            entry.failures += 1
            return entry.failures

    def lock(self, key: str, now: int) -> int:
        """Lock the username here; the wait in seconds."""
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            entry.lockouts = 1 if entry.lockouts_reset_at <= now else entry.lockouts + 1
            entry.lockouts_reset_at = now + LOCKOUT_MEMORY
            wait = min(self.limits.wait_increment * entry.lockouts, self.limits.max_wait)
            entry.locked_until, entry.failures = now + wait, 0
            return wait

    def release(self, key: str) -> None:
        """Take back one reservation (an attempt whose password was never judged)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.failures > 0:
                entry.failures -= 1

    def reset(self, key: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.failures = 0

    def clear(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _forget(self, now: int) -> None:
        """Make room: drop what has lapsed, then, if still full, every count that holds no lock."""
        self._entries = {
            k: e
            for k, e in self._entries.items()
            if e.window_end > now or e.locked_until > now or e.lockouts_reset_at > now
        }
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: e for k, e in self._entries.items() if e.locked_until > now}


class Throttle:
    def __init__(self, store: Store, limits: ThrottleLimits) -> None:
        self.store = store
        self.limits = limits
        self.fallback = Fallback(limits)
        #: ip/global ceilings already reached, until when: repeated attempts are refused without a store
        #: round trip, so a flood of refused attempts stays cheap for everyone else.
        self._denied: dict[str, tuple[int, Verdict]] = {}
        #: Mean duration of a failed login (verify plus counting), for answering locked attempts alike.
        self.failed_login_seconds: float | None = None

    def _remember(self, key: str, until: int, verdict: Verdict) -> Verdict:
        if len(self._denied) > 10_000:
            self._denied.clear()
        self._denied[key] = (until, verdict)
        return verdict

    def _denied_now(self, key: str, now: int) -> Verdict | None:
        entry = self._denied.get(key)
        if entry is None or entry[0] <= now:
            return None
        return Verdict(entry[1].reason, entry[0] - now)

    def denied(self, ip: str, now: int) -> Verdict | None:
        """The global or this IP's ceiling, if this process already saw it reached (no store round trip)."""
        if not self._denied:
            return None
        return self._denied_now("global", now) or self._denied_now("ip:" + ip, now)

    def record_failed_login(self, seconds: float) -> None:
        previous = self.failed_login_seconds
        self.failed_login_seconds = seconds if previous is None else 0.9 * previous + 0.1 * seconds

    def _store_failed(self, exc: Exception, operation: str) -> None:
        emit("throttle.store_failed", operation=operation, error=type(exc).__name__)
        log.warning(
            "throttle store failed during %s: failing open for the IP and global ceilings, "
            "counting usernames in this process",
            operation,
        )

    def _ip_key(self, ip: str, now: int) -> str:
        return f"ip:{ip}:{now // self.limits.ip_window}"

    def _count(self, key: str, now: int, ttl: int) -> None:
        """Count a failure on a global or IP counter; a store error fails open (this counter only)."""
        try:
            self.store.incr(key, now, ttl)
        except StoreError as exc:
            self._store_failed(exc, "failure")

    def _locked(self, attempt_ip: str, now: int, retry_after: int | None) -> Verdict:
        # Attempts on a locked name count against the IP too, so a flood turns into cheap 429s.
        self._count(self._ip_key(attempt_ip, now), now, 2 * self.limits.ip_window)
        return Verdict("locked", retry_after)

    def reserve(self, username: str, ip: str, now: int) -> Attempt:
        """Before any password work: refuse if a ceiling is reached or the username is locked, else count
        this attempt against the username now (a correct password undoes it, see :meth:`success`).

        One store round trip reads the IP and global counters and reserves the attempt, atomically:
        of any number of parallel attempts, at most ``BRUTE_FORCE_MAX_FAILURES`` get a place within the
        limit; the others are answered as locked.
        """
        key = user_key(username)
        cached = self.denied(ip, now)
        if cached is not None:
            return Attempt(key, ip, now, cached)
        local_lock = self.fallback.locked_until(key, now)
        if local_lock is not None:
            return Attempt(key, ip, now, self._locked(ip, now, local_lock - now))
        minute, ip_key = now // 60, self._ip_key(ip, now)
        try:
            state = self.store.reserve(
                Ceilings(
                    f"global:{minute}",
                    self.limits.global_max_failures,
                    ip_key,
                    self.limits.ip_max_failures,
                    key,
                    self.limits.window,
                ),
                now,
            )
        except StoreError as exc:
            self._store_failed(exc, "reserve")
            failures = self.fallback.reserve(key, now)
            if failures > self.limits.max_failures:
                return Attempt(key, ip, now, self._locked(ip, now, self.limits.wait_increment), local=True)
            return Attempt(key, ip, now, None, failures, local=True)
        if state.global_failures >= self.limits.global_max_failures:
            verdict = self._remember("global", (minute + 1) * 60, Verdict("global", 60 - now % 60))
            return Attempt(key, ip, now, verdict)
        if state.ip_failures >= self.limits.ip_max_failures:
            retry = self.limits.ip_window - now % self.limits.ip_window
            return Attempt(key, ip, now, self._remember("ip:" + ip, now + retry, Verdict("ip", retry)))
        if state.locked_until is not None:
            lock_wait = None if state.locked_until >= PERMANENT else state.locked_until - now
            return Attempt(key, ip, now, self._locked(ip, now, lock_wait))
        if state.user_failures > self.limits.max_failures:
            # As many attempts as the limit allows are already counted (in flight, or their lock not yet
            # written): answered as locked, and counted, so the count cannot lapse into a fresh start.
            return Attempt(key, ip, now, self._locked(ip, now, self.limits.wait_increment))
        return Attempt(key, ip, now, None, state.user_failures)

    def failure(self, attempt: Attempt) -> int | None:
        """Count a failed login (the username's count already holds it); the lock's wait in seconds if
        this failure locked the username. Each counter on its own: one failing never stops the others."""
        now = attempt.now
        self._count(f"global:{now // 60}", now, 120)
        self._count(self._ip_key(attempt.ip, now), now, 2 * self.limits.ip_window)
        if attempt.user_failures < self.limits.max_failures:
            return None
        if attempt.local:
            return self.fallback.lock(attempt.user_key, now)
        try:
            lockouts = self.store.add_lockout(attempt.user_key, now)
            permanent = 0 < self.limits.permanent_after <= lockouts
            wait = min(self.limits.wait_increment * lockouts, self.limits.max_wait)
            self.store.lock(attempt.user_key, PERMANENT if permanent else now + wait, now)
            return PERMANENT if permanent else wait
        except StoreError as exc:
            self._store_failed(exc, "lock")
            return self.fallback.lock(attempt.user_key, now)

    def success(self, attempt: Attempt) -> None:
        """A correct password resets the username's failure count, its own reservation included (not its
        lockout history): one store round trip."""
        if attempt.local:
            self.fallback.reset(attempt.user_key)
            return
        try:
            self.store.reset_failures(attempt.user_key, attempt.now)
        except StoreError as exc:
            self._store_failed(exc, "success")

    def abandoned(self, attempt: Attempt) -> None:
        """The attempt failed before its password was judged (a server error, e.g. the database went away
        during the user lookup): its reservation is taken back, so a client retrying a request that failed
        with a 5xx never counts itself into a lockout. Exactly undone in the fallback; in the store (which
        has no decrement) when it was the username's only reservation, by resetting the count to 0."""
        if attempt.verdict is not None or attempt.user_failures == 0:
            return
        if attempt.local:
            self.fallback.release(attempt.user_key)
            return
        if attempt.user_failures == 1:
            try:
                self.store.reset_failures(attempt.user_key, attempt.now)
            except StoreError as exc:
                self._store_failed(exc, "release")

    def unlock(self, username: str, now: int) -> None:
        """Operator action: clear failures, lock and lockout history. Store errors propagate here."""
        key = user_key(username)
        self.fallback.clear(key)  # this process's only (the CLI's): a server's fallback lock lapses by itself
        self.store.clear(key, now)


def init_app(app: Flask) -> None:
    app.extensions["authserver.throttle"] = Throttle(stores_of(app).throttle_counters, current_settings(app).throttle)


def current_throttle() -> Throttle:
    return current_app.extensions["authserver.throttle"]
