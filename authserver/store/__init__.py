"""Every SQL statement, behind one store per aggregate, each chosen once when the app is created.

Protocol code reaches the app's stores through :func:`current_stores` (like ``current_keyring()``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask import current_app

from authserver.store import refresh_token_sql
from authserver.store import revoked_jtis
from authserver.store.refresh_tokens import RefreshTokenStore
from authserver.store.revoked_jtis import RevokedJtiStore

_EXTENSION = "authserver.stores"


@dataclass(frozen=True)
class Stores:
    """The app's stores, one per aggregate."""

    refresh_tokens: RefreshTokenStore
    revoked_jtis: RevokedJtiStore


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = Stores(
        refresh_tokens=refresh_token_sql.make_store(app),
        revoked_jtis=revoked_jtis.make_store(app),
    )


def current_stores() -> Stores:
    """The current app's stores."""
    stores: Stores = current_app.extensions[_EXTENSION]
    return stores
