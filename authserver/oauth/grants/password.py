"""The password grant (RFC 6749 §4.3), for first-party clients only (RFC 9700 §2.4)."""

from __future__ import annotations

import time

from authlib.oauth2.rfc6749 import grants
from flask import request as flask_request

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import TooManyRequestsError
from authserver.errors import UnauthorizedClientError
from authserver.http import JSON_HEADERS
from authserver.oauth import tokens
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.scope import requested_scope
from authserver.passwords.hasher import current_passwords
from authserver.store import current_stores
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


class PasswordGrant(TokenEndpointGrant, grants.ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 §4.3, for first-party clients only (RFC 9700 §2.4)."""

    login: Login  # the user whose password was verified, set by validate_token_request

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.first_party:
            raise UnauthorizedClientError(f"client {client.client_id} is not first-party")
        form = self.request.form
        username, password = form.get("username"), form.get("password")
        if not username or password is None:
            raise InvalidRequestError("missing username or password")
        self.request.scope = requested_scope(client, form.get("scope"))
        started = time.perf_counter()
        throttle, ip, now = current_throttle(), flask_request.remote_addr or "unknown", clock.now()
        audit = {"client_id": client.client_id, "username": username[:MAX_USERNAME_LENGTH], "ip": ip}
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
        user = self.authenticate_user(username, password)
        if user is None:
            emit("login.failed", **audit)
            wait = throttle.failure(attempt)
            throttle.record_failed_login(time.perf_counter() - started)
            if wait is not None:
                emit("user.locked", wait_seconds=wait, **audit)
            # RFC 6749 §5.2: bad resource-owner credentials are invalid_grant (Authlib says invalid_request).
            raise InvalidGrantError("bad username or password, or disabled user")
        throttle.success(attempt)
        self.request.user = self.login = user

    def authenticate_user(self, username: str, password: str) -> Login | None:
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

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client, user, scope = self.client, self.login, self.request.scope
        now = clock.now()
        # Every login starts a family: its id is the access token's sid, which logout and introspection
        # track. The refresh token is only handed out to clients allowed to use it.
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
            )
            .family_id
        )
        access, expires_in = tokens.sign_access_token(client=client, sub=user.id, scope=scope, sid=family_id, now=now)
        handed_out = refresh if client.allows_grant("refresh_token") else None
        emit("login.succeeded", client_id=client.client_id, user_id=user.id, family_id=family_id)
        return 200, tokens.token_response(access, expires_in, scope, handed_out), JSON_HEADERS
