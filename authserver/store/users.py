"""Users: the login lookup (the hot path), what introspection needs, and the administration's reads and writes.

The login lookup is one precompiled statement: on PostgreSQL on the held autocommit connection
(:mod:`authserver.store.autocommit`), elsewhere on the app's session. Every write commits on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from typing import cast

from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from authserver.extensions import db
from authserver.models import User
from authserver.store import autocommit
from authserver.store import revocations

_users = cast(Table, User.__table__)  # a mapped class's table (typed FromClause)


class UserExistsError(Exception):
    """Another user has the same username or normal form (created in parallel)."""


@dataclass(frozen=True)
class Login:
    """What a password login needs of a user."""

    id: str
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class Standing:
    """Whether a user's tokens can be active: disabled, or logged out everywhere at ``sessions_not_before``."""

    disabled: bool
    sessions_not_before: int | None


@dataclass(frozen=True)
class UserRecord:
    """A user as the administration shows it (never its password hash)."""

    id: str
    username: str
    disabled: bool
    created_at: datetime
    name: str | None = None
    email: str | None = None
    email_verified: bool = False

    @classmethod
    def of(cls, user: User) -> UserRecord:
        return cls(
            user.id, user.username, user.disabled, user.created_at, user.name, user.email, bool(user.email_verified)
        )


@dataclass(frozen=True)
class Profile:
    """What the user record says about a user for OpenID Connect (Core §5.1): ``id`` is the ``sub``."""

    id: str
    username: str
    name: str | None
    email: str | None
    email_verified: bool


class UserStore(Protocol):
    def login(self, normal_username: str) -> Login | None:
        """The user with this normal form of a username, for a password login: one statement."""
        ...

    def standing(self, user_id: str) -> Standing | None: ...
    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...
    def find(self, normal_username: str) -> UserRecord | None: ...
    def spelling(self, normal_username: str) -> str | None:
        """The username, as created, of the user with this normal form."""
        ...

    def create(
        self,
        username: str,
        normal_username: str,
        password_hash: str,
        *,
        name: str | None = None,
        email: str | None = None,
        email_verified: bool = False,
    ) -> UserRecord:
        """Raises :class:`UserExistsError` if the username or its normal form is taken."""
        ...

    def disable(self, user_id: str) -> None: ...
    def profile(self, user_id: str) -> Profile | None:
        """The user's OpenID Connect claims; ``None`` for an unknown user id."""
        ...

    def set_profile(self, user_id: str, name: str | None, email: str | None, email_verified: bool) -> None:
        """Replace the user's name, email and whether the email is verified."""
        ...

    def all(self) -> list[UserRecord]:
        """Every user, by username."""
        ...

    def page(self, after: str | None, limit: int) -> list[UserRecord]:
        """Up to ``limit`` users by normal username, those after the normal username ``after`` (keyset)."""
        ...


_PROFILE = select(_users.c.id, _users.c.username, _users.c.name, _users.c.email, _users.c.email_verified).where(
    _users.c.id == bindparam("p_user_id", type_=String)
)
_LOGIN = select(_users.c.id, _users.c.password_hash, _users.c.disabled).where(
    _users.c.normal_username == bindparam("p_username", type_=String)
)


class SqlUserStore:
    """Users through SQLAlchemy on the app's session (SQLite; and PostgreSQL but for the login lookup)."""

    def login(self, normal_username: str) -> Login | None:
        row = db.session.execute(_LOGIN, {"p_username": normal_username}).one_or_none()
        return None if row is None else Login(*row)

    def standing(self, user_id: str) -> Standing | None:
        user = db.session.get(User, user_id)
        return None if user is None else Standing(user.disabled, user.sessions_not_before)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        db.session.execute(update(_users).where(_users.c.id == user_id).values(password_hash=password_hash))
        db.session.commit()

    def _find(self, normal_username: str) -> User | None:
        return db.session.execute(select(User).where(User.normal_username == normal_username)).scalar_one_or_none()

    def find(self, normal_username: str) -> UserRecord | None:
        user = self._find(normal_username)
        return None if user is None else UserRecord.of(user)

    def spelling(self, normal_username: str) -> str | None:
        return db.session.execute(
            select(User.username).where(User.normal_username == normal_username)
        ).scalar_one_or_none()

    def create(
        self,
        username: str,
        normal_username: str,
        password_hash: str,
        *,
        name: str | None = None,
        email: str | None = None,
        email_verified: bool = False,
    ) -> UserRecord:
        user = User(
            username=username,
            normal_username=normal_username,
            password_hash=password_hash,
            disabled=False,
            name=name,
            email=email,
            email_verified=email_verified,
        )
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise UserExistsError(username) from None
        return UserRecord.of(user)

    def disable(self, user_id: str) -> None:
        revocations.changed()
        db.session.execute(update(_users).where(_users.c.id == user_id).values(disabled=True))
        db.session.commit()

    def profile(self, user_id: str) -> Profile | None:
        row = db.session.execute(_PROFILE, {"p_user_id": user_id}).one_or_none()
        return None if row is None else Profile(*row)

    def set_profile(self, user_id: str, name: str | None, email: str | None, email_verified: bool) -> None:
        db.session.execute(
            update(_users).where(_users.c.id == user_id).values(name=name, email=email, email_verified=email_verified)
        )
        db.session.commit()

    def all(self) -> list[UserRecord]:
        return [UserRecord.of(user) for user in db.session.execute(select(User).order_by(User.username)).scalars()]

    def page(self, after: str | None, limit: int) -> list[UserRecord]:
        query = select(User).order_by(User.normal_username).limit(limit)
        if after is not None:
            query = query.where(User.normal_username > after)
        return [UserRecord.of(user) for user in db.session.execute(query).scalars()]


class PostgresqlUserStore(SqlUserStore):
    """The login lookup on the held autocommit connection: one statement, no transaction, no pool checkout."""

    def login(self, normal_username: str) -> Login | None:
        row = autocommit.fetchone(_LOGIN, {"p_username": normal_username})
        return None if row is None else Login(*row)

    def profile(self, user_id: str) -> Profile | None:
        """Userinfo's read, like the login's: one statement on the held connection."""
        row = autocommit.fetchone(_PROFILE, {"p_user_id": user_id})
        return None if row is None else Profile(*row)


def make_store(postgresql: bool) -> UserStore:
    return PostgresqlUserStore() if postgresql else SqlUserStore()
