"""Remembered consents: the scopes each user allowed each client that is not first-party.

Not a hot path (one read per authorization request that has a session), so one SQLAlchemy implementation
serves every database. Every write commits on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from authserver.extensions import db
from authserver.models import Consent


@dataclass(frozen=True)
class ConsentRecord:
    """What a user allowed a client, as the administration shows it."""

    client_id: str
    scopes: tuple[str, ...]
    granted_at: int


class ConsentStore(Protocol):
    def covers(self, user_id: str, client_id: str, scopes: Iterable[str]) -> bool:
        """True if the user has allowed the client every one of ``scopes``."""
        ...

    def grant(self, user_id: str, client_id: str, scopes: Iterable[str], now: int) -> None:
        """Remember that the user allowed the client ``scopes``, beside what it allowed before."""
        ...

    def list_for_user(self, user_id: str) -> list[ConsentRecord]:
        """The user's consents, by client id."""
        ...

    def revoke(self, user_id: str, client_id: str) -> bool:
        """Withdraw the user's consent to the client; ``False`` if there was none."""
        ...


class SqlConsentStore:
    def covers(self, user_id: str, client_id: str, scopes: Iterable[str]) -> bool:
        row = db.session.get(Consent, (user_id, client_id))
        return row is not None and set(scopes) <= set(row.scope.split())

    def grant(self, user_id: str, client_id: str, scopes: Iterable[str], now: int) -> None:
        row = db.session.get(Consent, (user_id, client_id))
        if row is None:
            db.session.add(Consent(user_id=user_id, client_id=client_id, scope=_joined(scopes), granted_at=now))
        else:
            row.scope = _joined(set(row.scope.split()) | set(scopes))
            row.granted_at = now
        db.session.commit()

    def list_for_user(self, user_id: str) -> list[ConsentRecord]:
        rows = db.session.execute(select(Consent).where(Consent.user_id == user_id).order_by(Consent.client_id))
        return [ConsentRecord(r.client_id, tuple(r.scope.split()), r.granted_at) for r in rows.scalars()]

    def revoke(self, user_id: str, client_id: str) -> bool:
        row = db.session.get(Consent, (user_id, client_id))
        if row is None:
            return False
        db.session.delete(row)
        db.session.commit()
        return True


def _joined(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))


def make_store() -> ConsentStore:
    return SqlConsentStore()
