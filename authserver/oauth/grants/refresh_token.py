"""The refresh_token grant (RFC 6749 §6): the token endpoint's wire format over :mod:`authserver.oauth.refresh`."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants

from authserver.errors import InvalidRequestError
from authserver.http import JSON_HEADERS
from authserver.oauth import refresh
from authserver.oauth.grants.base import TokenEndpointGrant
from authserver.oauth.issued import TOKEN_ENDPOINT
from authserver.oauth.scope import parse_scope


class RefreshTokenGrant(TokenEndpointGrant, grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation always on, reuse detection and the grace window (:mod:`authserver.oauth.refresh`)."""

    def validate_token_request(self) -> None:
        self.authenticate_token_endpoint_client()
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("missing refresh_token")
        self.requested_scope = parse_scope(self.request.form.get("scope"))

    def create_token_response(self) -> tuple[int, str, list[tuple[str, str]]]:
        presented = self.request.form["refresh_token"]
        # Only the token endpoint answers with an ID token: its clients are OpenID relying parties.
        issued = refresh.refresh(self.client, presented, self.requested_scope, TOKEN_ENDPOINT, id_token=True)
        return 200, issued.token_response(), JSON_HEADERS
