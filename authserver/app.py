"""authserver: an OAuth 2.0 authorization server issuing RS256 JWT access tokens and rotating refresh tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from authserver import errors
from authserver import telemetry
from authserver import wsgi
from authserver.clock import Clock
from authserver.keys import keyring
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import ensure_development_key
from authserver.passwords import hasher
from authserver.settings import Settings
from authserver.settings import init_app as init_settings
from authserver.throttle import policy as throttle_policy

log = logging.getLogger("authserver")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
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
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        MAX_FORM_PARTS=100,
    )
    telemetry.init_app(app)
    for message in settings.warnings:
        log.warning(message, extra={"event": "config.warning"})
    app.extensions["authserver.clock"] = app.config.get("CLOCK") or Clock()
    _init_database(app)
    hasher.init_app(app)
    throttle_policy.init_app(app)
    _init_keystore(app)
    _init_oauth(app)
    errors.init_app(app)
    _register_blueprints(app)
    from authserver.cli import register_commands

    register_commands(app)
    return app


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    # pool_pre_ping: a connection that died (a PostgreSQL restart or failover) is replaced before
    # use instead of failing a request. It costs a round trip per checkout, and the hottest paths
    # (refresh rotation, login lookups, throttle counters) do not check out of this pool: they run
    # on authserver.autocommit's own connection.
    return {"pool_size": 5, "max_overflow": 5, "pool_recycle": 1800, "pool_pre_ping": True}


def _init_database(app: Flask) -> None:
    from sqlalchemy import event

    from authserver.extensions import db

    db.init_app(app)
    if app.config.get("MIGRATIONS"):
        # Only the CLI (`authserver db ...`) and tests need Alembic: server workers stay ~11 MB smaller.
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(_migrations_dir()))
    if app.config["DATABASE_URL"].startswith("sqlite"):
        with app.app_context():
            # WAL lets readers run beside the one writer; busy_timeout queues writers instead of failing.
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=15000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()


def _migrations_dir() -> Path:
    """``migrations/`` beside the package in a checkout, else in the working directory (containers)."""
    beside = Path(__file__).resolve().parent.parent / "migrations"
    return beside if beside.is_dir() else Path.cwd() / "migrations"


def _init_keystore(app: Flask) -> None:
    keys_dir = Path(app.config["KEYS_DIR"])
    if not keys_dir.is_absolute():
        keys_dir = Path(app.root_path).parent / keys_dir
    app.config["KEYS_DIR"] = str(keys_dir)
    if not app.config.get("KEYS_REQUIRED", True):
        # The CLI: `authserver keys ...` must work on an empty or broken keys directory.
        try:
            keyring.init_app(app)
        except KeystoreError as exc:
            log.warning("signing keys not loaded: %s", exc, extra={"event": "key.load_failed"})
        return
    if app.config["ENV"] == "development":
        created = ensure_development_key(keys_dir, app.extensions["authserver.clock"].now(),
                                         app.config["KEYS_PASSPHRASE"] or None)
        if created is not None:
            log.warning("generated a development signing key", extra={"event": "key.generated", "kid": created.kid})
    keyring.init_app(app)


def _init_oauth(app: Flask) -> None:
    from authserver import autocommit
    from authserver.extensions import authorization
    from authserver.oauth import client_auth
    from authserver.oauth import clientcache
    from authserver.oauth.grants.client_credentials import ClientCredentialsGrant
    from authserver.oauth.grants.password import PasswordGrant
    from authserver.oauth.grants.refresh_token import RefreshTokenGrant
    from authserver.oauth.introspection import IntrospectionEndpoint
    from authserver.oauth.revocation import RevocationEndpoint

    clientcache.init_app(app)
    autocommit.init_app(app)
    authorization.init_app(app, authenticate_client=client_auth.authenticate)
    if not authorization._token_grants:
        authorization.register_grant(PasswordGrant)
        authorization.register_grant(RefreshTokenGrant)
        authorization.register_grant(ClientCredentialsGrant)
        authorization.register_endpoint(RevocationEndpoint)
        authorization.register_endpoint(IntrospectionEndpoint)


def _register_blueprints(app: Flask) -> None:
    from authserver.views import health
    from authserver.views import oauth
    from authserver.views import wellknown

    app.register_blueprint(oauth.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(health.bp)
    wsgi.install_pipeline(app)


__all__ = ["create_app"]
