"""The authorization code grant (RFC 6749 §4.1) with PKCE S256 required for every client (RFC 7636, RFC 9700
§2.1.1), on Authlib's ``AuthorizationCodeGrant`` and ``CodeChallenge`` with our policy where theirs is weak:

* Authlib accepts ``plain`` and a missing challenge; we refuse both, for confidential clients too (OAuth 2.1).
* The redirect URI is one registered exactly (:mod:`authserver.oauth.redirect_uris`); an unknown client or a
  redirect URI that does not match is never redirected to (RFC 6749 §4.1.2.1): those errors carry no
  ``redirect_uri`` and the view shows them as a page. Every later error carries it and is redirected.
* Every parameter at most once (RFC 6749 §3.1); a scope outside the client's is ``invalid_scope``.

At the token endpoint the code is looked up by digest, its binding checked (client, redirect URI, then the
verifier in Authlib's ``CodeChallenge`` hook), and redeemed atomically (:mod:`authserver.oauth.codes`).
"""

from __future__ import annotations

import hmac
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from authserver import clock
from authserver.errors import InvalidClientError
from authserver.errors import InvalidGrantError
from authserver.errors import InvalidRequestError
from authserver.errors import UnauthorizedClientError
from authserver.errors import UnsupportedResponseTypeError
from authserver.http import JSON_HEADERS
from authserver.oauth import codes
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.issued import TOKEN_ENDPOINT
from authserver.oauth.redirect_uris import resolve
from authserver.oauth.requests import AuthorizeRequest
from authserver.oauth.scope import requested_scope
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.login_sessions import LoginSessionInfo

#: The OpenID Connect ``prompt`` values we honour (Core §3.1.2.1).
PROMPTS = frozenset({"none", "login", "consent"})
MAX_PARAMETER_CHARS = 4096
MAX_NONCE_CHARS = 512  # the column's width


def _s256_matches(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier).encode(), challenge.encode())


