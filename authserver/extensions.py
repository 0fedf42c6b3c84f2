"""Unbound extension singletons; ``create_app`` binds each with ``init_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from authserver.oauth.server import AuthorizationServer


class Base(DeclarativeBase):
    """Declarative base of every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
authorization = AuthorizationServer()
