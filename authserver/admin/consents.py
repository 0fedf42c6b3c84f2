"""Remembered consents: the domain functions behind ``authserver users consents`` and ``users revoke-consent``.

A consent is what a user allowed a client that is not first-party (the consent page's **Allow**). Withdrawing
it also ends everything the client holds for the user: every refresh-token family the client has for them
(so the refresh tokens stop working, and introspection answers inactive for the access tokens of those
families), and every code it was given for them and has not redeemed yet. The next authorization request of
that client shows the consent page again.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver import clock
from authserver.admin.errors import AdminError
from authserver.admin.users import get_user
from authserver.store import current_stores
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit


@dataclass(frozen=True)
class Consent:
    """One client a user allowed, as the administration shows it."""

    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    granted_at: int


def list_consents(username: str) -> list[Consent]:
    """The user's consents, by client id; :class:`AdminError` for an unknown user."""
    stores = current_stores()
    user = get_user(username)
    consents = []
    for record in stores.consents.list_for_user(user.id):
        client = stores.clients.registration(record.client_id)
        name = client.name if client is not None else ""
        consents.append(Consent(record.client_id, name, record.scopes, record.granted_at))
    return consents


def revoke_consent(username: str, client_id: str) -> int:
    """Withdraw the user's consent to the client and end the client's families for the user, in one
    transaction; returns the refresh tokens revoked. Unknown user or no such consent: :class:`AdminError`,
    nothing changed."""
    stores = current_stores()
    user = get_user(username)
    now = clock.now()

    def withdraw() -> int:
        if not any(c.client_id == client_id for c in stores.consents.list_for_user(user.id)):
            raise AdminError(f"user {user.username!r} has not consented to client {client_id!r}")  # nothing written
        # The codes first: a redemption racing this either committed its family before (revoked next) or
        # finds its code spent. A code issued just before the withdrawal cannot start a family after it.
        stores.authorization_codes.use_up_for(client_id, user.id, now)
        revoked = stores.refresh_tokens.revoke_client_user_families(client_id, user.id, now)
        # The consent store commits its write, and with it the revocation above: one transaction.
        stores.consents.revoke(user.id, client_id)
        return revoked

    revoked = run_with_retry(withdraw)
    emit("consent.revoked", user_id=user.id, client_id=client_id, revoked_refresh_tokens=revoked)
    return revoked
