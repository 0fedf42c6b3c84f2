"""The refresh grant's SQL budget (issue 6): a statement more on the hottest path must be a decision."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import event

#: With the client cached (the login just read it): PostgreSQL, one autocommit statement that consumes
#: the old token and inserts its successor (a data-modifying CTE); SQLite cannot put an UPDATE in a
#: CTE: consume, then insert.
BUDGET = {"postgresql": 1, "sqlite": 2}


@contextmanager
def counted(app, monkeypatch: pytest.MonkeyPatch):
    """Every statement sent to the database during the block.

    PostgreSQL: at the driver, psycopg's ``Cursor.execute``/``executemany``, so statements run on a raw
    cursor (the rotation does that) count as well as those SQLAlchemy sends. SQLite: SQLAlchemy's
    ``before_cursor_execute`` on the app's engine (sqlite3's cursor cannot be patched).
    """
    statements: list[str] = []
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    if engine.dialect.name == "postgresql":
        for name in ("execute", "executemany"):
            original = getattr(psycopg.Cursor, name)

            def counting(cursor, query, *args, _original=original, **kwargs):
                statements.append(str(query))
                return _original(cursor, query, *args, **kwargs)

            monkeypatch.setattr(psycopg.Cursor, name, counting)
        yield statements
        monkeypatch.undo()
        return

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_one_refresh_stays_within_the_statement_budget(app, make_user, make_client, oauth, monkeypatch):
    make_user()
    reg = make_client()
    first = oauth.password(reg).json
    # Steady state: the first refresh opens the rotation's connection (and psycopg's set-up queries).
    second = oauth.refresh(reg, first["refresh_token"]).json
    with counted(app, monkeypatch) as statements:
        resp = oauth.refresh(reg, second["refresh_token"])
    assert resp.status_code == 200, resp.data
    dialect = app.config["DATABASE_URL"].split(":")[0].split("+")[0]
    assert len(statements) <= BUDGET[dialect], "\n---\n".join(statements)
    rotation = [s for s in statements if "refresh_tokens" in s]
    assert rotation, "the refresh went to the database"
    if dialect == "postgresql":
        assert len(rotation) == 1 and rotation[0].lstrip().upper().startswith("WITH"), rotation


#: With a grace window the successor is kept sealed and the lapsed ones erased: on PostgreSQL in the same one
#: statement (more data-modifying CTEs); SQLite adds the two writes to its transaction.
GRACE_BUDGET = {"postgresql": 1, "sqlite": 4}


@pytest.mark.parametrize("config_overrides", [{"REFRESH_GRACE_SECONDS": 10}])
def test_a_refresh_with_a_grace_window_stays_within_its_statement_budget(
    app, make_user, make_client, oauth, monkeypatch
):
    make_user()
    reg = make_client()
    first = oauth.password(reg).json
    second = oauth.refresh(reg, first["refresh_token"]).json
    with counted(app, monkeypatch) as statements:
        resp = oauth.refresh(reg, second["refresh_token"])
    assert resp.status_code == 200, resp.data
    dialect = app.config["DATABASE_URL"].split(":")[0].split("+")[0]
    assert len(statements) <= GRACE_BUDGET[dialect], "\n---\n".join(statements)
    assert any("sealed_successors" in s for s in statements), statements


def test_the_counter_sees_every_statement_of_a_login(app, make_user, make_client, oauth, monkeypatch):
    """The counter is not blind: a password login (user lookup, family insert) shows up in it."""
    make_user()
    reg = make_client()
    oauth.password(reg)  # the client is cached now, as in the refresh test
    with counted(app, monkeypatch) as statements:
        assert oauth.password(reg).status_code == 200
    assert any("users" in s for s in statements) and any("INSERT INTO refresh_tokens" in s for s in statements), (
        statements
    )
