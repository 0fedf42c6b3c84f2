"""Every SQL statement of the server, behind one store per aggregate, chosen once when the app is created.

Each store is a ``Protocol`` with a PostgreSQL implementation (precompiled single statements on the held
autocommit connection, :mod:`authserver.store.autocommit`, where the path is hot) and a SQLAlchemy one
(SQLite). :func:`init_app` picks them from the database URL; protocol code reaches them through
:func:`current_stores`, never through ``db``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask import current_app

from authserver.keys.storage import KeyStore
from authserver.settings import current_settings
from authserver.store import authorization_codes
from authserver.store import clients
from authserver.store import consents
from authserver.store import database
from authserver.store import families
from authserver.store import login_sessions
from authserver.store import refresh_token_sql
from authserver.store import revoked_jtis
from authserver.store import signing_keys
from authserver.store import throttle_counters
from authserver.store import users
from authserver.store.refresh_tokens import RefreshTokenStore
from authserver.store.revoked_jtis import RevokedJtiStore

_EXTENSION = "authserver.stores"


@dataclass(frozen=True)
class Stores:
    """The app's stores, one per aggregate."""

    users: users.UserStore
    clients: clients.ClientStore
    throttle_counters: throttle_counters.Store
    refresh_tokens: RefreshTokenStore
    revoked_jtis: RevokedJtiStore
    consents: consents.ConsentStore
    login_sessions: login_sessions.LoginSessionStore
    authorization_codes: authorization_codes.AuthorizationCodeStore
    families: families.FamilyStore
    #: The keys directory or the database (``AUTHSERVER_KEYS_STORE``).
    signing_keys: KeyStore


def init_app(app: Flask) -> None:
    """Bind the database to ``app`` and build its stores (once: nothing chooses an implementation per call)."""
    database.init_app(app)
    postgresql, settings = database.is_postgresql(app), current_settings(app)
    app.extensions[_EXTENSION] = Stores(
        users=users.make_store(postgresql),
        clients=clients.make_store(settings.client_cache_seconds),
        throttle_counters=throttle_counters.make_store(settings.redis_url, postgresql),
        refresh_tokens=refresh_token_sql.make_store(app),
        revoked_jtis=revoked_jtis.make_store(app),
        consents=consents.make_store(),
        login_sessions=login_sessions.make_store(
            settings.login.session_idle_seconds, settings.login.session_max_seconds
        ),
        authorization_codes=authorization_codes.make_store(),
        families=families.make_store(),
        signing_keys=signing_keys.make_store(app, settings.keys),
    )


def stores_of(app: Flask) -> Stores:
    return app.extensions[_EXTENSION]


def current_stores() -> Stores:
    return stores_of(current_app)
