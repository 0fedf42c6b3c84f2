"""authserver: an OAuth 2.0 authorization server issuing RS256 JWT access tokens and rotating refresh tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from authserver import errors
from authserver import store
from authserver import telemetry
from authserver import wsgi
from authserver.cli import register_commands
from authserver.clock import Clock
from authserver.keys import keyring
from authserver.keys.records import KeystoreError
from authserver.keys.storage import ensure_development_key
from authserver.oauth import server as authorization_server
from authserver.passwords import hasher
from authserver.settings import Settings
from authserver.settings import init_app as init_settings
from authserver.store import stores_of
from authserver.store.database import engine_options
from authserver.throttle import policy as throttle_policy
from authserver.views import authorize
from authserver.views import health
from authserver.views import json_api
from authserver.views import logout
from authserver.views import oauth
from authserver.views import userinfo
from authserver.views import wellknown

log = logging.getLogger("authserver")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The public listener's app (``AUTHSERVER_*`` plus ``overrides``, see :func:`_build`): the OAuth and
    OpenID endpoints, the JSON API, the pages, and the CLI's commands."""
    app = _build(overrides)
    _register_blueprints(app)
    register_commands(app)
    return app


def create_admin_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The admin listener's app (``AUTHSERVER_ADMIN_BIND``): the admin HTTP API only (:mod:`authserver.admin_api`).

    The same settings, stores and keys as the public app; none of the public routes, and the public app
    has none of these (they answer 404 there)."""
    from authserver import admin_api

    app = _build(overrides)
    admin_api.init_app(app)
    return app


def create_management_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The management listener's app (``AUTHSERVER_MANAGEMENT_BIND``): health, readiness, metrics and
    version (:mod:`authserver.management`), never routed by the public proxy."""
    from authserver import management

    app = _build(overrides)
    management.init_app(app)
    return app


def _build(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from ``AUTHSERVER_*`` and ``overrides``, then extensions and blueprints.

    Besides settings, ``overrides`` takes three switches for callers other than the server: ``CLOCK``
    (a :class:`~authserver.clock.Clock`, tests), ``KEYS_REQUIRED=False`` (the CLI works on an empty
    or broken keys directory) and ``MIGRATIONS=True`` (registers Flask-Migrate for ``db`` commands).

    Raises :class:`ConfigError` (or :class:`~authserver.keys.keystore.KeystoreError`) on bad set-up.
    """
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = Settings.load(overrides, instance_path=app.instance_path)
    app.config.update(overrides or {})  # the switches; the settings' validated values replace the rest below
    init_settings(app, settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        MAX_FORM_PARTS=100,
    )
    telemetry.init_app(app)
    for message in settings.warnings:
        log.warning(message, extra={"event": "config.warning"})
    app.extensions["authserver.clock"] = app.config.get("CLOCK") or Clock()
    store.init_app(app)
    telemetry.init_stores(app)
    hasher.init_app(app)
    throttle_policy.init_app(app)
    _init_keystore(app)
    authorization_server.init_app(app)
    errors.init_app(app)
    return app


def _init_keystore(app: Flask) -> None:
    key_store = stores_of(app).signing_keys
    if not app.config.get("KEYS_REQUIRED", True):
        # The CLI: `authserver keys ...` must work on an empty or broken key store.
        try:
            keyring.init_app(app, key_store)
        except KeystoreError as exc:
            log.warning("signing keys not loaded: %s", exc, extra={"event": "key.load_failed"})
        return
    if app.config["ENV"] == "development":
        created = ensure_development_key(
            key_store, app.extensions["authserver.clock"].now(), app.config["KEYS_PASSPHRASE"] or None
        )
        if created is not None:
            log.warning("generated a development signing key", extra={"event": "key.generated", "kid": created.kid})
    keyring.init_app(app, key_store)


def _register_blueprints(app: Flask) -> None:
    app.register_blueprint(oauth.bp)
    app.register_blueprint(authorize.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(json_api.bp)
    app.register_blueprint(userinfo.bp)
    app.register_blueprint(logout.bp)
    wsgi.install_pipeline(app)


__all__ = ["create_admin_app", "create_app", "create_management_app"]
