"""The password login both front doors share (RFC 6749 §4.3 at the token endpoint, ``POST /login``):
the throttle's reservation, one argon2 verify whatever the case, the lockout, the events, a new family.
"""

from __future__ import annotations

import time

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import TooManyRequestsError
from authserver.oauth import tokens
from authserver.oauth.issued import Issued
from authserver.oauth.issued import issue
from authserver.passwords.hasher import current_passwords
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.users import Login
from authserver.telemetry import emit
from authserver.throttle.policy import current_throttle
from authserver.usernames import MAX_LENGTH as MAX_USERNAME_LENGTH
from authserver.usernames import normal_form


def _wait_like_a_failed_login(mean_seconds: float | None, started: float) -> None:
    """Let a refused attempt take as long as a failed login does here (its verify and its counting)."""
    if mean_seconds is None:  # nothing measured yet in this process: do the work once instead
        current_passwords().verify(None, "")
        return
    time.sleep(max(0.0, mean_seconds - (time.perf_counter() - started)))


def verify_login(client: ClientInfo, username: str, password: str, ip: str, door: str) -> Login:
    """The user whose password this is, or ``invalid_grant`` (``429`` past a failure ceiling).

    Unknown user, wrong password, disabled or locked user: the same error after the same time.
    """
    started = time.perf_counter()
    throttle, now = current_throttle(), clock.now()
    audit = {"client_id": client.client_id, "username": username[:MAX_USERNAME_LENGTH], "ip": ip, "door": door}
    # Before any argon2 work: refused, or this attempt counted against the username from now on.
    attempt = throttle.reserve(username, ip, now)
    verdict = attempt.verdict
    if verdict is not None:
        emit("login.throttled", reason=verdict.reason, **audit)
        if verdict.reason != "locked":
            raise TooManyRequestsError(f"{verdict.reason} failure ceiling", retry_after=verdict.retry_after)
        # Locked: the same answer as a wrong password, after the same time, without the argon2 work.
        _wait_like_a_failed_login(throttle.failed_login_seconds, started)
        raise InvalidGrantError("username locked", retry_after=verdict.retry_after)
    try:
        user = _authenticate_user(username, password)
    except Exception:
        # Not judged (the database failed): a client's retry of this 5xx must not count towards a lockout.
        throttle.abandoned(attempt)
        raise
    if user is None:
        emit("login.failed", **audit)
        wait = throttle.failure(attempt)
        throttle.record_failed_login(time.perf_counter() - started)
        if wait is not None:
            emit("user.locked", wait_seconds=wait, **audit)
        # RFC 6749 §5.2: bad resource-owner credentials are invalid_grant (Authlib says invalid_request).
        raise InvalidGrantError("bad username or password, or disabled user")
    throttle.success(attempt)
    return user


def _authenticate_user(username: str, password: str) -> Login | None:
    users = current_stores().users
    normal = normal_form(username)  # the lookup is by the normal form; none is over MAX_USERNAME_LENGTH
    user = users.login(normal) if len(normal) <= MAX_USERNAME_LENGTH else None
    # One argon2 verify whatever the case, so timing does not tell unknown from wrong or disabled.
    passwords = current_passwords()
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        return None
    if passwords.needs_rehash(user.password_hash):  # parameters changed: upgrade transparently
        users.set_password_hash(user.id, passwords.hash(password))
    return user


def start_family(client: ClientInfo, user: Login, scope: str, door: str, *, session_id: str | None = None) -> Issued:
    """Every login starts a family: its id is the access token's ``sid``, which logout and introspection track.

    The refresh token is only handed out to clients allowed to use it. ``session_id``: the login session the
    family is issued under, if any.
    """
    now = clock.now()
    refresh = new_token()
    expires_at = now + min(tokens.refresh_token_ttl(client), tokens.refresh_token_max_lifetime(client))
    family_id = (
        current_stores()
        .refresh_tokens.start_family(
            token_hash=token_digest(refresh),
            client_id=client.client_id,
            user_id=user.id,
            scope=scope,
            now=now,
            expires_at=expires_at,
            session_id=session_id,
        )
        .family_id
    )
    handed_out = refresh if client.allows_grant("refresh_token") else None
    emit("login.succeeded", client_id=client.client_id, user_id=user.id, family_id=family_id, door=door)
    return issue(client, user.id, family_id, scope, handed_out, expires_at, now)
