"""The app's database: Flask-SQLAlchemy bound to the app, SQLite's pragmas, Alembic for the CLI (and the lock
that serialises concurrent ``authserver db upgrade`` runs), and the held PostgreSQL autocommit connection
(:mod:`authserver.store.autocommit`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection
from sqlalchemy import event
from sqlalchemy import text

from authserver.extensions import db
from authserver.store import autocommit


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    # pool_pre_ping: a connection that died (a PostgreSQL restart or failover) is replaced before
    # use instead of failing a request. It costs a round trip per checkout, and the hottest paths
    # (refresh rotation, login lookups, throttle counters) do not check out of this pool: they run
    # on authserver.store.autocommit's own connection.
    return {"pool_size": 5, "max_overflow": 5, "pool_recycle": 1800, "pool_pre_ping": True}


def init_app(app: Flask) -> None:
    db.init_app(app)
    if app.config.get("MIGRATIONS"):
        # Only the CLI (`authserver db ...`) and tests need Alembic: server workers stay ~11 MB smaller.
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(migrations_dir()))
    if is_postgresql(app):
        autocommit.init_app(app)
    else:
        with app.app_context():
            # WAL lets readers run beside the one writer; busy_timeout queues writers instead of failing.
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=15000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()


def is_postgresql(app: Flask) -> bool:
    """The one dialect decision: PostgreSQL's stores, else the SQLAlchemy ones (SQLite)."""
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def migrations_dir() -> Path:
    """``migrations/`` beside the package in a checkout, else in the working directory (containers)."""
    beside = Path(__file__).resolve().parent.parent.parent / "migrations"
    return beside if beside.is_dir() else Path.cwd() / "migrations"


def ping() -> None:
    """One round trip on the app's pool: raises if the database does not answer (``/readyz``)."""
    db.session.execute(text("SELECT 1"))


def dispose() -> None:
    """Close the app's pooled connections (a test dropping its database, a forked process)."""
    db.engine.dispose()


#: The advisory lock of migrations (one 64-bit number per database, named so no other use collides).
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"authserver.migrations").digest()[:8], "big", signed=True)

log = logging.getLogger("authserver.store.database")


@contextlib.contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock while Alembic reads the revision and migrates (migrations/env.py).

    Every replica may run ``authserver db upgrade`` at start: the first migrates, the others wait here,
    then find the database at head and do nothing. PostgreSQL: a session-level advisory lock (it outlives
    the migrations' transactions and is released at the end, or when the connection closes); SQLite:
    an ``flock`` on a file beside the database file (one host by nature).
    """
    if connection.dialect.name == "postgresql":
        params = {"key": MIGRATION_LOCK_KEY}
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), params).scalar():
            log.warning("another process is migrating this database; waiting for it to finish")
            connection.execute(text("SELECT pg_advisory_lock(:key)"), params)
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), params)
            connection.commit()
        return
    database = connection.engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is migrating this database; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
