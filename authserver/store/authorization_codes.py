"""Authorization codes (RFC 6749 §4.1.2): stored only as SHA-256 digests, single use, short-lived.

Redeeming a code and starting its family are one transaction: the ``UPDATE ... WHERE used_at IS NULL ...
RETURNING`` that marks the code used (so of N parallel redemptions exactly one finds it unused; on PostgreSQL
the others wait on its row lock, then find it used) and the insert of the family's first refresh token,
committed together. So whoever sees a code used also sees the family its redemption started, and a second
redemption can always revoke it (RFC 6749 §4.1.2).

The code's binding (its client, redirect URI, PKCE challenge) is checked by the grant against :meth:`find`
first; the consuming statement guards the race, the expiry, the user (still enabled) and the login session
(not ended: logging out everywhere also voids the codes issued in it). Not a hot path, so one SQLAlchemy
implementation serves every database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol
from typing import cast

from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import AuthorizationCode
from authserver.models import LoginSession
from authserver.models import RefreshToken
from authserver.models import User
from authserver.store.refresh_token_sql import START_FAMILY
from authserver.store.refresh_token_sql import family_params

_codes = cast(Table, AuthorizationCode.__table__)  # a mapped class's table (typed FromClause)
_sessions = cast(Table, LoginSession.__table__)
_users = cast(Table, User.__table__)
_rt = cast(Table, RefreshToken.__table__)


@dataclass(frozen=True)
class NewCode:
    """What an authorization code is bound to, as the authorization endpoint issued it."""

    client_id: str
    user_id: str
    session_id: str | None
    #: As sent to the authorization endpoint; ``None`` when it was omitted.
    redirect_uri: str | None
    code_challenge: str
    scope: str
    nonce: str | None
    auth_time: int
    expires_at: int


@dataclass(frozen=True)
class CodeState(NewCode):
    """A stored code: its binding and whether it was used, and the family its redemption started."""

    used_at: int | None = None
    family_id: str | None = None


@dataclass(frozen=True)
class Redeemed:
    """A code just redeemed, and the family that began with it (its first refresh token stored)."""

    user_id: str
    session_id: str | None
    scope: str
    nonce: str | None
    auth_time: int
    family_id: str
    #: When the family's first refresh token expires.
    refresh_expires_at: int


@dataclass(frozen=True)
class FirstRefreshToken:
    """The first refresh token of the family a redemption starts: its digest and lifetimes (seconds)."""

    token_hash: str
    ttl: int
    max_lifetime: int


class AuthorizationCodeStore(Protocol):
    def save(self, code_hash: str, code: NewCode) -> None:
        """Store a new code, committed."""
        ...

    def find(self, code_hash: str) -> CodeState | None:
        """The stored code with this digest, used or not, expired or not."""
        ...

    def redeem(self, code_hash: str, client_id: str, now: int, refresh: FirstRefreshToken) -> Redeemed | None:
        """Mark the code used and start its family, atomically, committed; ``None`` (nothing changed) if it is
        not this client's, used, expired, its user disabled or its login session ended."""
        ...

    def use_up(self, code_hash: str, client_id: str, now: int) -> None:
        """Mark the client's unused code used without redeeming it (a failed attempt), committed."""
        ...

    def use_up_for(self, client_id: str, user_id: str, now: int) -> int:
        """Spend every unused code the client holds for the user (a consent withdrawn), in the request's unit
        of work, without committing; the codes spent."""
        ...

    def purge(self, now: int, batch_size: int) -> int:
        """Delete expired codes: unused ones, and used ones whose family has no refresh token left (until then
        a late replay still revokes it); committed in batches; how many went."""
        ...


class SqlAuthorizationCodes:
    def save(self, code_hash: str, code: NewCode) -> None:
        db.session.execute(_codes.insert().values(code_hash=code_hash, used_at=None, family_id=None, **vars(code)))
        db.session.commit()

    def find(self, code_hash: str) -> CodeState | None:
        row = db.session.execute(select(_codes).where(_codes.c.code_hash == code_hash)).one_or_none()
        if row is None:
            return None
        values = row._asdict()
        del values["code_hash"]
        return CodeState(**values)

    def redeem(self, code_hash: str, client_id: str, now: int, refresh: FirstRefreshToken) -> Redeemed | None:
        family_id = str(uuid.uuid4())
        user_enabled = select(_users.c.id).where(_users.c.id == _codes.c.user_id, _users.c.disabled.is_(False))
        session_live = select(_sessions.c.id).where(
            _sessions.c.id == _codes.c.session_id, _sessions.c.ended_at.is_(None)
        )
        consume = (
            update(_codes)
            .where(
                _codes.c.code_hash == code_hash,
                _codes.c.client_id == client_id,
                _codes.c.used_at.is_(None),
                _codes.c.expires_at > now,
                exists(user_enabled),
                or_(_codes.c.session_id.is_(None), exists(session_live)),
            )
            .values(used_at=now, family_id=family_id)
            .returning(_codes.c.user_id, _codes.c.session_id, _codes.c.scope, _codes.c.nonce, _codes.c.auth_time)
        )
        with db.engine.begin() as conn:
            row = conn.execute(consume).one_or_none()
            if row is None:
                return None
            # The family's absolute lifetime counts from the sign-in, as the password grant's counts from its login.
            expires_at = min(now + refresh.ttl, row.auth_time + refresh.max_lifetime)
            params = family_params(
                refresh.token_hash,
                family_id,
                client_id,
                row.user_id,
                row.scope,
                now,
                expires_at,
                session_id=row.session_id,
                auth_time=row.auth_time,
            )
            conn.execute(START_FAMILY, params)
        return Redeemed(row.user_id, row.session_id, row.scope, row.nonce, row.auth_time, family_id, expires_at)

    def use_up(self, code_hash: str, client_id: str, now: int) -> None:
        db.session.execute(
            update(_codes)
            .where(_codes.c.code_hash == code_hash, _codes.c.client_id == client_id, _codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        db.session.commit()

    def use_up_for(self, client_id: str, user_id: str, now: int) -> int:
        result = db.session.execute(
            update(_codes)
            .where(_codes.c.client_id == client_id, _codes.c.user_id == user_id, _codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def purge(self, now: int, batch_size: int) -> int:
        family_left = select(_rt.c.id).where(_rt.c.family_id == _codes.c.family_id)
        dead = (
            select(_codes.c.code_hash)
            .where(_codes.c.expires_at <= now, or_(_codes.c.family_id.is_(None), ~exists(family_left)))
            .limit(batch_size)
        )
        deleted = 0
        while hashes := [r[0] for r in db.session.execute(dead)]:
            db.session.execute(delete(_codes).where(_codes.c.code_hash.in_(hashes)))
            db.session.commit()
            deleted += len(hashes)
        return deleted


def make_store() -> AuthorizationCodeStore:
    return SqlAuthorizationCodes()
