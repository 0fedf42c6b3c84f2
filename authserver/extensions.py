"""The database extension and the declarative base of every model; ``create_app`` binds ``db`` with ``init_app``
(:func:`authserver.store.database.init_app`)."""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every model."""


# Objects stay readable after commit: the token path commits the rotation, then reads the client
# to sign; expiring it would cost one more SELECT per refresh.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
