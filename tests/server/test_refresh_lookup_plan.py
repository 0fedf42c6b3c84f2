"""A grace-window replay finds the token's successor through an index, not by scanning every refresh token.

The lookup of a presented token checks, while a sealed successor is kept, whether that successor is still
live. The successor is the row whose ``parent_id`` is the token's id, and ``parent_id`` has no index: the
check must reach it through the family's index. Asserted on the query plan of a table of 20,000 tokens,
on both databases.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import insert
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.store.refresh_token_sql import _lookup

ROWS = 20_000


def _fill(user_id: str) -> None:
    """20,000 tokens in families of 50, each the child of the one before; the first holds a sealed successor."""
    rows = [
        {
            "id": i + 1,
            "token_hash": f"{i:064d}",
            "family_id": f"family-{i // 50}",
            "parent_id": None if i % 50 == 0 else i,
            "client_id": "app",
            "user_id": user_id,
            "scope": "read",
            "auth_time": 1,
            "issued_at": 1,
            "expires_at": 9,
            "used_at": 1,
            "successor_sealed": b"\x00" if i == 0 else None,
        }
        for i in range(ROWS)
    ]
    db.session.execute(insert(RefreshToken.__table__), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _plan(dialect_name: str) -> str:
    """The lookup's query plan for the token holding the sealed successor."""
    statement = _lookup().params(p_token_hash="0" * 64, p_now=5)
    if dialect_name == "postgresql":
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        return "\n".join(r[0] for r in db.session.execute(text("EXPLAIN " + sql)))
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(str(r[-1]) for r in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))


def test_the_live_successor_check_uses_the_family_index(app: Flask, make_user, make_client) -> None:
    make_client("app")
    user_id = make_user("alice")
    with app.app_context():
        _fill(user_id)
        plan = _plan(db.engine.dialect.name)
    assert "Seq Scan on refresh_tokens" not in plan, plan  # PostgreSQL
    assert "SCAN successor" not in plan, plan  # SQLite
    assert "ix_refresh_tokens_family_id" in plan, plan
