"""The client_credentials grant (RFC 6749 §4.4), for confidential service clients."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants

from authserver import clock
from authserver.errors import UnauthorizedClientError
from authserver.http import JSON_HEADERS
from authserver.oauth import tokens
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.scope import requested_scope


class ClientCredentialsGrant(TokenEndpointGrant, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4 for confidential service clients: an access token with ``sub`` = the client, no refresh."""

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if client.is_public:
            raise UnauthorizedClientError("client_credentials needs a confidential client")
        self.request.scope = requested_scope(client, self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        client, scope = self.client, self.request.scope
        access, expires_in = tokens.sign_access_token(
            client=client, sub=client.client_id, scope=scope, sid=None, now=clock.now()
        )
        return 200, tokens.token_response(access, expires_in, scope, None), JSON_HEADERS
