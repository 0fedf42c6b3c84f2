"""The refresh-token stores: SQLAlchemy on SQLite, and on PostgreSQL the hot paths as single statements on the
held autocommit connection (:mod:`authserver.store.autocommit`).

The rotation of a refresh token is one atomic step: ``UPDATE ... WHERE used_at IS NULL AND revoked_at IS NULL
... RETURNING`` either wins or finds nothing, so two parallel refreshes with the same token can never both mint
a successor (RFC 9700 §4.14.2). On PostgreSQL the consume and the insert of the successor travel as one
statement (a data-modifying CTE). Revoking a family is one set-based ``UPDATE`` over the family, never row by row.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any
from typing import cast

from flask import Flask
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import ColumnElement
from sqlalchemy import CursorResult
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import cast as cast_
from sqlalchemy import delete
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import type_coerce
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import SealedSuccessor
from authserver.models import User
from authserver.store import autocommit
from authserver.store import revocations
from authserver.store.refresh_tokens import Grant
from authserver.store.refresh_tokens import Purged
from authserver.store.refresh_tokens import RefreshTokenStore
from authserver.store.refresh_tokens import TokenState

_rt = cast(Table, RefreshToken.__table__)  # a mapped class's table (typed FromClause)
_users = cast(Table, User.__table__)  # a mapped class's table (typed FromClause)
_ss = cast(Table, SealedSuccessor.__table__)  # a mapped class's table (typed FromClause)

#: At most this many sealed successors whose window has passed are erased by one rotation (bounded work).
SWEEP_BATCH = 20

_GRANT_COLUMNS = (
    _rt.c.id,
    _rt.c.user_id,
    _rt.c.family_id,
    _rt.c.scope,
    _rt.c.auth_time,
    _rt.c.parent_id,
    _rt.c.session_id,
)

#: A new family's first token; ``p_auth_time`` is the login (now, or the login session's sign-in).
START_FAMILY = (
    insert(_rt)
    .values(
        token_hash=bindparam("p_token_hash", type_=String),
        family_id=bindparam("p_family_id", type_=String),
        parent_id=None,
        client_id=bindparam("p_client_id", type_=String),
        user_id=bindparam("p_user_id", type_=String),
        scope=bindparam("p_scope", type_=String),
        session_id=bindparam("p_session_id", type_=String),
        auth_time=bindparam("p_auth_time", type_=BigInteger),
        issued_at=bindparam("p_now", type_=BigInteger),
        expires_at=bindparam("p_expires_at", type_=BigInteger),
    )
    .returning(_rt.c.id)
)


def _active_user(table: Any) -> Any:
    """The token row's user exists and is enabled (a correlated ``EXISTS``)."""
    return select(_users.c.id).where(_users.c.id == table.c.user_id, _users.c.disabled.is_(False)).exists()


def _covers(index: int) -> ColumnElement[bool]:
    """SQL of :func:`authserver.oauth.scope.scope_covers` for requested scope number ``index`` (bound as
    ``" scope "``): the token's space-padded scope contains it. ``replace()`` compares exactly on SQLite and
    PostgreSQL alike, where SQLite's ``LIKE`` folds ASCII case (``READ`` matched ``read``) and treats ``%``
    and ``_`` as wildcards."""
    padded = literal(" ") + _rt.c.scope + literal(" ")
    return func.replace(padded, bindparam(f"p_scope_{index}", type_=String), literal("")) != padded


@functools.cache
def _consume(scope_count: int) -> Any:
    """Mark the token used, built once per number of requested scopes.

    The token is consumed only if it is this client's, unused, unrevoked, unexpired, its user
    enabled, and (RFC 6749 §6) its scope covers every requested scope; otherwise nothing changes.
    """
    now = bindparam("p_now", type_=BigInteger)
    return (
        update(_rt)
        .where(
            _rt.c.token_hash == bindparam("p_token_hash", type_=String),
            _rt.c.client_id == bindparam("p_client_id", type_=String),
            _rt.c.used_at.is_(None),
            _rt.c.revoked_at.is_(None),
            _rt.c.expires_at > now,
            _active_user(_rt),
            *[_covers(i) for i in range(scope_count)],
        )
        .values(used_at=now)
        .returning(
            _rt.c.id, _rt.c.family_id, _rt.c.user_id, _rt.c.scope, _rt.c.auth_time, _rt.c.session_id, _rt.c.parent_id
        )
    )


