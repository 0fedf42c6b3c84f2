"""Database access of the grants: the rotation of refresh tokens.

The rotation of a refresh token is one atomic step: ``UPDATE ... WHERE used_at IS NULL AND
revoked_at IS NULL ... RETURNING`` either wins or finds nothing, so two parallel refreshes with
the same token can never both mint a successor (RFC 9700 §4.14.2). On PostgreSQL the consume and
the insert of the successor travel as one statement (a data-modifying CTE).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import User
from authserver.store import autocommit

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


_START_FAMILY = insert(_rt).values(
    token_hash=bindparam("p_token_hash", type_=String), family_id=bindparam("p_family_id", type_=String),
    parent_id=None, client_id=bindparam("p_client_id", type_=String), user_id=bindparam("p_user_id", type_=String),
    scope=bindparam("p_scope", type_=String), auth_time=bindparam("p_now", type_=BigInteger),
    issued_at=bindparam("p_now", type_=BigInteger), expires_at=bindparam("p_expires_at", type_=BigInteger),
).returning(_rt.c.id)


def start_family(*, token_hash: str, client_id: str, user_id: str, scope: str, now: int, expires_at: int) -> Grant:
    """Store the first refresh token of a new family (one login), committed when this returns."""
    family_id = str(uuid.uuid4())
    params = {"p_token_hash": token_hash, "p_family_id": family_id, "p_client_id": client_id, "p_user_id": user_id,
              "p_scope": scope, "p_now": now, "p_expires_at": expires_at}
    if autocommit.engine() is not None:
        row = autocommit.fetchone(_START_FAMILY, params)
    else:
        row = db.session.execute(_START_FAMILY, params).one()
        db.session.commit()
    assert row is not None
    return Grant(row[0], user_id, client_id, family_id, scope, now)


def scope_covers(granted: str, requested: Sequence[str]) -> bool:
    """The one scope rule: every requested scope is one of the granted ones, compared whole and exactly
    (scope tokens are case-sensitive, RFC 6749 §3.3). :func:`_covers` is the same rule in SQL."""
    return set(requested) <= set(granted.split())


def _covers(index: int) -> ColumnElement[bool]:
    """SQL of :func:`scope_covers` for requested scope number ``index`` (bound as ``" scope "``): the token's
    space-padded scope contains it. ``replace()`` compares exactly on SQLite and PostgreSQL alike, where
    SQLite's ``LIKE`` folds ASCII case (``READ`` matched ``read``) and treats ``%`` and ``_`` as wildcards."""
    padded = literal(" ") + _rt.c.scope + literal(" ")
    return func.replace(padded, bindparam(f"p_scope_{index}", type_=String), literal("")) != padded


@functools.cache
def _rotation(dialect: str, scope_count: int) -> Any:
    """The rotation statements, built once per dialect and number of requested scopes.

    The token is consumed only if it is this client's, unused, unrevoked, unexpired, its user
    enabled, and (RFC 6749 §6) its scope covers every requested scope; otherwise nothing changes.
    """
    active_user = select(_users.c.id).where(_users.c.id == _rt.c.user_id, _users.c.disabled.is_(False))
    covers = [_covers(i) for i in range(scope_count)]
    now = bindparam("p_now", type_=BigInteger)
    consume = (update(_rt).where(_rt.c.token_hash == bindparam("p_token_hash", type_=String),
                                 _rt.c.client_id == bindparam("p_client_id", type_=String),
                                 _rt.c.used_at.is_(None), _rt.c.revoked_at.is_(None), _rt.c.expires_at > now,
                                 active_user.exists(), *covers)
               .values(used_at=now, successor_sealed=bindparam("p_sealed", type_=LargeBinary))
               .returning(_rt.c.id, _rt.c.family_id, _rt.c.user_id, _rt.c.scope, _rt.c.auth_time))
    if dialect != "postgresql":
        return consume  # SQLite has no UPDATE in a CTE: the caller inserts the successor itself
    used = consume.cte("used")
    successor = insert(_rt).from_select(
        ["token_hash", "family_id", "parent_id", "client_id", "user_id", "scope", "auth_time", "issued_at",
         "expires_at"],
        select(bindparam("p_new_hash", type_=String), used.c.family_id, used.c.id,
               bindparam("p_client_id", type_=String), used.c.user_id, used.c.scope, used.c.auth_time, now,
               func.least(bindparam("p_expires_at", type_=BigInteger),
                          used.c.auth_time + bindparam("p_max_lifetime", type_=BigInteger))),
    ).returning(*_GRANT_COLUMNS)
    return successor