class S256CodeChallenge(CodeChallenge):
    """Authlib's PKCE extension with S256 only, and a challenge required at the authorization endpoint."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": _s256_matches}

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("missing code_challenge: PKCE (S256) is required for every client")
        # RFC 7636 §4.3: no method means plain, which we refuse like an explicit one.
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge_method(self, authorization_code: Any) -> str:
        return "S256"


class AuthorizationCodeGrant(TokenEndpointGrant, grants.AuthorizationCodeGrant):
    """RFC 6749 §4.1 with PKCE S256; the login and consent in between are the view's."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    request: Any  # an AuthorizeRequest at the authorization endpoint, a TokenRequest at the token endpoint

    # ---------------------------------------------------------------- the authorization endpoint

    @staticmethod
    def validate_no_multiple_request_parameter(request: Any) -> None:
        """Checked in :meth:`validate_authorization_request`, after the client and its redirect URI."""

    def validate_authorization_request(self) -> str:
        request: AuthorizeRequest = self.request
        client = self._client_of(request)
        redirect_uri = self._redirect_uri_of(request, client)
        request.client = client
        try:
            self._validate_payload(request, client)
            self.execute_hook("after_validate_authorization_request_payload", redirect_uri)
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        self.redirect_uri = redirect_uri
        return redirect_uri

    @staticmethod
    def _client_of(request: AuthorizeRequest) -> ClientInfo:
        ids = request.payload.datalist.get("client_id", [])
        if len(ids) != 1 or not ids[0] or len(ids[0]) > 64:
            raise InvalidClientError("missing, repeated or overlong client_id at the authorization endpoint")
        client = current_stores().clients.get(ids[0])
        if client is None:
            raise InvalidClientError(f"unknown client {ids[0][:64]!r} at the authorization endpoint")
        return client

    @staticmethod
    def _redirect_uri_of(request: AuthorizeRequest, client: ClientInfo) -> str:
        presented = request.payload.datalist.get("redirect_uri", [])
        if len(presented) > 1:
            raise InvalidRequestError("repeated redirect_uri")
        redirect_uri = resolve(client.redirect_uris, presented[0] if presented else None)
        if redirect_uri is None:
            raise InvalidRequestError(f"redirect_uri does not match one registered by {client.client_id}")
        request.redirect_uri_sent = presented[0] if presented else None
        return redirect_uri

    @staticmethod
    def _validate_payload(request: AuthorizeRequest, client: ClientInfo) -> None:
        for name, values in request.payload.datalist.items():
            if len(values) > 1:
                raise InvalidRequestError(f"parameter {name[:40]!r} repeated")  # RFC 6749 §3.1
            if "\x00" in name or "\x00" in values[0] or len(values[0]) > MAX_PARAMETER_CHARS:
                raise InvalidRequestError(f"parameter {name[:40]!r} malformed or too long")
        data = request.payload.data
        response_type = data.get("response_type")
        if not response_type:
            raise InvalidRequestError("missing response_type")
        if response_type != "code":
            raise UnsupportedResponseTypeError(f"response_type {response_type[:40]!r}")
        if data.get("response_mode", "query") != "query":
            raise InvalidRequestError("response_mode other than query")
        if not client.allows_grant("authorization_code"):
            raise UnauthorizedClientError(f"client {client.client_id} may not use authorization_code")
        request.scope = requested_scope(client, data.get("scope"))
        prompts = set((data.get("prompt") or "").split())
        if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise InvalidRequestError("prompt is none alone, or any of login and consent")
        request.prompts = frozenset(prompts)
        max_age = data.get("max_age")
        if max_age is not None and not (max_age.isdigit() and len(max_age) <= 9):
            raise InvalidRequestError("max_age is a number of seconds")
        request.max_age = None if max_age is None else int(max_age)
        nonce = data.get("nonce")
        if nonce is not None and len(nonce) > MAX_NONCE_CHARS:
            raise InvalidRequestError("nonce too long")
        for unsupported in ("request", "request_uri"):
            if unsupported in data:
                raise InvalidRequestError(f"{unsupported} (request objects) is not supported")

    def create_authorization_response(self, redirect_uri: str, grant_user: LoginSessionInfo) -> tuple[int, str, list]:
        """RFC 6749 §4.1.2 and RFC 9207: ``code``, ``state`` and ``iss`` on the redirect URI."""
        request: AuthorizeRequest = self.request
        request.user = grant_user
        assert request.client is not None
        code = codes.issue_code(
            client=request.client,
            session=grant_user,
            redirect_uri_sent=request.redirect_uri_sent,
            code_challenge=request.payload.data["code_challenge"],
            scope=request.scope,
            nonce=request.payload.data.get("nonce"),
            now=clock.now(),
        )
        location = codes.redirect_location(redirect_uri, {"code": code, "state": request.payload.state})
        return 302, "", [("Location", location)]

    # ---------------------------------------------------------------- the token endpoint

    def validate_token_request(self) -> None:
        """Authlib's checks in our order; a failed check of a live code uses it up (one attempt per code)."""
        try:
            self._validate_token_request()
        except OAuth2Error:
            code = self.request.authorization_code
            if code is not None:
                codes.use_up(self.client, self.request.form["code"])
            raise

    @hooked(after="after_validate_token_request")
    def _validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        form = self.request.form
        presented = form.get("code")
        if not presented:
            raise InvalidRequestError("missing code")
        state = codes.find(client, presented, TOKEN_ENDPOINT)
        if state.redirect_uri is not None and form.get("redirect_uri") != state.redirect_uri:
            self.request.authorization_code = state
            raise InvalidGrantError("redirect_uri differs from the authorization request's")
        # From here Authlib's CodeChallenge hook checks code_verifier against the code's challenge.
        self.request.authorization_code = state

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        issued = codes.redeem(self.client, self.request.form["code"], TOKEN_ENDPOINT)
        return 200, issued.token_response(), JSON_HEADERS
