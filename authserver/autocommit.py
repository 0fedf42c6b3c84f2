"""Single atomic statements on PostgreSQL, in autocommit.

The hot paths (a refresh's rotation, a login's user lookup and new family, the throttle counters)
each need one statement, which PostgreSQL runs atomically on its own. Running it inside
``BEGIN ... COMMIT`` only adds two round trips. So PostgreSQL gets a second pool of connections that
stay in autocommit (nothing toggled or rolled back on checkout and return), and the statements of
the hottest paths are compiled once and sent on a raw psycopg cursor, skipping SQLAlchemy's
per-execution machinery. SQLite keeps the app's own engine: its writes are cheap and local.
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from flask import Flask
from flask import current_app
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

_EXTENSION = "authserver.autocommit_engine"


def init_app(app: Flask) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        app.extensions[_EXTENSION] = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=3,
                                                   pool_recycle=1800, pool_reset_on_return=None)


def engine() -> Engine | None:
    """The current app's autocommit engine; ``None`` when the database is not PostgreSQL."""
    return current_app.extensions.get(_EXTENSION)


@functools.cache
def _compiled(statement: Any) -> tuple[str, dict[str, Any]]:
    """A statement compiled once for psycopg: its SQL text and the values of its constant parameters.

    Only for statements built once (module constants or ``functools.cache`` results) whose own
    parameters are all named ``p_*``.
    """
    compiled = statement.compile(dialect=postgresql_psycopg.dialect())
    return str(compiled), {k: v for k, v in compiled.params.items() if not k.startswith("p_")}


def fetchone(statement: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run a precompiled statement on a raw cursor of the autocommit pool; its first row, or ``None``."""
    rows = _execute(statement, params, many=False)
    return rows[0] if rows else None


def fetchall(statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Like :func:`fetchone`, every row."""
    return _execute(statement, params, many=True)


def _execute(statement: Any, params: dict[str, Any], *, many: bool) -> list[tuple[Any, ...]]:
    autocommit = engine()
    assert autocommit is not None, "autocommit.fetchone() is for PostgreSQL"
    sql, constants = _compiled(statement)
    conn = autocommit.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(sql, {**constants, **params})
        if cursor.description is None:
            rows = []
        else:
            rows = cursor.fetchall() if many else [row for row in [cursor.fetchone()] if row is not None]
        cursor.close()
    except psycopg.OperationalError:
        conn.invalidate()  # the connection is gone: the pool must not hand it out again
        raise
    finally:
        conn.close()
    return rows
