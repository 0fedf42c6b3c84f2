"""The token endpoint's grants: Authlib's grant classes with our hooks and policy.

Each grant talks to the database only through :mod:`authserver.oauth.storage`.
"""

from __future__ import annotations

import re
import time

from authlib.oauth2.rfc6749 import grants
from flask import current_app
from flask import request as flask_request

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import InvalidScopeError
from authserver.errors import TooManyRequestsError
from authserver.errors import UnauthorizedClientError
from authserver.models import User
from authserver.oauth import families
from authserver.oauth import grace
from authserver.oauth import storage
from authserver.oauth import tokens
from authserver.oauth.clientcache import ClientInfo
from authserver.passwords.hasher import current_passwords
from authserver.telemetry import emit
from authserver.throttle.policy import current_throttle

#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
JSON_HEADERS = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def parse_scope(raw: str | None) -> list[str] | None:
    """Split a ``scope`` parameter into unique tokens in order; ``None`` when absent or empty."""
    if raw is None or raw.strip() == "":
        return None
    out: list[str] = []
    for item in raw.split(" "):
        if item == "":
            continue
        if not _SCOPE_TOKEN.match(item):
            raise InvalidScopeError(f"malformed scope token {item[:40]!r}")
        if item not in out:
            out.append(item)
    return out


def requested_scope(client: ClientInfo, raw: str | None) -> str:
    """The scope to grant: the requested one if within the client's scopes, else all of them (RFC 6749 §3.3)."""
    requested = parse_scope(raw)
    allowed = client.scope_set()
    if requested is None:
        return " ".join(sorted(allowed))
    if not set(requested) <= allowed:
        raise InvalidScopeError("requested scope exceeds the client's scopes")
    return " ".join(requested)


def _wait_like_a_failed_login(mean_seconds: float | None, started: float) -> None:
    """Let a refused attempt take as long as a failed login does here (its verify and its counting)."""
    if mean_seconds is None:  # nothing measured yet in this process: do the work once instead
        current_passwords().verify(None, "")
        return
    time.sleep(max(0.0, mean_seconds - (time.perf_counter() - started)))


class _Grant:
    """Policy shared by our grants: who may use the grant, and the authenticated client."""

    GRANT_TYPE: str
    request: object

    def authenticate_token_endpoint_client(self) -> ClientInfo:
        client = self.server.authenticate_client(self.request, [], "token")  # type: ignore[attr-defined]
        if not client.allows_grant(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"client {client.client_id} may not use {self.GRANT_TYPE}")
        self.request.client = client  # type: ignore[attr-defined]
        return client


