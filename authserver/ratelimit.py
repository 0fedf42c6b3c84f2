"""Throttles for failed logins (RFC 6749 §4.3.2: the password grant MUST be protected against
brute force), after Keycloak's brute-force detection.

- **Per username**: ``BRUTE_FORCE_MAX_FAILURES`` failures within ``BRUTE_FORCE_WINDOW`` lock the
  username for ``BRUTE_FORCE_WAIT_INCREMENT`` x (lockouts so far), capped at
  ``BRUTE_FORCE_MAX_WAIT``; after ``BRUTE_FORCE_PERMANENT_AFTER`` lockouts (0 = never) the lock is
  permanent until ``authserver users unlock``. Unknown usernames are counted the same way, so a
  lockout tells nothing about whether the account exists.
- **Per client IP**: ``IP_MAX_FAILURES`` failures within ``IP_WINDOW`` → 429 (credential stuffing
  across many usernames).
- **Global ceiling**: ``GLOBAL_MAX_FAILURES`` failures per minute → 429 for every password attempt.

Only failures are counted, and the throttle is checked before the password is verified, so a
locked account costs no argon2 work. If the counter store fails, logins fail open: the error is
logged and counted (``authserver_throttle_store_failed_total``), never a 500.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from flask import current_app

from authserver.errors import TooManyRequestsError
from authserver.errors import render_oauth_error
from authserver.telemetry import emit
from authserver.throttlestore import Store
from authserver.throttlestore import StoreError
from authserver.throttlestore import make_store

log = logging.getLogger("authserver.ratelimit")


@dataclass(frozen=True)
class Verdict:
    """Why an attempt is refused before the password is checked; ``retry_after`` in seconds."""

    reason: str  # "locked" | "ip" | "global"
    retry_after: int | None  # None: permanent lock


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window: int
    wait_increment: int
    max_wait: int
    permanent_after: int
    ip_max_failures: int
    ip_window: int
    global_max_failures: int

    @classmethod
    def from_config(cls, config: dict) -> Limits:  # type: ignore[type-arg]
        return cls(config["BRUTE_FORCE_MAX_FAILURES"], config["BRUTE_FORCE_WINDOW"],
                   config["BRUTE_FORCE_WAIT_INCREMENT"], config["BRUTE_FORCE_MAX_WAIT"],
                   config["BRUTE_FORCE_PERMANENT_AFTER"], config["IP_MAX_FAILURES"], config["IP_WINDOW"],
                   config["GLOBAL_MAX_FAILURES"])


PERMANENT = 2**62


def _user_key(username: str) -> str:
    return "user:" + username.strip().lower()[:150]


class Throttle:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        #: ip/global ceilings already reached, until when: repeated attempts are refused without a store
        #: round trip, so a flood of refused attempts stays cheap for everyone else.
        self._denied: dict[str, tuple[int, Verdict]] = {}
        #: The username's failure count as this thread's last check read it.
        self._seen = threading.local()
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
        log.warning("throttle store failed during %s: failing open", operation)

    def check(self, username: str, ip: str, now: int) -> Verdict | None:
        """Refuse before any password work if a ceiling is reached or the username is locked.

        One store round trip reads the three counters; its answer also tells :meth:`success` whether
        there is anything to reset.
        """
        cached = self.denied(ip, now)
        if cached is not None:
            return cached
        minute, ip_window = now // 60, now // self.limits.ip_window
        global_key, ip_key, user_key = f"global:{minute}", f"ip:{ip}:{ip_window}", _user_key(username)
        try:
            state = self.store.snapshot([global_key, ip_key, user_key], now)
            self._seen.user_failures = state[user_key][0]
            if state[global_key][0] >= self.limits.global_max_failures:
                return self._remember("global", (minute + 1) * 60, Verdict("global", 60 - now % 60))
            if state[ip_key][0] >= self.limits.ip_max_failures:
                retry = self.limits.ip_window - now % self.limits.ip_window
                return self._remember("ip:" + ip, now + retry, Verdict("ip", retry))
            locked_until = state[user_key][1]
            if locked_until is not None:
                # Attempts on a locked name count against the IP too, so a flood turns into cheap 429s.
                self.store.incr(ip_key, now, 2 * self.limits.ip_window)
                return Verdict("locked", None if locked_until >= PERMANENT else locked_until - now)
        except StoreError as exc:
            self._store_failed(exc, "check")
        return None

    def failure(self, username: str, ip: str, now: int) -> int | None:
        """Count a failed login; returns the lock's wait in seconds if this failure locked the username."""
        try:
            key = _user_key(username)
            self.store.incr("global:" + str(now // 60), now, 120)
            self.store.incr(f"ip:{ip}:{now // self.limits.ip_window}", now, 2 * self.limits.ip_window)
            failures = self.store.incr(key, now, self.limits.window)
            if failures < self.limits.max_failures:
                return None
            lockouts = self.store.add_lockout(key, now)
            permanent = 0 < self.limits.permanent_after <= lockouts
            wait = min(self.limits.wait_increment * lockouts, self.limits.max_wait)
            self.store.lock(key, PERMANENT if permanent else now + wait, now)
            return PERMANENT if permanent else wait
        except StoreError as exc:
            self._store_failed(exc, "failure")
            return None

    def success(self, username: str, now: int) -> None:
        """A correct password resets the username's failure count (not its lockout history)."""
        if getattr(self._seen, "user_failures", None) == 0:
            return  # nothing to reset: no round trip on the common path
        try:
            self.store.reset_failures(_user_key(username), now)
        except StoreError as exc:
            self._store_failed(exc, "success")

    def unlock(self, username: str, now: int) -> None:
        """Operator action: clear failures, lock and lockout history. Store errors propagate here."""
        self.store.clear(_user_key(username), now)


TOKEN_PATH = "/oauth/token"
FORM = "application/x-www-form-urlencoded"


class RefuseDeniedAttempts:
    """WSGI middleware: a password attempt from an IP that this process already knows is over its
    failure ceiling (or while the global ceiling holds) gets its 429 before Flask, client
    authentication and any store round trip, so a one-IP flood of guesses costs the others little.

    Only the in-process cache of reached ceilings is read; the first refused attempt still goes the
    whole way (and fills it). Other grants from the same IP, refreshes included, pass untouched. The
    answer is the one the grant gives: ``429 temporarily_unavailable`` with ``Retry-After``.
    """

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.throttle: Throttle = app.extensions["authserver.throttle"]
        self.clock = app.extensions["authserver.clock"]
        self.max_bytes = app.config["MAX_REQUEST_BYTES"]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != TOKEN_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        ip = environ.get("REMOTE_ADDR") or "unknown"  # after ProxyFix: the same address the grant sees
        verdict = self.throttle.denied(ip, self.clock.now())
        form = self._password_form(environ) if verdict is not None else None
        if verdict is None or form is None:
            return self.wsgi_app(environ, start_response)
        username = (form.get("username") or [""])[0][:150]
        emit("login.throttled", reason=verdict.reason, username=username, ip=ip, client_id=None)
        error = TooManyRequestsError(f"{verdict.reason} failure ceiling (refused early)",
                                     retry_after=verdict.retry_after)
        return render_oauth_error(error)(environ, start_response)

    def _password_form(self, environ: dict[str, Any]) -> dict[str, list[str]] | None:
        """The form of a password-grant request, else ``None``; the body stays readable for the app."""
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != FORM:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= self.max_bytes:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        return form if form.get("grant_type") == ["password"] else None


def init_app(app: Flask) -> None:
    app.extensions["authserver.throttle"] = Throttle(make_store(app), Limits.from_config(app.config))
    # Inside ProxyFix (installed after this), so REMOTE_ADDR is already the client's address.
    app.wsgi_app = RefuseDeniedAttempts(app, app.wsgi_app)  # type: ignore[method-assign]


def current_throttle() -> Throttle:
    return current_app.extensions["authserver.throttle"]
