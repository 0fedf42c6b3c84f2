"""The password grant (RFC 6749 §4.3), for first-party clients only (RFC 9700 §2.4)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from flask import request as flask_request

from authserver.errors import InvalidRequestError
from authserver.errors import UnauthorizedClientError
from authserver.http import JSON_HEADERS
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.issued import TOKEN_ENDPOINT
from authserver.oauth.login import start_family
from authserver.oauth.login import verify_login
from authserver.oauth.scope import requested_scope
from authserver.store.users import Login


class PasswordGrant(TokenEndpointGrant, grants.ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 §4.3, first-party clients only (RFC 9700 §2.4); the login is :mod:`authserver.oauth.login`."""

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
        ip = flask_request.remote_addr or "unknown"
        self.request.user = self.login = verify_login(client, username, password, ip, TOKEN_ENDPOINT)

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        issued = start_family(self.client, self.login, self.request.scope, TOKEN_ENDPOINT)
        return 200, issued.token_response(), JSON_HEADERS
