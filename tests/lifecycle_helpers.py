"""Shared helpers of the refresh-token lifecycle tests (reuse, grace, lifetimes, revocation,
introspection, log out everywhere, purge). Everything goes through HTTP or the CLI; the database is
read directly only where a test must prove what is (not) stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.cli.console import main
from authserver.digests import token_digest
from authserver.extensions import db
from authserver.models import RefreshToken
from authserver.models import SealedSuccessor
from authserver.telemetry import JsonFormatter

INACTIVE = {"active": False}


def assert_tokens(resp) -> dict[str, Any]:
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["token_type"] == "Bearer" and body["access_token"] and body["refresh_token"], body
    return body


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    assert resp.json["error"] == code, resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    assert "access_token" not in resp.json


def make_rs(make_client, client_id: str = "rs"):
    """A resource server: a confidential client allowed to introspect."""
    return make_client(client_id, grants=("client_credentials",), first_party=False, introspect=True)


def introspect(client: FlaskClient, rs, token: str, **extra: str) -> dict[str, Any]:
    resp = client.post("/oauth/introspect", data={"token": token, **extra}, headers=rs.basic)
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.json


def revoke(client: FlaskClient, reg, token: str | None, **extra: str):
    data = {**extra} if token is None else {"token": token, **extra}
    return client.post("/oauth/revoke", data=data, headers=reg.basic)


def run_cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, args=list(args))


def cli_json(app: Flask, *args: str) -> Any:
    result = run_cli(app, *args, "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


# ---------------------------------------------------------------- database


def refresh_rows(app: Flask) -> list[dict[str, Any]]:
    """Every row of ``refresh_tokens``, every column, as stored; ``successor_sealed`` is the sealed successor
    kept for the row (in ``sealed_successors``, or in the column a release before that table wrote)."""
    with app.app_context():
        table = RefreshToken.__table__
        kept = dict(db.session.execute(select(SealedSuccessor.token_id, SealedSuccessor.sealed)).all())
        rows = [dict(r._mapping) for r in db.session.execute(select(table).order_by(table.c.id))]
        db.session.rollback()
    for row in rows:
        row["successor_sealed"] = kept.get(row["id"], row["successor_sealed"])
    return rows


def row_of(app: Flask, token: str) -> dict[str, Any] | None:
    digest = token_digest(token)
    return next((r for r in refresh_rows(app) if r["token_hash"] == digest), None)


# ---------------------------------------------------------------- events


class EventLog(logging.Handler):
    """Collects the records of the ``authserver.events`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, event: str) -> list[logging.LogRecord]:
        return [r for r in self.records if getattr(r, "event", None) == event]

    @staticmethod
    def rendered(record: logging.LogRecord) -> str:
        """Everything the record carries: its attributes and the JSON line the server would write."""
        return repr(vars(record)) + JsonFormatter().format(record)


@contextmanager
def capture_events() -> Iterator[EventLog]:
    handler = EventLog()
    logger = logging.getLogger("authserver.events")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
