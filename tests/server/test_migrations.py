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
from authserver.admin.errors import AdminError
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
    app = create_app(
        {
            "MIGRATIONS": True,
            "ENV": "development",
            "ISSUER": "https://auth.test",
            "DATABASE_URL": empty_database_url,
            "KEYS_DIR": str(keys_dir),
            "SECRET_PEPPER": PEPPER,
        }
    )
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
    from authserver.admin import clients
    from authserver.admin import users
    from authserver.models import Client

    with fresh_app.app_context():
        upgrade()
        users.create_user("migrated", "long enough password")
        _client, secret = clients.create_client(name="m", client_id="m", grant_types=["refresh_token"], scopes=["read"])
        assert secret
        assert [u.username for u in users.list_users()] == ["migrated"]
        clients.delete_client("m")
        assert db.session.get(Client, "m") is None


BEFORE_NORMAL_FORM = "f91d69db6090"


def _insert_users(app: Flask, *names: str) -> None:
    from sqlalchemy import text

    with app.app_context(), db.engine.begin() as conn:
        for i, name in enumerate(names):
            conn.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, disabled, created_at, updated_at) "
                    "VALUES (:id, :name, 'x', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": f"id-{i}", "name": name},
            )


def _usernames(app: Flask) -> list[tuple[str, str]]:
    from sqlalchemy import text

    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, username FROM users ORDER BY id"))]


def test_upgrade_gives_existing_users_their_normal_form_and_keeps_the_name_as_created(fresh_app):
    from authserver.admin import users

    with fresh_app.app_context():
        upgrade(revision=BEFORE_NORMAL_FORM)
    _insert_users(fresh_app, "Carol", "dave")
    with fresh_app.app_context():
        upgrade()
        assert users.get_user("CAROL").username == "Carol"
        assert users.get_user("Dave").id == "id-1"
        with pytest.raises(AdminError, match="same username as 'Carol'"):
            users.create_user("carol", "long enough password")
    assert _schema_diff(fresh_app) == []


def test_upgrade_refuses_usernames_that_would_collide_and_changes_nothing(fresh_app):
    """``Bob`` and ``bob`` were two accounts: neither is merged, renamed or dropped; the upgrade stops,
    naming both, and runs once the operator has renamed one."""
    from sqlalchemy import text

    with fresh_app.app_context():
        upgrade(revision=BEFORE_NORMAL_FORM)
    _insert_users(fresh_app, "Bob", "bob", "erin")
    with fresh_app.app_context(), pytest.raises(SystemExit) as exited:  # Flask-Migrate logs it, then exits 1
        upgrade()
    refusal = str(exited.value.__context__)
    assert "would become one username" in refusal
    assert "'Bob' (id id-0)" in refusal and "'bob' (id id-1)" in refusal
    assert "erin" not in refusal
    assert _head_revision(fresh_app) == BEFORE_NORMAL_FORM
    assert _usernames(fresh_app) == [("id-0", "Bob"), ("id-1", "bob"), ("id-2", "erin")]
    with fresh_app.app_context(), db.engine.connect() as conn:
        assert "normal_username" not in {c["name"] for c in inspect(conn).get_columns("users")}

    with fresh_app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET username = 'bob-2' WHERE id = 'id-1'"))
    with fresh_app.app_context():
        upgrade()
    assert _head_revision(fresh_app) != BEFORE_NORMAL_FORM
    assert _usernames(fresh_app) == [("id-0", "Bob"), ("id-1", "bob-2"), ("id-2", "erin")]
