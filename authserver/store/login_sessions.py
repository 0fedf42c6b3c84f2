"""Login sessions: a user signed in at the authorization endpoint's login page, remembered by a cookie.

The cookie carries a 256-bit random token; the store keeps only its SHA-256 digest (like refresh tokens), so
a copy of the table opens no session. A session lasts until the first of: its idle lifetime without an
authorization request (``LOGIN_SESSION_IDLE_SECONDS``), its absolute end (``LOGIN_SESSION_MAX_SECONDS`` after
the sign-in), its end (signed out, log out everywhere, ``users revoke-sessions``), or its user being disabled.

Not a hot path (one lookup per authorization request), so one SQLAlchemy implementation serves every
database. :meth:`start` and :meth:`find` commit on their own; :meth:`end_user_sessions` writes in the
request's unit of work, like the refresh-token store's ``revoke_user_families`` beside which it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from authserver.digests import new_token
from authserver.digests import token_digest
from authserver.extensions import db
from authserver.models import LoginSession
from authserver.models import User

_ls = cast(Table, LoginSession.__table__)  # a mapped class's table (typed FromClause)
_users = cast(Table, User.__table__)


@dataclass(frozen=True)
class LoginSessionInfo:
    """A live login session: its public id (the ID token's ``sid``), its user, and when the user signed in."""

    id: str
    user_id: str
    username: str
    auth_time: int
    expires_at: int


class LoginSessionStore(Protocol):
    def start(self, user_id: str, now: int) -> tuple[str, str]:
        """A new session for ``user_id`` signed in at ``now``: ``(session_id, cookie_token)``, committed."""
        ...

    def find(self, cookie_token: str, now: int) -> LoginSessionInfo | None:
        """The live session of this cookie token (its idle time restarted), else ``None``."""
        ...

    def end(self, session_id: str, now: int) -> bool:
        """End one session (signed out), committed; ``False`` if it had ended already or never existed."""
        ...

    def end_user_sessions(self, user_id: str, now: int) -> int:
        """End every live session of the user, in the request's unit of work; how many ended."""
        ...

    def purge(self, now: int, batch_size: int) -> int:
        """Delete the sessions that can never be live again, in committed batches; how many went."""
        ...


class SqlLoginSessionStore:
    def __init__(self, idle_seconds: int, max_seconds: int) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def start(self, user_id: str, now: int) -> tuple[str, str]:
        session_id, token = str(uuid.uuid4()), new_token()
        db.session.execute(
            _ls.insert().values(
                id=session_id,
                secret_hash=token_digest(token),
                user_id=user_id,
                auth_time=now,
                last_seen_at=now,
                expires_at=now + self.max_seconds,
                ended_at=None,
            )
        )
        db.session.commit()
        return session_id, token

    def _live(self, now: int) -> list[Any]:
        return [_ls.c.ended_at.is_(None), _ls.c.expires_at > now, _ls.c.last_seen_at > now - self.idle_seconds]

    def find(self, cookie_token: str, now: int) -> LoginSessionInfo | None:
        row = db.session.execute(
            select(_ls.c.id, _ls.c.user_id, _users.c.username, _ls.c.auth_time, _ls.c.expires_at, _ls.c.last_seen_at)
            .join(_users, _users.c.id == _ls.c.user_id)
            .where(_ls.c.secret_hash == token_digest(cookie_token), _users.c.disabled.is_(False), *self._live(now))
        ).one_or_none()
        if row is None:
            return None
        if row.last_seen_at < now:  # the idle lifetime starts again
            db.session.execute(update(_ls).where(_ls.c.id == row.id).values(last_seen_at=now))
            db.session.commit()
        return LoginSessionInfo(row.id, row.user_id, row.username, row.auth_time, row.expires_at)

    def end(self, session_id: str, now: int) -> bool:
        ended = _changed(update(_ls).where(_ls.c.id == session_id, _ls.c.ended_at.is_(None)).values(ended_at=now))
        db.session.commit()
        return ended > 0

    def end_user_sessions(self, user_id: str, now: int) -> int:
        return _changed(update(_ls).where(_ls.c.user_id == user_id, _ls.c.ended_at.is_(None)).values(ended_at=now))

    def purge(self, now: int, batch_size: int) -> int:
        dead = or_(_ls.c.ended_at.is_not(None), _ls.c.expires_at <= now, _ls.c.last_seen_at <= now - self.idle_seconds)
        deleted = 0
        while ids := [r[0] for r in db.session.execute(select(_ls.c.id).where(dead).limit(batch_size))]:
            db.session.execute(delete(_ls).where(_ls.c.id.in_(ids)))
            db.session.commit()
            deleted += len(ids)
        return deleted


def _changed(statement: Any) -> int:
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def make_store(idle_seconds: int, max_seconds: int) -> LoginSessionStore:
    return SqlLoginSessionStore(idle_seconds, max_seconds)
