"""All database access of the grants: clients, users and refresh-token rows.

The rotation of a refresh token is one atomic step: ``UPDATE ... WHERE used_at IS NULL AND
revoked_at IS NULL ... RETURNING`` either wins or finds nothing, so two parallel refreshes with
the same token can never both mint a successor (RFC 9700 §4.14.2). On PostgreSQL the consume and
the insert of the successor travel as one statement (a data-modifying CTE).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import Client
from authserver.models import RefreshToken
from authserver.models import User

_rt = RefreshToken.__table__
_users = User.__table__


@dataclass(frozen=True)
class Grant:
    """What a refresh token grants: the facts the access token is built from."""

    token_id: int
    user_id: str
    client_id: str
    family_id: str
    scope: str
    auth_time: int


def get_client(client_id: str) -> Client | None:
    return db.session.get(Client, client_id)


def get_user_by_username(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def start_family(*, token_hash: str, client_id: str, user_id: str, scope: str, now: int, expires_at: int) -> Grant:
    """Store the first refresh token of a new family (one login) and commit."""
    family_id = str(uuid.uuid4())
    row = db.session.execute(
        insert(_rt).values(token_hash=token_hash, family_id=family_id, parent_id=None, client_id=client_id,
                           user_id=user_id, scope=scope, auth_time=now, issued_at=now, expires_at=expires_at)
        .returning(_rt.c.id)
    ).one()
    db.session.commit()
    return Grant(row.id, user_id, client_id, family_id, scope, now)


def _consumable(token_hash: str, client_id: str, now: int):
    """The WHERE clause of a refresh token that may be consumed now by ``client_id``."""
    active_user = select(_users.c.id).where(_users.c.id == _rt.c.user_id, _users.c.disabled.is_(False))
    return and_(_rt.c.token_hash == token_hash, _rt.c.client_id == client_id, _rt.c.used_at.is_(None),
                _rt.c.revoked_at.is_(None), _rt.c.expires_at > now, active_user.exists())


def rotate(*, token_hash: str, client_id: str, new_hash: str, now: int, ttl: int) -> Grant | None:
    """Consume a refresh token and insert its successor, in the caller's open transaction.

    Returns the successor's grant, or ``None`` if the token cannot be consumed (unknown, used,
    revoked, expired, another client's, or its user disabled). The caller commits or rolls back.
    """
    consume = (update(_rt).where(_consumable(token_hash, client_id, now)).values(used_at=now)
               .returning(_rt.c.id, _rt.c.family_id, _rt.c.user_id, _rt.c.scope, _rt.c.auth_time))
    columns = (_rt.c.id, _rt.c.user_id, _rt.c.family_id, _rt.c.scope, _rt.c.auth_time)
    if db.session.get_bind().dialect.name == "postgresql":
        used = consume.cte("used")
        successor = insert(_rt).from_select(
            ["token_hash", "family_id", "parent_id", "client_id", "user_id", "scope", "auth_time",
             "issued_at", "expires_at"],
            select(literal(new_hash), used.c.family_id, used.c.id, literal(client_id), used.c.user_id,
                   used.c.scope, used.c.auth_time, literal(now), literal(now + ttl)),
        ).returning(*columns)
        row = db.session.execute(successor).one_or_none()
    else:
        old = db.session.execute(consume).one_or_none()
        if old is None:
            return None
        row = db.session.execute(
            insert(_rt).values(token_hash=new_hash, family_id=old.family_id, parent_id=old.id, client_id=client_id,
                               user_id=old.user_id, scope=old.scope, auth_time=old.auth_time, issued_at=now,
                               expires_at=now + ttl).returning(*columns)
        ).one()
    if row is None:
        return None
    return Grant(row.id, row.user_id, client_id, row.family_id, row.scope, row.auth_time)