_GRANT_COLUMNS = (_rt.c.id, _rt.c.user_id, _rt.c.family_id, _rt.c.scope, _rt.c.auth_time, _rt.c.parent_id)


def rotate(*, token_hash: str, client_id: str, new_hash: str, now: int, ttl: int, max_lifetime: int,
           sealed: bytes | None, grace_seconds: int = 0, required_scopes: list[str] | None = None) -> Grant | None:
    """Consume a refresh token and store its successor, atomically; the successor's grant, or ``None``.

    ``None`` means the token could not be consumed (unknown, used, revoked, expired, another
    client's, its user disabled, or a requested scope it does not cover) and nothing changed.
    The successor expires ``ttl`` after now, never after the family's absolute end
    (``auth_time + max_lifetime``). PostgreSQL: one statement, in autocommit, one round trip.
    With a grace window (``sealed`` given), one more erases the sealed successors no replay can claim
    any more: the consumed token's parent's, and some whose ``grace_seconds`` have passed.
    """
    scopes = required_scopes or []
    params: dict[str, Any] = {"p_token_hash": token_hash, "p_client_id": client_id, "p_now": now,
                              "p_sealed": sealed, "p_new_hash": new_hash, "p_expires_at": now + ttl,
                              "p_max_lifetime": max_lifetime,
                              **{f"p_scope_{i}": f" {s} " for i, s in enumerate(scopes)}}
    if autocommit.engine() is not None:
        row = autocommit.fetchone(_rotation("postgresql", len(scopes)), params)
        if row is not None and sealed is not None:  # row[5]: the successor's parent, the token just consumed
            autocommit.fetchone(_erase_sealed(), {"p_consumed_id": row[5], "p_cutoff": now - grace_seconds})
    else:
        with db.engine.begin() as conn:
            old = conn.execute(_rotation(db.engine.dialect.name, len(scopes)), params).one_or_none()
            if old is None:
                return None
            row = conn.execute(insert(_rt).values(
                token_hash=new_hash, family_id=old.family_id, parent_id=old.id, client_id=client_id,
                user_id=old.user_id, scope=old.scope, auth_time=old.auth_time, issued_at=now,
                expires_at=min(now + ttl, old.auth_time + max_lifetime)).returning(*_GRANT_COLUMNS)).one()
            if sealed is not None:
                conn.execute(_erase_sealed(), {"p_consumed_id": old.id, "p_cutoff": now - grace_seconds})
    if row is None:
        return None
    token_id, user_id, family_id, scope, auth_time, parent_id = row
    return Grant(token_id, user_id, client_id, family_id, scope, auth_time, parent_id)


#: At most this many sealed successors whose window has passed are erased by one rotation (bounded work).
SWEEP_BATCH = 20


@functools.cache
def _erase_sealed() -> Any:
    """Erase the sealed successors no grace replay can claim any more: the one on the consumed token's parent
    (its successor, the token just consumed, is used now) and, lazily, up to ``SWEEP_BATCH`` anywhere whose
    window has passed (``used_at < p_cutoff``; the partial index ``ix_refresh_tokens_sealed_used_at`` finds them).

    Rows another transaction holds are skipped, never waited for (``SKIP LOCKED``; SQLite serialises its
    writers anyway): that transaction is revoking them, or sweeping them itself.
    """
    inner = _rt.alias("candidate")
    parent = select(inner.c.parent_id).where(inner.c.id == bindparam("p_consumed_id", type_=BigInteger))
    expired = (select(inner.c.id).where(inner.c.successor_sealed.is_not(None),
                                        inner.c.used_at < bindparam("p_cutoff", type_=BigInteger))
               .order_by(inner.c.used_at).limit(SWEEP_BATCH))
    locked = (select(_rt.c.id).where(or_(_rt.c.id == parent.scalar_subquery(), _rt.c.id.in_(expired)),
                                     _rt.c.successor_sealed.is_not(None))
              .with_for_update(skip_locked=True))
    return update(_rt).where(_rt.c.id.in_(locked.scalar_subquery())).values(successor_sealed=None)


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
