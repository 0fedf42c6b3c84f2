"""Fixtures: one app per test from ``create_app({...})``, on SQLite and on PostgreSQL.

Every fixture that touches the database is parametrised over the backends in
``AUTHSERVER_TEST_BACKENDS`` (default ``sqlite,postgresql``). Each run gets fresh databases,
built by the real migrations. PostgreSQL is mandatory: an unreachable server fails the run.
Databases, servers and ports come from ``authserver.testing``, the harness shared with bench/; the
names below (``start_server``, ``_free_port``, ``_base_config``, ...) stay for the tests that import them.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import create_admin_app
from authserver import create_app
from authserver import create_management_app
from authserver.clock import FrozenClock
from authserver.testing import apps
from authserver.testing import databases
from authserver.testing import servers
from authserver.testing.databases import Database
from authserver.testing.ports import free_port
from authserver.testing.servers import LiveServer
from authserver.testing.servers import start_gunicorn
from authserver.testing.servers import start_server

__all__ = ["Database", "LiveServer", "start_gunicorn", "start_server"]  # imported by test modules

ROOT = servers.ROOT
PG_ADMIN_URL = databases.PG_ADMIN_URL
BACKENDS = [b.strip() for b in os.environ.get("AUTHSERVER_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
PEPPER = apps.PEPPER
ISSUER = apps.ISSUER


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and "postgresql" not in BACKENDS:
        raise pytest.UsageError("CI must run the PostgreSQL backend (AUTHSERVER_TEST_BACKENDS lacks postgresql)")


# ---------------------------------------------------------------- databases


def _pg_url(dbname: str) -> str:
    return databases.pg_url(dbname)


def _postgresql_required(exc: databases.DatabaseUnavailableError) -> None:
    pytest.fail(f"PostgreSQL is required for the test suite and {str(exc).removeprefix('PostgreSQL ')}", pytrace=False)


def _pg_admin(sql: str) -> None:
    try:
        databases.pg_admin(sql)
    except databases.DatabaseUnavailableError as exc:
        _postgresql_required(exc)


def _migrate(url: str, keys_dir: Path) -> None:
    databases.migrate(url, keys_dir)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return apps.development_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, keys_dir: Path
) -> Iterator[Database]:
    try:
        with databases.fresh_database(request.param, tmp_path_factory.mktemp(request.param), keys_dir) as fresh:
            yield fresh
    except databases.DatabaseUnavailableError as exc:
        _postgresql_required(exc)


def _base_config(url: str, keys_dir: Path, **extra: Any) -> dict[str, Any]:
    return apps.app_config(url, keys_dir, **extra)


def _empty_tables(app: Flask) -> None:
    from sqlalchemy import text

    from authserver.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()


# ---------------------------------------------------------------- app and helpers


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its apps."""
    return {}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(database: Database, keys_dir: Path, clock: FrozenClock, config_overrides: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(_base_config(database.url, keys_dir, CLOCK=clock, **config_overrides))
    _empty_tables(app)
    yield app
    from authserver.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if "authserver.autocommit_engine" in app.extensions:
        app.extensions["authserver.autocommit_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin_app(
    app: Flask, database: Database, keys_dir: Path, clock: FrozenClock, config_overrides: dict[str, Any]
) -> Iterator[Flask]:
    """The admin listener's app (``create_admin_app``) beside ``app``: the same database, keys and clock."""
    admin = create_admin_app(_base_config(database.url, keys_dir, CLOCK=clock, **config_overrides))
    yield admin
    from authserver.extensions import db

    with admin.app_context():
        db.session.remove()
        db.engine.dispose()


def management_app(app: Flask) -> Flask:
    """The management listener's app over the same settings (and clock) as the public ``app``, made once
    per app: ``authserver serve`` runs both over one configuration."""
    cached = app.extensions.get("tests.management_app")
    if cached is None:
        from authserver.settings import SETTINGS

        overrides: dict[str, Any] = {name: app.config[name] for name in SETTINGS if name in app.config}
        overrides["CLOCK"] = app.extensions["authserver.clock"]
        cached = app.extensions["tests.management_app"] = create_management_app(overrides)
    return cached


@pytest.fixture
def management(app: Flask) -> Iterator[FlaskClient]:
    """The test client of the management listener's app (``/livez``, ``/readyz``, ``/metrics``, ``/version``)."""
    other = management_app(app)
    yield other.test_client()
    from authserver.extensions import db

    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def admin_client(admin_app: Flask) -> FlaskClient:
    return admin_app.test_client()


@dataclass
class Registered:
    client_id: str
    secret: str | None

    @property
    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def make_user(app: Flask):
    from authserver.admin import users

    def make(username: str = "alice", password: str = "correct horse battery", disabled: bool = False) -> str:
        with app.app_context():
            user = users.create_user(username, password)
            if disabled:
                users.disable_user(username)
            return user.id

    return make


@pytest.fixture
def make_client(app: Flask):
    from authserver.admin import clients

    def make(
        client_id: str = "app",
        *,
        grants: tuple[str, ...] = ("password", "refresh_token"),
        scopes: str = "read write",
        first_party: bool = True,
        public: bool = False,
        **kw: Any,
    ) -> Registered:
        with app.app_context():
            _c, secret = clients.create_client(
                name=client_id,
                client_id=client_id,
                grant_types=list(grants),
                scopes=scopes.split(),
                first_party=first_party,
                public=public,
                **kw,
            )
        return Registered(client_id, secret)

    return make


class OAuthHelper:
    """Performs grants against the test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def password(self, reg: Registered, username: str = "alice", password: str = "correct horse battery", **extra: str):
        data = {"grant_type": "password", "username": username, "password": password, **extra}
        return self.client.post("/oauth/token", data=data, headers=reg.basic)

    def refresh(self, reg: Registered, refresh_token: str, **extra: str):
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
        return self.client.post("/oauth/token", data=data, headers=reg.basic)


@pytest.fixture
def oauth(client: FlaskClient) -> OAuthHelper:
    return OAuthHelper(client)


@pytest.fixture
def events():
    """Records of ``authserver.events`` (its parent ``authserver`` does not propagate to caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("authserver.events")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


# ---------------------------------------------------------------- live server


def _free_port() -> int:
    return free_port()


def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    """Poll ``url/healthz`` until it answers 200, the process exits, or time runs out."""
    return servers.wait_ready(url, process, seconds)


@pytest.fixture(scope="session")
def live_server(database: Database, keys_dir: Path) -> Iterator[LiveServer]:
    server = start_server(database, keys_dir)
    yield server
    server.stop()
