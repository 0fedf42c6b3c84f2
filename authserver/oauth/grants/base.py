"""The policy every grant of ours shares: the authenticated client, and whether it may use the grant."""

from __future__ import annotations

from authserver.errors import UnauthorizedClientError
from authserver.oauth import client_auth
from authserver.oauth.requests import TokenRequest
from authserver.store.clients import ClientInfo


class TokenEndpointGrant:
    """Policy shared by our grants: who may use the grant, and the authenticated client."""

    GRANT_TYPE: str
    request: TokenRequest

    @property
    def client(self) -> ClientInfo:
        """The client :meth:`authenticate_token_endpoint_client` authenticated (every grant does so first)."""
        client = self.request.client
        if client is None:
            raise RuntimeError("a token is issued only after client authentication")
        return client

    def authenticate_token_endpoint_client(self) -> ClientInfo:
        request = self.request
        client, method = client_auth.authenticate(request.headers, request.form)
        request.auth_method = method
        if not client.allows_grant(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"client {client.client_id} may not use {self.GRANT_TYPE}")
        request.client = client
        return client
