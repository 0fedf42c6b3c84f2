"""Fresh databases on both backends, built by the real migrations.

PostgreSQL databases are created beside the admin database named by ``AUTHSERVER_TEST_PG_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and dropped with ``FORCE`` afterwards;
SQLite databases are files in a directory the caller owns.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from flask_migrate import upgrade

from authserver.app import create_app
from authserver.store import database as app_database
from authserver.testing.apps import app_config

PG_ADMIN_URL = os.environ.get("AUTHSERVER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


class DatabaseUnavailableError(RuntimeError):
    """The PostgreSQL server does not answer at the admin URL."""


@dataclass
class Database:
    backend: str
    url: str


def pg_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """The URL of database ``name`` on the server of ``admin_url``."""
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def pg_admin(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    """Run one statement (``CREATE DATABASE``, ``DROP DATABASE``) outside a transaction."""
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # names are generated here, never user input
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"PostgreSQL is unreachable at {admin_url}: {exc}") from exc


def create_pg_database(prefix: str = "authserver_test", admin_url: str = PG_ADMIN_URL) -> str:
    """A new, empty PostgreSQL database; returns its name."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pg_admin(f'CREATE DATABASE "{name}"', admin_url)
    return name


def drop_pg_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


def migrate(url: str, keys_dir: Path) -> None:
    """Upgrade the database at ``url`` to the migrations' head."""
    app = create_app(app_config(url, keys_dir, MIGRATIONS=True))
    with app.app_context():
        upgrade()
        app_database.dispose()


@contextmanager
def fresh_database(
    backend: str, directory: Path, keys_dir: Path, prefix: str = "authserver_test", admin_url: str = PG_ADMIN_URL
) -> Iterator[Database]:
    """A migrated database on ``backend`` (SQLite: a file in ``directory``), dropped on the way out."""
    if backend == "sqlite":
        url = "sqlite:///" + str(directory / f"{prefix}.db")
        migrate(url, keys_dir)
        yield Database(backend, url)
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    name = create_pg_database(prefix, admin_url)
    try:
        url = pg_url(name, admin_url)
        migrate(url, keys_dir)
        yield Database(backend, url)
    finally:
        drop_pg_database(name, admin_url)
