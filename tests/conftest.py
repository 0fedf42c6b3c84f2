"""Fixtures: one app per test from ``create_app({...})``, on SQLite and on PostgreSQL.

Every fixture that touches the database is parametrised over the backends in
``AUTHSERVER_TEST_BACKENDS`` (default ``sqlite,postgresql``). Each run gets fresh databases,
built by the real migrations. PostgreSQL is mandatory: an unreachable server fails the run.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from authserver import create_app
from authserver.clock import FrozenClock
from authserver.keystore import ensure_development_key

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("AUTHSERVER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b.strip() for b in os.environ.get("AUTHSERVER_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
PEPPER = "test-pepper-" + "x" * 32
ISSUER = "https://auth.test"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and "postgresql" not in BACKENDS:
        raise pytest.UsageError("CI must run the PostgreSQL backend (AUTHSERVER_TEST_BACKENDS lacks postgresql)")


# ---------------------------------------------------------------- databases


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def _pg_admin(sql: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the test suite and is unreachable at {PG_ADMIN_URL}: {exc}",
                    pytrace=False)


@dataclass
class Database:
    backend: str
    url: str


def _migrate(url: str, keys_dir: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(url, keys_dir, MIGRATIONS=True))
    with app.app_context():
        upgrade()
        from authserver.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    ensure_development_key(path, int(time.time()))
    return path


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             keys_dir: Path) -> Iterator[Database]:
    backend = request.param
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "test.db")
        _migrate(url, keys_dir)
        yield Database(backend, url)
        return
    name = f"authserver_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        url = _pg_url(name)
        _migrate(url, keys_dir)
        yield Database(backend, url)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _base_config(url: str, keys_dir: Path, **extra: Any) -> dict[str, Any]:
    return {
        "ENV": "development",
        "ISSUER": ISSUER,
        "DATABASE_URL": url,
        "KEYS_DIR": str(keys_dir),
        "SECRET_PEPPER": PEPPER,
        # Cheap argon2 for speed; the timing-equality measurement lives in bench/ with real parameters.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 1024,
        **extra,
    }


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
    from authserver import users

    def make(username: str = "alice", password: str = "correct horse battery", disabled: bool = False) -> str:
        with app.app_context():
            user = users.create_user(username, password)
            if disabled:
                users.disable_user(username)
            return user.id

    return make


@pytest.fixture
def make_client(app: Flask):
    from authserver import clients

    def make(client_id: str = "app", *, grants: tuple[str, ...] = ("password", "refresh_token"),
             scopes: str = "read write", first_party: bool = True, public: bool = False, **kw: Any) -> Registered:
        with app.app_context():
            _c, secret = clients.create_client(name=client_id, client_id=client_id, grant_types=list(grants),
                                               scopes=scopes.split(), first_party=first_party, public=public, **kw)
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_server(database: Database, keys_dir: Path, workers: int = 2, **env_extra: str) -> LiveServer:
    """Run the server under gunicorn, as production does, and wait until it answers."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHSERVER_ENV": "development", "AUTHSERVER_ISSUER": url,
           "AUTHSERVER_DATABASE_URL": database.url, "AUTHSERVER_KEYS_DIR": str(keys_dir),
           "AUTHSERVER_SECRET_PEPPER": PEPPER, "AUTHSERVER_ARGON2_TIME_COST": "1",
           "AUTHSERVER_ARGON2_MEMORY_KIB": "1024",
           # Tests change clients from this process; the server must not serve a cached copy for 5 s.
           "AUTHSERVER_CLIENT_CACHE_SECONDS": "0", **env_extra}
    return start_gunicorn("authserver:create_app()", env, port, workers)


def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    """Poll ``url/healthz`` until it answers 200, the process exits, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=5).ok:
                return True
        except requests.RequestException:
            time.sleep(0.2)
    return False


def start_gunicorn(app_spec: str, env: dict[str, str], port: int, workers: int = 2) -> LiveServer:
    """Run a WSGI app under gunicorn from the repository root and wait until ``/healthz`` answers."""
    # The log goes to a file: a pipe nobody reads would fill up and block the workers.
    fd, name = tempfile.mkstemp(prefix="authserver-live-", suffix=".log")
    os.close(fd)
    log_path = Path(name)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", app_spec],
            env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    if wait_healthy(server.url, process):
        return server
    server.stop()
    raise RuntimeError(f"{app_spec} did not start: {server.log()}")


@pytest.fixture(scope="session")
def live_server(database: Database, keys_dir: Path) -> Iterator[LiveServer]:
    server = start_server(database, keys_dir)
    yield server
    server.stop()
