"""Revocation (RFC 7009), the log out: Authlib's endpoint with our token model.

Revoking a refresh token revokes its whole family; revoking an access token remembers its jti.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from authserver import clock
from authserver.digests import token_digest
from authserver.http import JSON_HEADERS
from authserver.oauth.issued import REVOCATION_ENDPOINT
from authserver.oauth.presented import FoundToken
from authserver.oauth.presented import find_token
from authserver.oauth.presented import token_param
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009: the log out. Revoking a refresh token revokes its family; an access token, its jti."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def create_endpoint_response(self, request: Any) -> tuple[int, str, list[tuple[str, str]]]:
        client = self.authenticate_endpoint_client(request)
        now = clock.now()
        found = find_token(token_param(request), request.form.get("token_type_hint"), now)
        # RFC 7009 §2.2: unknown or already revoked tokens answer 200. Another client's token is left
        # alone and answered the same way, so the endpoint is no oracle for other clients' tokens.
        if found is not None and found.client_id == client.client_id:
            revoke(found, client.client_id, now, REVOCATION_ENDPOINT)
        return 200, "{}", JSON_HEADERS


def revoke(found: FoundToken, client_id: str, now: int, door: str) -> None:
    """Revoke a client's own token: a refresh token's whole family, or an access token's jti."""
    # Committed here, retried on deadlock; any other database failure raises: a 5xx, never a false success.
    run_with_retry(lambda: _revoke(found, client_id, now))
    emit("token.revoked", client_id=client_id, kind=found.kind, door=door)


def end_family(client: ClientInfo, refresh_token: str, door: str) -> None:
    """Log out with a refresh token: its family ends if it is this client's; any other token changes nothing."""
    now = clock.now()
    state = current_stores().refresh_tokens.lookup(token_digest(refresh_token), now)
    if state is not None and state.client_id == client.client_id:
        revoke(FoundToken("refresh_token", state.client_id, refresh=state), client.client_id, now, door)


def _revoke(found: FoundToken, client_id: str, now: int) -> None:
    stores = current_stores()
    if found.refresh is not None:
        stores.refresh_tokens.revoke_family(found.refresh.family_id, now)
    elif found.claims is not None:
        stores.revoked_jtis.revoke(found.claims["jti"], client_id, found.claims["exp"], now)
