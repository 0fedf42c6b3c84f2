"""The app's database: Flask-SQLAlchemy bound to the app, SQLite's pragmas, Alembic for the CLI, and the
held PostgreSQL autocommit connection (:mod:`authserver.store.autocommit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
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
