"""The hot path's own PostgreSQL connection (authserver.store.autocommit): kept between requests, replaced
when it dies, and a refresh that failed with it consumed nothing."""

from __future__ import annotations

import _thread
import os
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from authserver import telemetry
from authserver.store import autocommit


@pytest.fixture
def postgresql_only(app):
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the autocommit connection exists on PostgreSQL only; SQLite uses the app's engine")


def _backend_pid() -> int:
    assert autocommit._held.conn is not None, "the refresh did not use the held connection"
    return autocommit._held.conn.info.backend_pid


def test_refreshes_reuse_one_connection(postgresql_only, make_user, make_client, oauth):
    make_user()
    reg = make_client()
    token = oauth.password(reg).json["refresh_token"]
    token = oauth.refresh(reg, token).json["refresh_token"]
    pid = _backend_pid()
    assert oauth.refresh(reg, token).status_code == 200
    assert _backend_pid() == pid


def test_a_dead_connection_fails_one_request_and_loses_nothing(postgresql_only, app, make_user, make_client, oauth):
    make_user()
    reg = make_client()
    token = oauth.refresh(reg, oauth.password(reg).json["refresh_token"]).json["refresh_token"]
    dead = _backend_pid()
    with psycopg.connect(app.config["DATABASE_URL"].replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dead])

    failed = oauth.refresh(reg, token)
    assert failed.status_code == 500 and failed.json["error"] == "server_error", failed.data

    # The statement never ran: the same refresh token still works, on a new connection.
    again = oauth.refresh(reg, token)
    assert again.status_code == 200, again.data
    assert _backend_pid() != dead
    assert oauth.refresh(reg, again.json["refresh_token"]).status_code == 200


def test_a_forked_child_leaves_the_parents_connection_alone(postgresql_only, make_user, make_client, oauth):
    """At exit a forked child runs the thread's closer too (atexit): it must not end our session."""
    make_user()
    reg = make_client()
    token = oauth.refresh(reg, oauth.password(reg).json["refresh_token"]).json["refresh_token"]
    pid = _backend_pid()
    child = os.fork()
    if child == 0:  # pragma: no cover (child process)
        try:
            autocommit._held.closer()  # what interpreter exit would run
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert oauth.refresh(reg, token).status_code == 200
    assert _backend_pid() == pid


def test_after_every_connection_died_reads_and_logins_just_work(
    postgresql_only, app, client, management, make_user, make_client, oauth
):
    """A PostgreSQL restart: the ORM pool pre-pings, and the hot path's reads are sent again on a new
    connection, so neither the readiness probe nor a login fails."""
    make_user()
    reg = make_client()
    assert oauth.password(reg).status_code == 200  # the autocommit connection is open
    assert management.get("/readyz").status_code == 200  # and a pooled ORM connection
    with psycopg.connect(app.config["DATABASE_URL"].replace("+psycopg", ""), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert killed >= 2

    store_failures = telemetry.counters().get("authserver_throttle_store_failed_total", 0)
    assert management.get("/readyz").status_code == 200
    login = oauth.password(reg)
    assert login.status_code == 200, login.data
    # ...and not because the throttle failed open: its read was sent again too.
    assert telemetry.counters().get("authserver_throttle_store_failed_total", 0) == store_failures
    assert oauth.refresh(reg, login.json["refresh_token"]).status_code == 200


def _in_a_foreign_thread(work) -> None:
    """Run ``work`` on a thread that :mod:`threading` did not start, and wait until it has ended: granian
    runs requests on threads it makes itself, which Python sees as dummy threads, whose thread objects
    are never collected (only their thread-local values are dropped when they end)."""
    finished = threading.Lock()
    finished.acquire()

    def run() -> None:
        try:
            work()
        finally:
            finished.release()

    _thread.start_new_thread(run, ())
    assert finished.acquire(timeout=30)
    time.sleep(0.2)  # the thread's state is cleared just after its function returns


def test_a_foreign_threads_connection_is_closed_when_the_thread_ends(postgresql_only, app):
    held: list[psycopg.Connection] = []

    def work() -> None:
        with app.app_context():
            assert autocommit.fetchone(_SELECT_ONE, {}) == (1,)
            assert autocommit._held.conn is not None
            held.append(autocommit._held.conn)

    _in_a_foreign_thread(work)
    deadline = time.monotonic() + 5
    while not held[0].closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held[0].closed, "the connection of an ended thread is still open (leaked until the worker exits)"


_SELECT_ONE = sa.select(sa.literal_column("1"))
