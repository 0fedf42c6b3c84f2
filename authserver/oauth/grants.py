"""The token endpoint's grants: Authlib's grant classes with our hooks and policy.

Each grant talks to the database only through :mod:`authserver.oauth.storage`.
"""

from __future__ import annotations

import re

from authlib.oauth2.rfc6749 import grants

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import InvalidScopeError
from authserver.errors import UnauthorizedClientError
from authserver.extensions import db
from authserver.models import Client
from authserver.models import User
from authserver.oauth import storage
from authserver.oauth import tokens
from authserver.passwords import current_passwords
from authserver.telemetry import emit

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


class _Grant:
    """Policy shared by our grants: who may use the grant, and the authenticated client."""

    GRANT_TYPE: str
    request: object

    def authenticate_token_endpoint_client(self) -> Client:
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
        requested = parse_scope(form.get("scope"))
        allowed = client.scope_set()
        if requested is not None and not set(requested) <= allowed:
            raise InvalidScopeError("requested scope exceeds the client's scopes")
        self.request.scope = " ".join(requested) if requested is not None else " ".join(sorted(allowed))
        user = self.authenticate_user(username, password)
        if user is None:
            emit("login.failed", client_id=client.client_id, username=username[:150])
            # RFC 6749 §5.2: bad resource-owner credentials are invalid_grant (Authlib says invalid_request).
            raise InvalidGrantError("bad username or password, or disabled user")
        self.request.user = user

    def authenticate_user(self, username: str, password: str) -> User | None:
        user = storage.get_user_by_username(username) if len(username) <= 150 else None
        # One argon2 verify whatever the case, so timing does not tell unknown from wrong or disabled.
        ok = current_passwords().verify(user.password_hash if user else None, password)
        if not ok or user is None or user.disabled:
            return None
        return user

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client, user, scope = self.request.client, self.request.user, self.request.scope
        now = clock.now()
        refresh = new_token()
        grant = storage.start_family(token_hash=token_digest(refresh), client_id=client.client_id, user_id=user.id,
                                     scope=scope, now=now, expires_at=now + tokens.refresh_token_ttl(client))
        access, expires_in = tokens.sign_access_token(client=client, sub=user.id, scope=scope,
                                                      sid=grant.family_id, now=now)
        emit("login.succeeded", client_id=client.client_id, user_id=user.id, family_id=grant.family_id)
        return 200, tokens.token_response(access, expires_in, scope, refresh), JSON_HEADERS


class RefreshTokenGrant(_Grant, grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation always on: every refresh token is single-use."""

    def validate_token_request(self) -> None:
        self.authenticate_token_endpoint_client()
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("missing refresh_token")
        self.requested_scope = parse_scope(self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client = self.request.client
        presented = self.request.form["refresh_token"]
        requested = self.requested_scope
        now = clock.now()
        successor = new_token()
        grant = storage.rotate(token_hash=token_digest(presented), client_id=client.client_id,
                               new_hash=token_digest(successor), now=now, ttl=tokens.refresh_token_ttl(client))
        if grant is None:
            db.session.rollback()
            emit("refresh_token.rejected", client_id=client.client_id)
            raise InvalidGrantError("refresh token unknown, used, revoked, expired, or not this client's")
        granted = grant.scope.split()
        # RFC 6749 §6: the scope may narrow, never widen; the refresh token keeps the original scope.
        if requested is not None and not set(requested) <= set(granted):
            db.session.rollback()  # the presented token stays usable: the request was invalid, not a theft
            raise InvalidScopeError("requested scope exceeds the refresh token's scope")
        db.session.commit()
        scope = " ".join(requested) if requested is not None else grant.scope
        access, expires_in = tokens.sign_access_token(client=client, sub=grant.user_id, scope=scope,
                                                      sid=grant.family_id, now=now)
        emit("refresh_token.rotated", client_id=client.client_id, user_id=grant.user_id, family_id=grant.family_id)
        return 200, tokens.token_response(access, expires_in, scope, successor), JSON_HEADERS
