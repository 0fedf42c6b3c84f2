"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) as protocol: which requests are valid, and
what signing out ends. The browser side (cookie, pages, confirmation) is :mod:`authserver.views.logout`.

A request names its client by ``id_token_hint`` (an ID token we issued, expired or not) and/or ``client_id``
(which must agree); ``post_logout_redirect_uri`` must be one the client registered, exactly (§3), and is
honoured only with a client; ``state`` goes back with it. A request that breaks any of these is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from authserver.oauth import families
from authserver.oauth.id_token_hint import Hint
from authserver.oauth.id_token_hint import verified_hint
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.login_sessions import LoginSessionInfo
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit

#: The parameters of §2 we act on, carried through the confirmation form.
FIELDS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
MAX_PARAMETER_CHARS = 8192


class Refused(Exception):
    """The logout request is not valid: nothing is ended, and it is never redirected (§3)."""


@dataclass(frozen=True)
class LogoutRequest:
    """A valid logout request: its verified hint, its client, where to go back (registered) and ``state``."""

    hint: Hint | None
    client: ClientInfo | None
    redirect_uri: str | None
    state: str | None
    fields: list[tuple[str, str]]

    def speaks_for(self, session: LoginSessionInfo) -> bool:
        """The hint shows the RP signed in the browser's user: no need to ask (§2, §6)."""
        return self.hint is not None and self.hint.sub == session.user_id


def parse(params: Mapping[str, str], repeated: bool) -> LogoutRequest:
    """The request of ``params`` (query or form; ``repeated``: a parameter came twice), else :class:`Refused`."""
    if repeated:
        raise Refused("a parameter is repeated")
    fields = [(name, params[name]) for name in FIELDS if params.get(name)]
    if any(len(value) > MAX_PARAMETER_CHARS or "\x00" in value for _, value in fields):
        raise Refused("a parameter is too long or has a NUL")
    values = dict(fields)
    hint = None
    if "id_token_hint" in values:
        hint = verified_hint(values["id_token_hint"])
        if hint is None:
            raise Refused("id_token_hint is not an ID token of ours")
    client_id = values.get("client_id")
    if client_id is not None and hint is not None and client_id != hint.client_id:
        raise Refused("client_id is not the id_token_hint's audience")
    clients = current_stores().clients
    if client_id is not None:
        client = clients.get(client_id)
        if client is None:
            raise Refused("unknown client_id")
    else:  # the hint's client, if it still exists
        client = clients.get(hint.client_id) if hint is not None else None
    redirect_uri = values.get("post_logout_redirect_uri")
    if redirect_uri is not None:
        if client is None:
            raise Refused("post_logout_redirect_uri without a client (client_id or id_token_hint)")
        if redirect_uri not in client.post_logout_redirect_uris:  # exact string match (§3)
            raise Refused("post_logout_redirect_uri is not registered for the client")
    return LogoutRequest(hint, client, redirect_uri, values.get("state"), fields)


def end_login_sessions(session_ids: Iterable[str], now: int, client_id: str | None) -> int:
    """End each login session (the login-session store) and revoke the families issued under it; how many
    refresh tokens were revoked. The one place logout writes."""
    stores, revoked = current_stores(), 0
    for session_id in sorted(session_ids):
        count = run_with_retry(functools.partial(families.revoke_session_families, session_id, now))
        ended = stores.login_sessions.end(session_id, now)
        emit("login_session.ended", session_id=session_id, client_id=client_id, families=count, ended=ended)
        revoked += count
    return revoked
