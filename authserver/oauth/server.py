"""Our Authlib ``AuthorizationServer``, built per app: form-only requests, our client authentication, our errors,
and the grants and endpoints this server offers."""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from flask import Flask
from flask import Response
from flask import current_app
from flask import request as flask_request

from authserver.errors import render_oauth_error
from authserver.oauth import active_tokens
from authserver.oauth import client_auth
from authserver.oauth.grants.authorization_code import AuthorizationCodeGrant
from authserver.oauth.grants.authorization_code import S256CodeChallenge
from authserver.oauth.grants.client_credentials import ClientCredentialsGrant
from authserver.oauth.grants.password import PasswordGrant
from authserver.oauth.grants.refresh_token import RefreshTokenGrant
from authserver.oauth.introspection import IntrospectionEndpoint
from authserver.oauth.requests import AuthorizeRequest
from authserver.oauth.requests import TokenRequest
from authserver.oauth.revocation import RevocationEndpoint
from authserver.store.clients import ClientInfo

_EXTENSION = "authserver.authorization_server"
AUTHORIZE_PATH = "/oauth/authorize"


class AuthorizationServer(_FlaskAuthorizationServer):
    """Grant dispatch from Authlib; request parsing, client auth and error bodies are ours."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes_supported = None

    def create_oauth2_request(self, request: Any) -> TokenRequest | AuthorizeRequest:
        """The authorization endpoint's request (query or form), else a token-endpoint one (form only)."""
        if isinstance(request, AuthorizeRequest):
            return request
        if flask_request.path == AUTHORIZE_PATH:
            return AuthorizeRequest(flask_request)
        return TokenRequest(flask_request)

    def get_authorization_grant(self, request: Any) -> AuthorizationCodeGrant:
        """Our one grant at the authorization endpoint: it checks ``response_type`` itself, after the client
        and its redirect URI, so that an unsupported one is redirected only to a registered redirect URI."""
        ((grant_cls, extensions),) = self._authorization_grants
        grant = grant_cls(request, self)
        for extension in extensions:
            extension(grant)
        return grant

    def authenticate_client(self, request: TokenRequest, methods: Any, endpoint: str = "token") -> ClientInfo:
        client, method = client_auth.authenticate(request.headers, request.form)
        request.auth_method = method
        return client

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return Response(payload, status=status_code, headers=headers)

    def handle_error_response(self, request: Any, error: Any) -> Response:
        return render_oauth_error(error)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Events go through :mod:`authserver.telemetry`, not Authlib's signals."""


def make_authorization_server() -> AuthorizationServer:
    """An authorization server with our grants (RFC 6749 §4.1 with RFC 7636, §4.3, §6, §4.4) and endpoints
    (RFC 7009, RFC 7662)."""
    server = AuthorizationServer()
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge()])
    server.register_grant(PasswordGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    return server


def init_app(app: Flask) -> None:
    """Each app its own server: no process-wide state."""
    app.extensions[_EXTENSION] = make_authorization_server()
    active_tokens.init_app(app)


def current_authorization_server() -> AuthorizationServer:
    return current_app.extensions[_EXTENSION]