def _successor_from(used: Any) -> Any:
    """The successor's insert, from the consumed token's row ``used`` (a CTE or subquery)."""
    return insert(_rt).from_select(
        [
            "token_hash",
            "family_id",
            "parent_id",
            "client_id",
            "user_id",
            "scope",
            "auth_time",
            "session_id",
            "issued_at",
            "expires_at",
        ],
        select(
            bindparam("p_new_hash", type_=String),
            used.c.family_id,
            used.c.id,
            bindparam("p_client_id", type_=String),
            used.c.user_id,
            used.c.scope,
            used.c.auth_time,
            used.c.session_id,
            bindparam("p_now", type_=BigInteger),
            func.least(
                bindparam("p_expires_at", type_=BigInteger),
                used.c.auth_time + bindparam("p_max_lifetime", type_=BigInteger),
            ),
        ),
    )


def _erasable(parent_id: Any) -> Any:
    """The sealed successors no grace replay can claim any more, locked: the one kept for ``parent_id`` (its
    successor, the token just consumed, is used now) and, lazily, up to ``SWEEP_BATCH`` anywhere whose window
    has passed (``used_at < p_cutoff``, by the ``used_at`` index).

    Rows another transaction holds are skipped, never waited for (``SKIP LOCKED``; SQLite serialises its
    writers anyway): that transaction is revoking them, or sweeping them itself.
    """
    candidate = _ss.alias("candidate")
    lapsed = (
        select(candidate.c.token_id)
        .where(candidate.c.used_at < bindparam("p_cutoff", type_=BigInteger))
        .order_by(candidate.c.used_at)
        .limit(SWEEP_BATCH)
    )
    return (
        select(_ss.c.token_id)
        .where(or_(_ss.c.token_id == parent_id, _ss.c.token_id.in_(lapsed)))
        .with_for_update(skip_locked=True)
    )


@functools.cache
def _rotation(scope_count: int) -> Any:
    """PostgreSQL: the whole rotation as one statement (data-modifying CTEs, one snapshot, atomic in autocommit):
    consume the token (:func:`_consume`), insert its successor and, with a grace window (``p_sealed`` not
    null), keep the sealed successor and erase the ones no replay can claim any more (:func:`_erasable`).
    Returns the successor's grant columns, or no row when the token was not consumed."""
    sealed = cast_(bindparam("p_sealed", type_=LargeBinary), LargeBinary)  # typed even when null
    used = _consume(scope_count).cte("used")
    minted = _successor_from(used).returning(*_GRANT_COLUMNS).cte("minted")
    kept = (
        insert(_ss)
        .from_select(
            ["token_id", "successor_id", "used_at", "sealed"],
            select(minted.c.parent_id, minted.c.id, bindparam("p_now", type_=BigInteger), sealed).where(
                sealed.is_not(None)
            ),
        )
        .cte("kept")
    )
    parent = select(used.c.parent_id).scalar_subquery()
    erased = (
        delete(_ss).where(_ss.c.token_id.in_(_erasable(parent).scalar_subquery()), sealed.is_not(None)).cte("erased")
    )
    # A SELECT at the top, but it writes: never sent again after a lost connection (store/autocommit.py).
    return select(*(minted.c[c.name] for c in _GRANT_COLUMNS)).add_cte(kept, erased).execution_options(writes=True)


