"""Single atomic statements on PostgreSQL, in autocommit.

The hot paths (a refresh's rotation, a login's user lookup and new family, the throttle counters)
each need one statement, which PostgreSQL runs atomically on its own. Running it inside
``BEGIN ... COMMIT`` only adds two round trips. So PostgreSQL gets a second engine whose connections
stay in autocommit, and the statements of the hottest paths are compiled once and sent on a raw
psycopg cursor of a connection each thread keeps (:class:`_Held`), skipping SQLAlchemy's pool and
per-execution machinery. SQLite keeps the app's own engine: its writes are cheap and local.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from typing import Any

import psycopg
from flask import Flask
from flask import current_app
from psycopg.pq import ExecStatus
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from authserver.telemetry import tracing

_EXTENSION = "authserver.autocommit_engine"
RECYCLE_SECONDS = 1800  # a connection, pooled or kept (_Held), is replaced after this long


def init_app(app: Flask) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        app.extensions[_EXTENSION] = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_size=2,
            max_overflow=3,
            pool_recycle=RECYCLE_SECONDS,
            pool_reset_on_return=None,
        )


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


class _Held(threading.local):
    """This thread's own autocommit connection and cursor, kept between statements.

    A sync worker runs one request at a time on one thread; checking a connection out of the pool
    and making a cursor for every statement cost more Python than sending the statement. The
    connection belongs to this thread and this database URL; a forked child (another pid), another
    URL, a connection after any error, or one older than RECYCLE_SECONDS is replaced. It is closed
    when its thread ends.
    """

    key: tuple[int, Any] | None = None  # (pid, the engine's URL)
    born: float = 0.0
    conn: psycopg.Connection | None = None
    cursor: psycopg.Cursor | None = None
    closer: weakref.finalize | None = None  # closes conn when this thread ends, or when called
    anchor: _ThreadAnchor | None = None  # only this thread refers to it: collected when the thread ends

    def take(self, autocommit: Engine) -> psycopg.Cursor:
        key = (os.getpid(), autocommit.url)
        if self.cursor is None or self.key != key or time.monotonic() - self.born > RECYCLE_SECONDS:
            self.drop()
            args, kwargs = autocommit.dialect.create_connect_args(autocommit.url)
            self.conn = psycopg.connect(*args, **kwargs, autocommit=True)
            # Tied to an object of this thread's local state, not to the thread object: a thread Python did
            # not start (granian's request threads) has a dummy thread object that is never collected.
            self.anchor = _ThreadAnchor()
            self.closer = weakref.finalize(self.anchor, _close_in, os.getpid(), self.conn)
            self.cursor, self.key, self.born = self.conn.cursor(), key, time.monotonic()
        return self.cursor

    def drop(self) -> None:
        closer, self.conn, self.cursor, self.key, self.closer = self.closer, None, None, None, None
        if closer is not None:
            closer()
        self.anchor = None


class _ThreadAnchor:
    __slots__ = ("__weakref__",)


def _close_in(pid: int, conn: psycopg.Connection) -> None:
    """Close ``conn`` if this is the process that opened it: in a forked child, closing would end the
    parent's session on the shared socket."""
    if os.getpid() == pid:
        conn.close()


_held = _Held()


def _execute(statement: Any, params: dict[str, Any], *, many: bool) -> list[tuple[Any, ...]]:
    autocommit = engine()
    assert autocommit is not None, "autocommit.fetchone() is for PostgreSQL"
    sql, constants = _compiled(statement)
    values = {**constants, **params}
    with tracing.db_span(sql, "postgresql"):
        return _execute_compiled(autocommit, statement, sql, values, many)


def _execute_compiled(
    autocommit: Engine, statement: Any, sql: str, values: dict[str, Any], many: bool
) -> list[tuple[Any, ...]]:
    try:
        return _run(_held.take(autocommit), sql, values, many)
    except psycopg.OperationalError:
        # The kept connection is gone (a PostgreSQL restart, a failover, an idle timeout). A read is
        # safe to send again on a new one; a write is not (it may have committed before the
        # connection broke): its request fails, and the client's retry finds everything unchanged. A SELECT
        # whose data-modifying CTEs write says so with ``execution_options(writes=True)``.
        if not statement.is_select or statement.get_execution_options().get("writes"):
            raise
        return _run(_held.take(autocommit), sql, values, many)


def _run(cursor: psycopg.Cursor, sql: str, values: dict[str, Any], many: bool) -> list[tuple[Any, ...]]:
    try:
        cursor.execute(sql, values)
        if cursor.pgresult is None or cursor.pgresult.status != ExecStatus.TUPLES_OK:
            return []
        return cursor.fetchall() if many else [row for row in [cursor.fetchone()] if row is not None]
    except psycopg.Error:
        # A lost connection, or a statement that failed (e.g. its prepared plan outlived a schema
        # change): the next statement starts on a fresh connection. Errors are rare on these paths.
        _held.drop()
        raise
