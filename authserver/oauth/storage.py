"""Database access of the grants: clients, users and the rotation of refresh tokens.

The rotation of a refresh token is one atomic step: ``UPDATE ... WHERE used_at IS NULL AND
revoked_at IS NULL ... RETURNING`` either wins or finds nothing, so two parallel refreshes with
the same token can never both mint a successor (RFC 9700 §4.14.2). On PostgreSQL the consume and
the insert of the successor travel as one statement (a data-modifying CTE).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import func
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
    parent_id: int | None = None


def get_client(client_id: str) -> Client | None:
    return db.session.get(Client, client_id)


def get_user_by_username(username: str) -> User | None:
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def set_password_hash(user_id: str, password_hash: str) -> None:
    db.session.execute(update(_users).where(_users.c.id == user_id).values(password_hash=password_hash))
    db.session.commit()


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


def _consumable(token_hash: str, client_id: str, now: int) -> ColumnElement[bool]:
    """The WHERE clause of a refresh token that may be consumed now by ``client_id``."""
    active_user = select(_users.c.id).where(_users.c.id == _rt.c.user_id, _users.c.disabled.is_(False))
    return and_(_rt.c.token_hash == token_hash, _rt.c.client_id == client_id, _rt.c.used_at.is_(None),
                _rt.c.revoked_at.is_(None), _rt.c.expires_at > now, active_user.exists())


def rotate(*, token_hash: str, client_id: str, new_hash: str, now: int, ttl: int, max_lifetime: int,
           sealed: bytes | None) -> Grant | None:
    """Consume a refresh token and insert its successor, in the caller's open transaction.

    The successor expires ``ttl`` after now, but never after the family's absolute end
    (``auth_time + max_lifetime``). Returns ``None`` if the token cannot be consumed (unknown, used,
    revoked, expired, another client's, or its user disabled). The caller commits or rolls back.
    """
    consume = (update(_rt).where(_consumable(token_hash, client_id, now)).values(used_at=now, successor_sealed=sealed)
               .returning(_rt.c.id, _rt.c.family_id, _rt.c.user_id, _rt.c.scope, _rt.c.auth_time, _rt.c.parent_id))
    columns = (_rt.c.id, _rt.c.user_id, _rt.c.family_id, _rt.c.scope, _rt.c.auth_time, _rt.c.parent_id)
    if db.session.get_bind().dialect.name == "postgresql":
        used = consume.cte("used")
        successor = insert(_rt).from_select(
            ["token_hash", "family_id", "parent_id", "client_id", "user_id", "scope", "auth_time",
             "issued_at", "expires_at"],
            select(literal(new_hash), used.c.family_id, used.c.id, literal(client_id), used.c.user_id,
                   used.c.scope, used.c.auth_time, literal(now),
                   func.least(literal(now + ttl), used.c.auth_time + max_lifetime)),
        ).returning(*columns)
        row = db.session.execute(successor).one_or_none()
    else:
        old = db.session.execute(consume).one_or_none()
        if old is None:
            return None
        row = db.session.execute(
            insert(_rt).values(token_hash=new_hash, family_id=old.family_id, parent_id=old.id, client_id=client_id,
                               user_id=old.user_id, scope=old.scope, auth_time=old.auth_time, issued_at=now,
                               expires_at=min(now + ttl, old.auth_time + max_lifetime)).returning(*columns)
        ).one()
    if row is None:
        return None
    return Grant(row.id, row.user_id, client_id, row.family_id, row.scope, row.auth_time, row.parent_id)


def erase_parent_sealed(consumed_id: int) -> None:
    """The consumed token's parent may keep a sealed copy of it: now that it is used, erase that copy."""
    parent = select(_rt.c.parent_id).where(_rt.c.id == consumed_id).scalar_subquery()
    db.session.execute(update(_rt).where(_rt.c.id == parent, _rt.c.successor_sealed.is_not(None))
                       .values(successor_sealed=None))


@dataclass(frozen=True)
class TokenState:
    """A stored refresh token, looked up by digest on the failure path and by introspection."""

    id: int
    client_id: str
    user_id: str
    family_id: str
    scope: str
    auth_time: int
    issued_at: int
    expires_at: int
    used_at: int | None
    revoked_at: int | None
    successor_sealed: bytes | None


def lookup(token_hash: str) -> TokenState | None:
    row = db.session.execute(
        select(_rt.c.id, _rt.c.client_id, _rt.c.user_id, _rt.c.family_id, _rt.c.scope, _rt.c.auth_time,
               _rt.c.issued_at, _rt.c.expires_at, _rt.c.used_at, _rt.c.revoked_at, _rt.c.successor_sealed)
        .where(_rt.c.token_hash == token_hash)
    ).one_or_none()
    return None if row is None else TokenState(*row)


def successor_is_live(token_id: int, now: int) -> bool:
    """True if the token's successor is unused, unrevoked, unexpired, and its user still enabled."""
    active_user = select(_users.c.id).where(_users.c.id == _rt.c.user_id, _users.c.disabled.is_(False))
    row = db.session.execute(
        select(_rt.c.id).where(_rt.c.parent_id == token_id, _rt.c.used_at.is_(None), _rt.c.revoked_at.is_(None),
                               _rt.c.expires_at > now, active_user.exists())
    ).first()
    return row is not None
