"""Token families (one login's chain of refresh tokens) and their end: revocation, log out everywhere, purge.

Revoking a family is one set-based ``UPDATE`` over the family, never row by row (RFC 9700 §4.14.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import OperationalError

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import RevokedAccessToken
from authserver.models import User

_rt = RefreshToken.__table__
_jti = RevokedAccessToken.__table__
_users = User.__table__
T = TypeVar("T")


def _in_id_order(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Rows matching ``condition``, locked in id order (``FOR UPDATE``; ignored by SQLite).

    Two transactions revoking the same family (parallel replays of a used token) would otherwise
    lock its rows in whatever order each scan meets them, and deadlock on PostgreSQL.
    """
    ids = select(_rt.c.id).where(condition).order_by(_rt.c.id).with_for_update()
    return _rt.c.id.in_(ids.scalar_subquery())


def revoke_family(family_id: str, now: int) -> int:
    """Revoke every token of a family and erase any sealed successor; returns rows newly revoked."""
    result = db.session.execute(
        update(_rt).where(_in_id_order(_rt.c.family_id == family_id))
        .values(revoked_at=func.coalesce(_rt.c.revoked_at, now), successor_sealed=None)
    )
    return result.rowcount


def run_with_retry(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a unit of work in the session and commit it; retry on a deadlock or serialisation failure
    (PostgreSQL SQLSTATE 40P01 / 40001), which contention can cause and which must never be a 5xx."""
    for attempt in range(attempts):
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as exc:
            db.session.rollback()
            if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001") or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def family_is_active(family_id: str) -> bool:
    """A family is active while it has at least one unrevoked token."""
    return db.session.execute(
        select(_rt.c.id).where(_rt.c.family_id == family_id, _rt.c.revoked_at.is_(None)).limit(1)
    ).first() is not None


def revoke_user_families(user_id: str, now: int) -> int:
    """Log out everywhere: revoke all the user's families and refuse access tokens issued before now."""
    result = db.session.execute(
        update(_rt).where(_in_id_order(
            and_(_rt.c.user_id == user_id, or_(_rt.c.revoked_at.is_(None), _rt.c.successor_sealed.is_not(None)))))
        .values(revoked_at=func.coalesce(_rt.c.revoked_at, now), successor_sealed=None)
    )
    db.session.execute(update(_users).where(_users.c.id == user_id).values(sessions_not_before=now))
    return result.rowcount


def revoke_access_token(jti: str, client_id: str, expires_at: int, now: int) -> None:
    """Remember a revoked access token's jti until it would expire anyway (RFC 7009 §2)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    # Revoked concurrently or before: the outcome is the same, so a conflict is no error.
    db.session.execute(dialect.insert(_jti).values(jti=jti, client_id=client_id, expires_at=expires_at,
                                                   revoked_at=now).on_conflict_do_nothing(index_elements=[_jti.c.jti]))


def access_token_revoked(jti: str) -> bool:
    return db.session.execute(select(_jti.c.jti).where(_jti.c.jti == jti)).first() is not None


@dataclass
class PurgeResult:
    refresh_tokens: int = 0
    access_token_jtis: int = 0
    sealed_erased: int = 0


def purge(now: int, grace_seconds: int, batch_size: int = 5000, access_token_max_ttl: int = 0) -> PurgeResult:
    """Delete expired refresh tokens and revoked-jti rows in batches, committing after each batch.

    A token is kept until its own expiry, used or revoked, so a replay within its idle lifetime is
    still recognised as reuse; and ``access_token_max_ttl`` longer, so the family of an access token
    that is still valid keeps a row and introspection does not flip it to inactive. Memory stays
    bounded: each batch selects at most ``batch_size`` ids.
    """
    result = PurgeResult()
    result.sealed_erased = db.session.execute(
        update(_rt).where(_rt.c.successor_sealed.is_not(None), _rt.c.used_at < now - grace_seconds)
        .values(successor_sealed=None)).rowcount
    db.session.commit()
    for table, condition, field in ((_rt, _rt.c.expires_at <= now - access_token_max_ttl, "refresh_tokens"),
                                    (_jti, _jti.c.expires_at <= now, "access_token_jtis")):
        key = table.c.id if table is _rt else table.c.jti
        while True:
            ids = [r[0] for r in db.session.execute(select(key).where(condition).limit(batch_size))]
            if not ids:
                break
            if table is _rt:  # children keep their rows; only the link to a purged parent goes
                db.session.execute(update(_rt).where(_rt.c.parent_id.in_(ids)).values(parent_id=None))
            db.session.execute(delete(table).where(key.in_(ids)))
            db.session.commit()
            setattr(result, field, getattr(result, field) + len(ids))
    return result
