"""Our Authlib ``AuthorizationServer``, built per app: form-only requests, our client authentication, our errors,
and the grants and endpoints this server offers."""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from flask import Flask
from flask import Response
from flask import current_app
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

from authserver.errors import render_oauth_error
from authserver.oauth import client_auth
from authserver.oauth.grants.client_credentials import ClientCredentialsGrant
from authserver.oauth.grants.password import PasswordGrant
from authserver.oauth.grants.refresh_token import RefreshTokenGrant
from authserver.oauth.introspection import IntrospectionEndpoint
from authserver.oauth.revocation import RevocationEndpoint
from authserver.store.clients import ClientInfo

_EXTENSION = "authserver.authorization_server"


class FormPayload(FlaskOAuth2Payload):
    """Parameters from the form body only: the query string is never honoured (RFC 6749 §3.2)."""

    @property
    def data(self) -> MultiDict[str, str]:
        return self._request.form


class TokenRequest(FlaskOAuth2Request):
    """Authlib's Flask request without its transport check: TLS is terminated in front of us."""

    def __init__(self, request: Any) -> None:
        self.method = request.method
        self.uri = request.path  # the full URL is costly to rebuild and only Authlib's transport check reads it
        self.headers = request.headers
        self._body = None
        self._request = request
        self.payload = FormPayload(request)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None


class AuthorizationServer(_FlaskAuthorizationServer):
    """Grant dispatch from Authlib; request parsing, client auth and error bodies are ours."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes_supported = None

    def create_oauth2_request(self, request: Any) -> TokenRequest:
        return TokenRequest(flask_request)

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
    """An authorization server with our grants (RFC 6749 §4.3, §6, §4.4) and endpoints (RFC 7009, RFC 7662)."""
    server = AuthorizationServer()
    server.register_grant(PasswordGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    return server


def init_app(app: Flask) -> None:
    """Each app its own server: no process-wide state."""
    app.extensions[_EXTENSION] = make_authorization_server()


def current_authorization_server() -> AuthorizationServer:
    return current_app.extensions[_EXTENSION]