@functools.cache
def _erase_sealed() -> Any:
    """SQLite's separate erasure (:func:`_erasable`), for the consumed token's parent ``p_parent_id``."""
    erasable = _erasable(bindparam("p_parent_id", type_=BigInteger))
    return delete(_ss).where(_ss.c.token_id.in_(erasable.scalar_subquery()))


@functools.cache
def _lookup() -> Any:
    """The token by digest, with its sealed successor if one is kept and, only then, whether that successor
    is still live (by its id; for a row sealed by a release before ``sealed_successors``, by its parent link
    within the family)."""
    successor = _rt.alias("successor")
    now = bindparam("p_now", type_=BigInteger)
    successor_live = (
        successor.c.used_at.is_(None),
        successor.c.revoked_at.is_(None),
        successor.c.expires_at > now,
        _active_user(successor),
    )
    live = select(successor.c.id).where(successor.c.id == _ss.c.successor_id, *successor_live).exists()
    legacy_live = (
        select(successor.c.id)
        .where(
            # The family first: its index finds the successor among the family's rows (parent_id has no index,
            # and scanning the whole table for it cost 59 ms at 200,000 rows).
            successor.c.family_id == _rt.c.family_id,
            successor.c.parent_id == _rt.c.id,
            *successor_live,
        )
        .exists()
    )
    return (
        select(
            _rt.c.id,
            _rt.c.client_id,
            _rt.c.user_id,
            _rt.c.family_id,
            _rt.c.scope,
            _rt.c.auth_time,
            _rt.c.issued_at,
            _rt.c.expires_at,
            _rt.c.used_at,
            _rt.c.revoked_at,
            func.coalesce(_ss.c.sealed, _rt.c.successor_sealed),
            type_coerce(
                case(
                    (_ss.c.sealed.is_not(None), live),
                    (_rt.c.successor_sealed.is_not(None), legacy_live),
                    else_=false(),
                ),
                Boolean,
            ),
            _rt.c.session_id,
        )
        .select_from(_rt.outerjoin(_ss, _ss.c.token_id == _rt.c.id))
        .where(_rt.c.token_hash == bindparam("p_token_hash", type_=String))
    )


def _rotation_params(
    token_hash: str,
    client_id: str,
    new_hash: str,
    now: int,
    ttl: int,
    max_lifetime: int,
    sealed: bytes | None,
    scopes: list[str],
) -> dict[str, Any]:
    return {
        "p_token_hash": token_hash,
        "p_client_id": client_id,
        "p_now": now,
        "p_sealed": sealed,
        "p_new_hash": new_hash,
        "p_expires_at": now + ttl,
        "p_max_lifetime": max_lifetime,
        **{f"p_scope_{i}": f" {s} " for i, s in enumerate(scopes)},
    }


