"""The refresh grant's SQL budget (issue 6): a statement more on the hottest path must be a decision."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

#: With the client cached (the login just read it): PostgreSQL, one autocommit statement that consumes
#: the old token and inserts its successor (a data-modifying CTE); SQLite cannot put an UPDATE in a
#: CTE: consume, then insert.
BUDGET = {"postgresql": 1, "sqlite": 2}


@contextmanager
def counted(app):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    # Every engine of the app: the session's and the autocommit pool the rotation uses on PostgreSQL.
    with app.app_context():
        engines = [app.extensions["sqlalchemy"].engine]
    if "authserver.autocommit_engine" in app.extensions:
        engines.append(app.extensions["authserver.autocommit_engine"])
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
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
