"""The OpenID Connect ID token (Core §2, §3.1.3.6): who signed in, when, for which client, in which session.

Signed like the access token, with the keystore's one active key, but typed ``JWT`` (an ID token is not an
``at+jwt``: resource servers must refuse it as an access token, RFC 9068 §4). It lives as long as the
client's access tokens.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any

from joserfc import jwt

from authserver.keys.keyring import current_keystore
from authserver.oauth import tokens
from authserver.oauth.claims import OPENID
from authserver.oauth.issued import Issued
from authserver.settings import current_settings
from authserver.store.clients import ClientInfo

#: Authentication methods (RFC 8176 §2): the login page asks for a password.
PASSWORD_AMR = ("pwd",)


def at_hash(access_token: str) -> str:
    """Core §3.1.3.6: the left half of the SHA-256 of the access token (RS256), base64url without padding."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def sign_id_token(
    *,
    client: ClientInfo,
    user_id: str,
    auth_time: int,
    session_id: str | None,
    nonce: str | None,
    access_token: str,
    now: int,
) -> str:
    """An RS256 ID token for ``client``; ``nonce`` as sent to the authorization endpoint (never on refresh)."""
    claims: dict[str, Any] = {
        "iss": current_settings().issuer,
        "sub": user_id,
        "aud": client.client_id,
        "exp": now + tokens.access_token_ttl(client),
        "iat": now,
        "auth_time": auth_time,
        "at_hash": at_hash(access_token),
        "amr": list(PASSWORD_AMR),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if session_id is not None:
        claims["sid"] = session_id
    keystore = current_keystore()
    header = {**keystore.signing_header, "typ": "JWT"}
    return jwt.encode(header, claims, keystore.signing.key, algorithms=[keystore.signing.record.alg])


def with_id_token(
    issued: Issued, client: ClientInfo, *, auth_time: int, session_id: str | None, nonce: str | None, now: int
) -> Issued:
    """``issued`` with an ID token for its access token when its scope has ``openid`` (Core §3.1.3.3, §12.2)."""
    if OPENID not in issued.scope.split():
        return issued
    id_token = sign_id_token(
        client=client,
        user_id=issued.user_id,
        auth_time=auth_time,
        session_id=session_id,
        nonce=nonce,
        access_token=issued.access_token,
        now=now,
    )
    return dataclasses.replace(issued, id_token=id_token)