def _in_id_order(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Rows matching ``condition``, locked in id order (``FOR UPDATE``; ignored by SQLite).

    Two transactions revoking the same family (parallel replays of a used token) would otherwise
    lock its rows in whatever order each scan meets them, and deadlock on PostgreSQL.
    """
    ids = select(_rt.c.id).where(condition).order_by(_rt.c.id).with_for_update()
    return _rt.c.id.in_(ids.scalar_subquery())


class SqlAlchemyRefreshTokens:
    """Every statement through SQLAlchemy: the rotation in a transaction of its own, revocations in the
    request's session (its unit of work)."""

    def start_family(
        self,
        *,
        token_hash: str,
        client_id: str,
        user_id: str,
        scope: str,
        now: int,
        expires_at: int,
        session_id: str | None = None,
    ) -> Grant:
        family_id = str(uuid.uuid4())
        row = db.session.execute(
            START_FAMILY,
            family_params(token_hash, family_id, client_id, user_id, scope, now, expires_at, session_id=session_id),
        ).one()
        db.session.commit()
        return Grant(row[0], user_id, client_id, family_id, scope, now)

    def rotate(
        self,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: int,
        ttl: int,
        max_lifetime: int,
        sealed: bytes | None,
        grace_seconds: int = 0,
        required_scopes: list[str] | None = None,
    ) -> Grant | None:
        """One transaction: consume, insert the successor (two statements; SQLite has no UPDATE in a CTE)
        and, with a grace window, keep the sealed successor and erase the ones no replay can claim (two more)."""
        scopes = required_scopes or []
        params = _rotation_params(token_hash, client_id, new_hash, now, ttl, max_lifetime, sealed, scopes)
        with db.engine.begin() as conn:
            old = conn.execute(_consume(len(scopes)), params).one_or_none()
            if old is None:
                return None
            row = conn.execute(
                insert(_rt)
                .values(
                    token_hash=new_hash,
                    family_id=old.family_id,
                    parent_id=old.id,
                    client_id=client_id,
                    user_id=old.user_id,
                    scope=old.scope,
                    auth_time=old.auth_time,
                    session_id=old.session_id,
                    issued_at=now,
                    expires_at=min(now + ttl, old.auth_time + max_lifetime),
                )
                .returning(*_GRANT_COLUMNS)
            ).one()
            if sealed is not None:
                conn.execute(insert(_ss).values(token_id=old.id, successor_id=row.id, used_at=now, sealed=sealed))
                conn.execute(_erase_sealed(), {"p_parent_id": old.parent_id, "p_cutoff": now - grace_seconds})
        return _grant(row, client_id)

    def lookup(self, token_hash: str, now: int) -> TokenState | None:
        row = db.session.execute(_lookup(), {"p_token_hash": token_hash, "p_now": now}).one_or_none()
        return None if row is None else TokenState(*row)

    def revoke_family(self, family_id: str, now: int) -> int:
        revocations.changed()
        condition = _rt.c.family_id == family_id
        revoked = _changed(
            update(_rt)
            .where(_in_id_order(condition))
            .values(revoked_at=func.coalesce(_rt.c.revoked_at, now), successor_sealed=None)
        )
        _erase_sealed_of(condition)
        return revoked

    def family_is_active(self, family_id: str) -> bool:
        return (
            db.session.execute(
                select(_rt.c.id).where(_rt.c.family_id == family_id, _rt.c.revoked_at.is_(None)).limit(1)
            ).first()
            is not None
        )

    def revoke_user_families(self, user_id: str, now: int) -> int:
        revoked = _revoke_rows(_rt.c.user_id == user_id, now)
        db.session.execute(update(_users).where(_users.c.id == user_id).values(sessions_not_before=now))
        return revoked

    def revoke_session_families(self, session_id: str, now: int) -> int:
        return _revoke_rows(_rt.c.session_id == session_id, now)

    def revoke_client_user_families(self, client_id: str, user_id: str, now: int) -> int:
        # A family has one client: its rows are exactly the user's rows of that client.
        return _revoke_rows(and_(_rt.c.user_id == user_id, _rt.c.client_id == client_id), now)

    def purge(self, now: int, grace_seconds: int, batch_size: int, access_token_max_ttl: int) -> Purged:
        """Memory stays bounded: each batch selects at most ``batch_size`` ids."""
        cutoff = now - grace_seconds
        sealed_erased = _changed(delete(_ss).where(_ss.c.used_at < cutoff))
        # Rows sealed by a release before sealed_successors (kept through a rolling upgrade).
        sealed_erased += _changed(
            update(_rt).where(_rt.c.successor_sealed.is_not(None), _rt.c.used_at < cutoff).values(successor_sealed=None)
        )
        db.session.commit()
        deleted = 0
        while ids := [
            r[0]
            for r in db.session.execute(
                select(_rt.c.id).where(_rt.c.expires_at <= now - access_token_max_ttl).limit(batch_size)
            )
        ]:
            # Children keep their rows; only the link to a purged parent goes.
            db.session.execute(update(_rt).where(_rt.c.parent_id.in_(ids)).values(parent_id=None))
            db.session.execute(delete(_rt).where(_rt.c.id.in_(ids)))
            db.session.commit()
            deleted += len(ids)
        return Purged(refresh_tokens=deleted, sealed_erased=sealed_erased)


class PostgresqlRefreshTokens(SqlAlchemyRefreshTokens):
    """The hot paths (a login's new family, a refresh's rotation and, when it fails, the lookup) as precompiled
    single statements on the held autocommit connection; revocations stay in the request's session."""

    def start_family(
        self,
        *,
        token_hash: str,
        client_id: str,
        user_id: str,
        scope: str,
        now: int,
        expires_at: int,
        session_id: str | None = None,
    ) -> Grant:
        family_id = str(uuid.uuid4())
        row = autocommit.fetchone(
            START_FAMILY,
            family_params(token_hash, family_id, client_id, user_id, scope, now, expires_at, session_id=session_id),
        )
        assert row is not None
        return Grant(row[0], user_id, client_id, family_id, scope, now)

    def rotate(
        self,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: int,
        ttl: int,
        max_lifetime: int,
        sealed: bytes | None,
        grace_seconds: int = 0,
        required_scopes: list[str] | None = None,
    ) -> Grant | None:
        """One statement (consume and insert the successor, a data-modifying CTE), one round trip, atomic on
        its own in autocommit. With a grace window (``sealed`` given) and the token consumed, a second one
        erases the lapsed sealed successors."""
        scopes = required_scopes or []
        params = _rotation_params(token_hash, client_id, new_hash, now, ttl, max_lifetime, sealed, scopes)
        row = autocommit.fetchone(_rotation(len(scopes)), {**params, "p_cutoff": now - grace_seconds})
        return None if row is None else _grant(row, client_id)

    def lookup(self, token_hash: str, now: int) -> TokenState | None:
        row = autocommit.fetchone(_lookup(), {"p_token_hash": token_hash, "p_now": now})
        return None if row is None else TokenState(*row)


def family_params(
    token_hash: str,
    family_id: str,
    client_id: str,
    user_id: str,
    scope: str,
    now: int,
    expires_at: int,
    *,
    session_id: str | None = None,
    auth_time: int | None = None,
) -> dict[str, Any]:
    """The parameters of :data:`START_FAMILY`; the family's login is ``auth_time``, by default ``now``."""
    return {
        "p_token_hash": token_hash,
        "p_family_id": family_id,
        "p_client_id": client_id,
        "p_user_id": user_id,
        "p_scope": scope,
        "p_session_id": session_id,
        "p_auth_time": now if auth_time is None else auth_time,
        "p_now": now,
        "p_expires_at": expires_at,
    }


def _revoke_rows(condition: ColumnElement[bool], now: int) -> int:
    """Revoke the rows matching ``condition`` and erase their sealed successors, in the request's session."""
    revocations.changed()
    revoked = _changed(
        update(_rt)
        .where(_in_id_order(and_(condition, or_(_rt.c.revoked_at.is_(None), _rt.c.successor_sealed.is_not(None)))))
        .values(revoked_at=func.coalesce(_rt.c.revoked_at, now), successor_sealed=None)
    )
    _erase_sealed_of(condition)
    return revoked


def _erase_sealed_of(condition: ColumnElement[bool]) -> None:
    """Erase the sealed successors kept for the rows matching ``condition`` (after they were revoked, and
    locked, by the caller's update)."""
    db.session.execute(delete(_ss).where(_ss.c.token_id.in_(select(_rt.c.id).where(condition))))


def _changed(statement: Any) -> int:
    """Run a write in the request's session; the number of rows it changed."""
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def _grant(row: Any, client_id: str) -> Grant:
    token_id, user_id, family_id, scope, auth_time, parent_id, session_id = row
    return Grant(token_id, user_id, client_id, family_id, scope, auth_time, parent_id, session_id)


def make_store(app: Flask) -> RefreshTokenStore:
    postgresql = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    return PostgresqlRefreshTokens() if postgresql else SqlAlchemyRefreshTokens()
