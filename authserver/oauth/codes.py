"""Authorization codes from issue to redemption (RFC 6749 §4.1.2, §4.1.3): what the grant asks of the code store.

A code is 256 random bits, handed out once and stored only as its SHA-256 digest, valid for
``AUTHORIZATION_CODE_SECONDS`` (at most 60). It is single use in the strict sense: a failed attempt by its own
client (a wrong redirect URI or code verifier) uses it up too, and a second redemption of a used code revokes
the family its first redemption started, so every token issued from it stops working (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from authserver import clock
from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.errors import InvalidGrantError
from authserver.oauth import tokens
from authserver.oauth.id_token import sign_id_token
from authserver.oauth.issued import Issued
from authserver.oauth.issued import issue
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.authorization_codes import CodeState
from authserver.store.authorization_codes import FirstRefreshToken
from authserver.store.authorization_codes import NewCode
from authserver.store.clients import ClientInfo
from authserver.store.login_sessions import LoginSessionInfo
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit

#: Longer than any code we issue (43 characters): anything longer is refused unread.
MAX_CODE_CHARS = 128


def redirect_location(redirect_uri: str, params: dict[str, str | None]) -> str:
    """``redirect_uri`` with ``params`` and ``iss`` (RFC 9207) added to its query, its own query kept."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    query.append(("iss", current_settings().issuer))
    return parts._replace(query=urlencode(query)).geturl()


def issue_code(
    *,
    client: ClientInfo,
    session: LoginSessionInfo,
    redirect_uri_sent: str | None,
    code_challenge: str,
    scope: str,
    nonce: str | None,
    now: int,
) -> str:
    """A new code for the session's user, bound to everything its redemption must match."""
    code = new_token()
    lifetime = current_settings().login.authorization_code_seconds
    current_stores().authorization_codes.save(
        token_digest(code),
        NewCode(
            client_id=client.client_id,
            user_id=session.user_id,
            session_id=session.id,
            redirect_uri=redirect_uri_sent,
            code_challenge=code_challenge,
            scope=scope,
            nonce=nonce,
            auth_time=session.auth_time,
            expires_at=now + lifetime,
        ),
    )
    emit("authorization_code.issued", client_id=client.client_id, user_id=session.user_id, session_id=session.id)
    return code


def find(client: ClientInfo, presented: str, door: str) -> CodeState:
    """The client's live code, else ``invalid_grant``; a used one is a replay, and revokes its family."""
    if len(presented) > MAX_CODE_CHARS:
        raise InvalidGrantError("overlong code")
    state = current_stores().authorization_codes.find(token_digest(presented))
    if state is None or state.client_id != client.client_id:
        raise InvalidGrantError("unknown code, or another client's")
    if state.used_at is not None:
        _replayed(state, door)
    if state.expires_at <= clock.now():
        raise InvalidGrantError("expired code")
    return state


def _replayed(state: CodeState, door: str) -> None:
    revoked = 0
    if state.family_id is not None:
        family_id, now = state.family_id, clock.now()
        revoked = run_with_retry(lambda: current_stores().refresh_tokens.revoke_family(family_id, now))
    emit(
        "authorization_code.reused",
        client_id=state.client_id,
        user_id=state.user_id,
        family_id=state.family_id,
        revoked=revoked,
        door=door,
    )
    raise InvalidGrantError("authorization code used before: its family is revoked")


def use_up(client: ClientInfo, presented: str) -> None:
    """A failed attempt with the client's live code: the code is spent (one attempt per code)."""
    current_stores().authorization_codes.use_up(token_digest(presented), client.client_id, clock.now())


def redeem(client: ClientInfo, presented: str, door: str) -> Issued:
    """Redeem a code whose binding was checked: its family starts, an access token (and refresh token, for a
    client with the refresh_token grant; an ID token when ``openid`` is in scope) is issued."""
    now, code_hash = clock.now(), token_digest(presented)
    refresh = new_token()
    first = FirstRefreshToken(
        token_digest(refresh), tokens.refresh_token_ttl(client), tokens.refresh_token_max_lifetime(client)
    )
    redeemed = current_stores().authorization_codes.redeem(code_hash, client.client_id, now, first)
    if redeemed is None:
        # Another redemption won the race (a replay, whose family is revoked), or the code expired, its user
        # was disabled or its login session ended in the meantime.
        state = current_stores().authorization_codes.find(code_hash)
        if state is not None and state.used_at is not None:
            _replayed(state, door)
        raise InvalidGrantError("authorization code no longer redeemable")
    handed_out = refresh if client.allows_grant("refresh_token") else None
    issued = issue(
        client, redeemed.user_id, redeemed.family_id, redeemed.scope, handed_out, redeemed.refresh_expires_at, now
    )
    emit(
        "authorization_code.redeemed",
        client_id=client.client_id,
        user_id=redeemed.user_id,
        family_id=redeemed.family_id,
        door=door,
    )
    if "openid" not in redeemed.scope.split():
        return issued
    id_token = sign_id_token(
        client=client,
        user_id=redeemed.user_id,
        auth_time=redeemed.auth_time,
        session_id=redeemed.session_id,
        nonce=redeemed.nonce,
        access_token=issued.access_token,
        now=now,
    )
    return dataclasses.replace(issued, id_token=id_token)
