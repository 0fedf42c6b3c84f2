"""Our Authlib ``AuthorizationServer``: form-only requests, our client authentication, our errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from flask import Flask
from flask import Response
from flask import request as flask_request
from werkzeug.datastructures import MultiDict

from authserver.errors import render_oauth_error

if TYPE_CHECKING:
    from authserver.oauth.clientcache import ClientInfo

ClientAuthenticator = Callable[[Mapping[str, str], Mapping[str, str]], "tuple[ClientInfo, str]"]


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

    def init_app(self, app: Flask, authenticate_client: ClientAuthenticator | None = None) -> None:  # type: ignore[override]
        """Bind the client authenticator (kept out of this module to avoid an import cycle)."""
        self.scopes_supported = None
        self._authenticate_client = authenticate_client

    def create_oauth2_request(self, request: Any) -> TokenRequest:
        return TokenRequest(flask_request)

    def authenticate_client(self, request: TokenRequest, methods: Any, endpoint: str = "token") -> ClientInfo:
        assert self._authenticate_client is not None, "authorization.init_app() was not called"
        client, method = self._authenticate_client(request.headers, request.form)
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
