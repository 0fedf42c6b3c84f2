"""The migrations build, tear down and rebuild a schema identical to the models, on both backends.

Each test makes its own empty database (never the shared session database): a tmp SQLite file,
or a fresh PostgreSQL database created and dropped here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import BACKENDS
from conftest import PEPPER
from conftest import _pg_admin
from conftest import _pg_url
from flask import Flask
from flask_migrate import downgrade
from flask_migrate import upgrade
from sqlalchemy import inspect

from authserver import create_app
from authserver.extensions import db

APP_TABLES = {"users", "clients", "refresh_tokens"}


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "fresh.db"
        yield f"sqlite:///{path}"
        return
    name = f"authserver_migr_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_app(empty_database_url: str, keys_dir: Path) -> Iterator[Flask]:
    app = create_app({"MIGRATIONS": True, "ENV": "development", "ISSUER": "https://auth.test",
                      "DATABASE_URL": empty_database_url, "KEYS_DIR": str(keys_dir), "SECRET_PEPPER": PEPPER})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _tables(app: Flask) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _schema_diff(app: Flask) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(context, db.metadata)


def _head_revision(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_upgrade_of_empty_database_matches_models(fresh_app):
    assert _tables(fresh_app) == set()
    with fresh_app.app_context():
        upgrade()
    assert _tables(fresh_app) >= APP_TABLES
    assert _head_revision(fresh_app) is not None
    diff = _schema_diff(fresh_app)
    assert diff == [], f"migrations and models disagree: {diff}"


def test_downgrade_to_base_then_upgrade_again_restores_schema(fresh_app):
    with fresh_app.app_context():
        upgrade()
    head = _head_revision(fresh_app)

    with fresh_app.app_context():
        downgrade(revision="base")
    assert _tables(fresh_app) & APP_TABLES == set()
    assert _head_revision(fresh_app) is None

    with fresh_app.app_context():
        upgrade()
    assert _tables(fresh_app) >= APP_TABLES
    assert _head_revision(fresh_app) == head
    diff = _schema_diff(fresh_app)
    assert diff == [], f"migrations and models disagree after a downgrade/upgrade cycle: {diff}"


def test_migrated_schema_accepts_and_cascades_rows(fresh_app):
    """The migrated schema is usable by the models: a user and client round-trip, deleting cascades."""
    from authserver import clients
    from authserver import users
    from authserver.models import Client

    with fresh_app.app_context():
        upgrade()
        users.create_user("migrated", "long enough password")
        _client, secret = clients.create_client(name="m", client_id="m", grant_types=["refresh_token"],
                                                scopes=["read"])
        assert secret
        assert [u.username for u in users.list_users()] == ["migrated"]
        clients.delete_client("m")
        assert db.session.get(Client, "m") is None
