"""The revoked access tokens' store: the ``jti`` of each access token revoked before its expiry (RFC 7009 §2).

Protocol code reaches it as ``current_stores().revoked_jtis``. Both databases take the same SQLAlchemy
statements in the request's session (revocation's unit of work); only the ``INSERT ... ON CONFLICT DO
NOTHING`` dialect is chosen, once, when the app is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol
from typing import cast

from flask import Flask
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from authserver.extensions import db
from authserver.models import RevokedAccessToken
from authserver.store import revocations

_jti = cast(Table, RevokedAccessToken.__table__)  # a mapped class's table (typed FromClause)


class RevokedJtiStore(Protocol):
    """Revoked access tokens' ``jti``, each kept until the token would expire anyway."""

    def revoke(self, jti: str, client_id: str, expires_at: int, now: int) -> None:
        """Remember a revoked access token's jti, in the request's unit of work; revoking it again is no error."""
        ...

    def is_revoked(self, jti: str) -> bool: ...

    def purge(self, now: int, batch_size: int) -> int:
        """Delete the jtis of tokens expired by ``now``, in batches of ``batch_size`` committed one by one;
        returns how many went."""
        ...


class SqlAlchemyRevokedJtis:
    """``revoked_access_tokens`` through SQLAlchemy, in the request's session."""

    def __init__(self, insert: Callable[[Any], Any]) -> None:
        self._insert = insert  # the dialect's INSERT, which has ON CONFLICT

    def revoke(self, jti: str, client_id: str, expires_at: int, now: int) -> None:
        # Revoked concurrently or before: the outcome is the same, so a conflict is no error.
        revocations.changed()
        db.session.execute(
            self._insert(_jti)
            .values(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now)
            .on_conflict_do_nothing(index_elements=[_jti.c.jti])
        )

    def is_revoked(self, jti: str) -> bool:
        return db.session.execute(select(_jti.c.jti).where(_jti.c.jti == jti)).first() is not None

    def purge(self, now: int, batch_size: int) -> int:
        deleted = 0
        while jtis := [
            r[0] for r in db.session.execute(select(_jti.c.jti).where(_jti.c.expires_at <= now).limit(batch_size))
        ]:
            db.session.execute(delete(_jti).where(_jti.c.jti.in_(jtis)))
            db.session.commit()
            deleted += len(jtis)
        return deleted


def make_store(app: Flask) -> RevokedJtiStore:
    postgresql_database = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    return SqlAlchemyRevokedJtis(postgresql.insert if postgresql_database else sqlite.insert)
