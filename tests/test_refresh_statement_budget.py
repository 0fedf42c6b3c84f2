"""The refresh grant's SQL budget (issue 6): a statement more on the hottest path must be a decision."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from authserver.extensions import db

#: With the client cached (the login just read it): PostgreSQL, one autocommit statement that consumes
#: the old token and inserts its successor (a data-modifying CTE); SQLite cannot put an UPDATE in a
#: CTE: consume, then insert.
BUDGET = {"postgresql": 1, "sqlite": 2}


@contextmanager
def counted(app):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_one_refresh_stays_within_the_statement_budget(app, make_user, make_client, oauth):
    make_user()
    reg = make_client()
    first = oauth.password(reg).json
    with counted(app) as statements:
        resp = oauth.refresh(reg, first["refresh_token"])
    assert resp.status_code == 200, resp.data
    dialect = app.config["DATABASE_URL"].split(":")[0].split("+")[0]
    assert len(statements) <= BUDGET[dialect], "\n---\n".join(statements)
    rotation = [s for s in statements if "refresh_tokens" in s]
    assert rotation, "the refresh went to the database"
    if dialect == "postgresql":
        assert len(rotation) == 1 and rotation[0].lstrip().upper().startswith("WITH"), rotation
