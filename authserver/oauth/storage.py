"""Database access of the password grant: the user a login names, and the upgrade of its password hash.

Refresh tokens and their families are in :mod:`authserver.store.refresh_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update

from authserver.extensions import db
from authserver.models import User
from authserver.store import autocommit
from authserver.usernames import MAX_LENGTH
from authserver.usernames import normal_form

_users = User.__table__


@dataclass(frozen=True)
class Login:
    """What a password login needs of a user."""

    id: str
    password_hash: str
    disabled: bool


_LOGIN = select(_users.c.id, _users.c.password_hash, _users.c.disabled).where(
    _users.c.normal_username == bindparam("p_username", type_=String))


def get_user_by_username(username: str) -> Login | None:
    """The user whose username has the same normal form as ``username`` (:mod:`authserver.usernames`)."""
    normal = normal_form(username)
    if len(normal) > MAX_LENGTH:
        return None
    params = {"p_username": normal}
    if autocommit.engine() is not None:
        row = autocommit.fetchone(_LOGIN, params)
    else:
        row = db.session.execute(_LOGIN, params).one_or_none()
    return None if row is None else Login(*row)


def set_password_hash(user_id: str, password_hash: str) -> None:
    db.session.execute(update(_users).where(_users.c.id == user_id).values(password_hash=password_hash))
    db.session.commit()