class PasswordGrant(_Grant, grants.ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 §4.3, for first-party clients only (RFC 9700 §2.4)."""

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
        audit = {"client_id": client.client_id, "username": username[:150], "ip": ip}
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
        self.request.user = user

    def authenticate_user(self, username: str, password: str) -> User | None:
        user = storage.get_user_by_username(username)  # by its normal form; None if that is over 150 characters
        # One argon2 verify whatever the case, so timing does not tell unknown from wrong or disabled.
        passwords = current_passwords()
        ok = passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            return None
        if passwords.needs_rehash(user.password_hash):  # parameters changed: upgrade transparently
            storage.set_password_hash(user.id, passwords.hash(password))
        return user

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client, user, scope = self.request.client, self.request.user, self.request.scope
        now = clock.now()
        # Every login starts a family: its id is the access token's sid, which logout and introspection
        # track. The refresh token is only handed out to clients allowed to use it.
        refresh = new_token()
        expires_at = now + min(tokens.refresh_token_ttl(client), tokens.refresh_token_max_lifetime(client))
        family_id = storage.start_family(token_hash=token_digest(refresh), client_id=client.client_id,
                                         user_id=user.id, scope=scope, now=now, expires_at=expires_at).family_id
        access, expires_in = tokens.sign_access_token(client=client, sub=user.id, scope=scope, sid=family_id, now=now)
        if not client.allows_grant("refresh_token"):
            refresh = None
        emit("login.succeeded", client_id=client.client_id, user_id=user.id, family_id=family_id)
        return 200, tokens.token_response(access, expires_in, scope, refresh), JSON_HEADERS


class RefreshTokenGrant(_Grant, grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation always on: every refresh token is single-use (RFC 9700 §4.14.2).

    A used or revoked token presented again is reuse: the whole family is revoked. Within the
    optional grace window, the immediately preceding token replayed by the same client gets the
    same successor back instead (see docs/refresh-tokens.md).
    """

    def validate_token_request(self) -> None:
        self.authenticate_token_endpoint_client()
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("missing refresh_token")
        self.requested_scope = parse_scope(self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client = self.request.client
        presented = self.request.form["refresh_token"]
        digest = token_digest(presented)
        now = clock.now()
        grace_seconds = current_app.config["REFRESH_GRACE_SECONDS"]
        successor = new_token()
        # One atomic step: consumed only if valid for this client and covering the requested scope.
        grant = storage.rotate(token_hash=digest, client_id=client.client_id, new_hash=token_digest(successor),
                               now=now, ttl=tokens.refresh_token_ttl(client),
                               max_lifetime=tokens.refresh_token_max_lifetime(client),
                               sealed=grace.seal(successor, presented) if grace_seconds else None,
                               grace_seconds=grace_seconds,
                               required_scopes=self.requested_scope)
        if grant is None:
            return self._replayed(client, presented, now, grace_seconds)
        scope = " ".join(self.requested_scope) if self.requested_scope else grant.scope
        emit("refresh_token.rotated", client_id=client.client_id, user_id=grant.user_id, family_id=grant.family_id)
        return self._respond(client, grant.user_id, grant.family_id, scope, successor, now)

    def _narrowed_scope(self, granted: str) -> str:
        """RFC 6749 §6: the scope may narrow, never widen; the refresh token keeps the original scope."""
        requested = self.requested_scope
        if requested is None:
            return granted
        if not storage.scope_covers(granted, requested):
            raise InvalidScopeError("requested scope exceeds the refresh token's scope")
        return " ".join(requested)

    def _respond(self, client: ClientInfo, user_id: str, family_id: str, scope: str, refresh: str,
                 now: int) -> tuple[int, str, list[tuple[str, str]]]:
        access, expires_in = tokens.sign_access_token(client=client, sub=user_id, scope=scope, sid=family_id, now=now)
        return 200, tokens.token_response(access, expires_in, scope, refresh), JSON_HEADERS

    def _replayed(self, client: ClientInfo, presented: str, now: int,
                  grace_seconds: int) -> tuple[int, str, list[tuple[str, str]]]:
        """The token could not be consumed: a grace replay, reuse, or simply invalid."""
        state = storage.lookup(token_digest(presented))
        unused = state is not None and state.used_at is None and state.revoked_at is None
        if unused and state.client_id == client.client_id and state.expires_at > now:
            # Valid but not consumed: a requested scope it does not cover. The token stays usable.
            self._narrowed_scope(state.scope)
        if state is None or (state.used_at is None and state.revoked_at is None):
            # Unknown, expired, another client's, or its user disabled: invalid, but not a replay.
            emit("refresh_token.rejected", client_id=client.client_id)
            raise InvalidGrantError("refresh token unknown, expired, not this client's, or user disabled")
        if (grace_seconds and state.revoked_at is None and state.used_at is not None
                and state.client_id == client.client_id and now - state.used_at <= grace_seconds
                and state.successor_sealed is not None and storage.successor_is_live(state.id, now)):
            successor = grace.unseal(state.successor_sealed, presented)  # only the parent token opens it
            if successor is not None:
                scope = self._narrowed_scope(state.scope)
                emit("refresh_token.replayed", client_id=client.client_id, user_id=state.user_id,
                     family_id=state.family_id)
                return self._respond(client, state.user_id, state.family_id, scope, successor, now)
        families.run_with_retry(lambda: families.revoke_family(state.family_id, now))
        emit("refresh_token.reused", client_id=client.client_id, user_id=state.user_id, family_id=state.family_id)
        raise InvalidGrantError("refresh token reuse: family revoked")


class ClientCredentialsGrant(_Grant, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4 for confidential service clients: an access token with ``sub`` = the client, no refresh."""

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if client.is_public:
            raise UnauthorizedClientError("client_credentials needs a confidential client")
        self.request.scope = requested_scope(client, self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client, scope = self.request.client, self.request.scope
        access, expires_in = tokens.sign_access_token(client=client, sub=client.client_id, scope=scope, sid=None,
                                                      now=clock.now())
        return 200, tokens.token_response(access, expires_in, scope, None), JSON_HEADERS
