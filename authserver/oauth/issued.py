"""What a login or a refresh hands out, before either front door puts it on the wire."""

from __future__ import annotations

from dataclasses import dataclass

from authserver.oauth import tokens
from authserver.store.clients import ClientInfo

#: Which front door a request came through; every event says it.
TOKEN_ENDPOINT = "token_endpoint"
JSON_API = "json_api"
LOGIN_PAGE = "login_page"  # the authorization endpoint's sign-in
REVOCATION_ENDPOINT = "revocation_endpoint"


@dataclass(frozen=True)
class Issued:
    """A signed access token and the refresh token of its family (``None`` for a client without refresh)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None
    #: When the refresh token expires (the smaller of its idle and its family's absolute end), epoch seconds.
    refresh_expires_at: int
    family_id: str
    user_id: str
    #: The OpenID Connect ID token, when the scope has ``openid`` and the flow issues one.
    id_token: str | None = None

    def token_response(self) -> str:
        """The RFC 6749 §5.1 body of the token endpoint (with ``id_token``, OpenID Connect Core §3.1.3.3)."""
        return tokens.token_response(
            self.access_token, self.expires_in, self.scope, self.refresh_token, id_token=self.id_token
        )


def issue(
    client: ClientInfo, user_id: str, family_id: str, scope: str, refresh: str | None, refresh_expires_at: int, now: int
) -> Issued:
    """Sign the access token of ``family_id`` (its ``sid``) and pair it with the family's refresh token."""
    access, expires_in = tokens.sign_access_token(client=client, sub=user_id, scope=scope, sid=family_id, now=now)
    return Issued(access, expires_in, scope, refresh, refresh_expires_at, family_id, user_id)
