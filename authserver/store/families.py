"""Refresh-token families as the administration sees them: listed per user, looked up by id, and revoked by
when they began ("everything issued before T").

The token path never reads these: they are set-based statements over ``refresh_tokens`` for the admin API and
the CLI, one SQLAlchemy implementation for both databases (none is hot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import cast

from sqlalchemy import ColumnElement
from sqlalchemy import CursorResult
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import User
from authserver.store import revocations

_rt = cast(Table, RefreshToken.__table__)
_users = cast(Table, User.__table__)


@dataclass(frozen=True)
class FamilyInfo:
    """One family (one login of one user at one client), summed over its tokens."""

    family_id: str
    client_id: str
    user_id: str
    session_id: str | None
    scope: str
    auth_time: int
    #: The first token's issue time (the family began), the latest token's, and the latest expiry.
    started_at: int
    last_issued_at: int
    expires_at: int
    #: It has a token that can still be used: unused, unrevoked, unexpired.
    active: bool


class FamilyStore(Protocol):
    def family(self, family_id: str, now: int) -> FamilyInfo | None: ...
    def of_user(self, user_id: str, now: int) -> list[FamilyInfo]:
        """The user's families, the latest first (revoked and expired ones too, until they are purged)."""
        ...

    def revoke_started_before(self, *, before: int, now: int, client_id: str | None, user_id: str | None) -> int:
        """Revoke every family of the client (or the user) that began before ``before``, in the request's unit of
        work; refresh tokens newly revoked. A family that began earlier descends from a credential issued
        earlier, so it ends however recently it was rotated."""
        ...

    def refuse_user_tokens_before(self, user_id: str, before: int) -> None:
        """The user's access tokens issued before ``before`` introspect inactive (never moved back in time)."""
        ...


def _summary(now: int) -> Any:
    live = and_(_rt.c.used_at.is_(None), _rt.c.revoked_at.is_(None), _rt.c.expires_at > now)
    return select(
        _rt.c.family_id,
        func.min(_rt.c.client_id),
        func.min(_rt.c.user_id),
        func.min(_rt.c.session_id),
        func.min(_rt.c.scope),
        func.min(_rt.c.auth_time),
        func.min(_rt.c.issued_at),
        func.max(_rt.c.issued_at),
        func.max(_rt.c.expires_at),
        func.sum(case((live, 1), else_=0)),
    ).group_by(_rt.c.family_id)


def _info(row: Any) -> FamilyInfo:
    family_id, client_id, user_id, session_id, scope, auth_time, started, last, expires, live = row
    return FamilyInfo(family_id, client_id, user_id, session_id, scope, auth_time, started, last, expires, bool(live))


class SqlFamilyStore:
    def family(self, family_id: str, now: int) -> FamilyInfo | None:
        row = db.session.execute(_summary(now).where(_rt.c.family_id == family_id)).one_or_none()
        return None if row is None else _info(row)

    def of_user(self, user_id: str, now: int) -> list[FamilyInfo]:
        rows = db.session.execute(_summary(now).where(_rt.c.user_id == user_id)).all()
        return sorted(map(_info, rows), key=lambda f: (-f.last_issued_at, f.family_id))

    def revoke_started_before(self, *, before: int, now: int, client_id: str | None, user_id: str | None) -> int:
        owner: ColumnElement[bool] = _rt.c.client_id == client_id if client_id is not None else _rt.c.user_id == user_id
        early = select(_rt.c.family_id).where(owner, _rt.c.issued_at < before).distinct()
        revocations.changed()
        statement = (
            update(_rt)
            .where(
                owner,
                _rt.c.family_id.in_(early.scalar_subquery()),
                or_(_rt.c.revoked_at.is_(None), _rt.c.successor_sealed.is_not(None)),
            )
            .values(revoked_at=func.coalesce(_rt.c.revoked_at, now), successor_sealed=None)
            .execution_options(synchronize_session=False)
        )
        return cast("CursorResult[Any]", db.session.execute(statement)).rowcount

    def refuse_user_tokens_before(self, user_id: str, before: int) -> None:
        revocations.changed()
        db.session.execute(
            update(_users)
            .where(
                _users.c.id == user_id,
                or_(_users.c.sessions_not_before.is_(None), _users.c.sessions_not_before < before),
            )
            .values(sessions_not_before=before)
        )


def make_store() -> FamilyStore:
    return SqlFamilyStore()
