"""The request our grants and endpoints see: Authlib's Flask request, parameters from the form body only."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from werkzeug.datastructures import MultiDict

from authserver.store.clients import ClientInfo
from authserver.store.users import Login


class FormPayload(FlaskOAuth2Payload):
    """Parameters from the form body only: the query string is never honoured (RFC 6749 §3.2)."""

    @property
    def data(self) -> MultiDict[str, str]:
        return self._request.form


class TokenRequest(FlaskOAuth2Request):
    """Authlib's Flask request without its transport check: TLS is terminated in front of us.

    The grants fill in ``client`` (client authentication), ``user`` (a password login) and ``scope``.
    """

    client: ClientInfo | None
    user: Login | None
    auth_method: str | None

    def __init__(self, request: Any) -> None:
        self.method = request.method
        self.uri = request.path  # the full URL is costly to rebuild and only Authlib's transport check reads it
        self.headers = request.headers
        self._body = None
        self._request = request
        # The view parsed the form already; the grants read it several times: the object, not the proxy.
        self._form = request.form
        self.payload = FormPayload(request)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None

    @property
    def form(self) -> MultiDict[str, str]:
        return self._form


class QueryOrFormPayload(FlaskOAuth2Payload):
    """The authorization endpoint's parameters: the query of a ``GET``, the form body of a ``POST``
    (RFC 6749 §3.1, OpenID Connect Core §3.1.2.1), never both."""

    @property
    def data(self) -> MultiDict[str, str]:
        return self._request.form if self._request.method == "POST" else self._request.args


class AuthorizeRequest(FlaskOAuth2Request):
    """An authorization request (RFC 6749 §4.1.1), as the grant validated it.

    The grant fills in ``client``, ``scope``, ``prompts``, ``max_age`` and ``redirect_uri_sent`` (the
    ``redirect_uri`` parameter as sent, ``None`` when omitted); the view, ``user`` (the login session).
    """

    client: ClientInfo | None
    user: Any  # the login session the code is issued in
    prompts: frozenset[str]
    max_age: int | None
    redirect_uri_sent: str | None

    def __init__(self, request: Any) -> None:
        self.method = request.method
        self.uri = request.path
        self.headers = request.headers
        self._body = None
        self._request = request
        self.payload = QueryOrFormPayload(request)
        self.client = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self.prompts = frozenset()
        self.max_age = None
        self.redirect_uri_sent = None
