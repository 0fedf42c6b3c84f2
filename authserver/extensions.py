"""The database extension and the declarative base of every model; ``create_app`` binds ``db`` with ``init_app``
(:func:`authserver.store.database.init_app`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every model."""


# Objects stay readable after commit: the token path commits the rotation, then reads the client
# to sign; expiring it would cost one more SELECT per refresh.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

if TYPE_CHECKING:
    # What db.Model is at run time: Flask-SQLAlchemy's subclass of Base (a class attribute of an
    # instance, which a type checker cannot take as a base class).
    Model = Base
else:
    Model = db.Model
