"""Parallel refreshes with one refresh token, against a real multi-process gunicorn on PostgreSQL.

Each round logs in once (password grant), then twenty threads, released together by a barrier,
each with its own HTTP connection, present the same refresh token at once. The server runs four
gunicorn worker processes, so the requests really race in separate processes and transactions:

* grace off (the default): exactly one 200, nineteen 400 ``invalid_grant`` and no 5xx; the
  nineteen are replays of a used token, so the family is revoked and the winner's successor no
  longer works. Exactly one successor row was minted.
* grace on (``AUTHSERVER_REFRESH_GRACE_SECONDS=30``): all twenty get 200 and the *same* successor;
  exactly one successor row exists, and that successor then refreshes normally.

Concurrency guarantees are proven on PostgreSQL only: SQLite serialises writers behind one file
lock, so parallel requests there prove nothing about the atomic rotation.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
import requests
from conftest import Database
from conftest import LiveServer
from conftest import Registered
from conftest import start_server
from sqlalchemy import text

from authserver.digests import token_digest

pytestmark = pytest.mark.live

ROUNDS = 50
PARALLEL = 20
WORKERS = 4
GRACE_SECONDS = 30
PASSWORD = "concurrency password 123"
REQUEST_TIMEOUT = 30
#: A bound on one mode's loop, far above its expected time, so a hung server fails instead of stalling.
MODE_DEADLINE_SECONDS = 300


# ---------------------------------------------------------------- the server


@contextmanager
def running_server(database: Database, keys_dir, **env: str) -> Iterator[LiveServer]:
    server = start_server(database, keys_dir, workers=WORKERS, **env)
    try:
        yield server
    finally:
        server.stop()


def server_problems(server: LiveServer, limit: int = 60) -> str:
    """The server log's error-level lines and tracebacks, else its tail: shown when a round went wrong."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    markers = ('"level": "error"', '"level": "critical"', "Traceback", "[ERROR]", "[CRITICAL]")
    bad = [ln for ln in lines if any(marker in ln for marker in markers)]
    return "\n".join((bad or lines)[-limit:])


# ---------------------------------------------------------------- one round


@dataclass
class Reply:
    status: int | None  # None: no HTTP answer at all (connection error, timeout)
    body: dict[str, Any] | str

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None

    @property
    def refresh_token(self) -> str | None:
        return self.body.get("refresh_token") if isinstance(self.body, dict) else None


def _reply(resp: requests.Response) -> Reply:
    try:
        body: dict[str, Any] | str = resp.json()
    except ValueError:
        body = resp.text[:500]
    return Reply(resp.status_code, body)


class Firing:
    """Twenty threads with one ``requests.Session`` each, released together by a barrier."""

    def __init__(self, token_url: str, reg: Registered) -> None:
        self.token_url = token_url
        self.auth = (reg.client_id, reg.secret)
        self.pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="refresh")
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def _one(self, barrier: threading.Barrier, refresh_token: str) -> Reply:
        session = self._session()
        barrier.wait()
        try:
            resp = session.post(
                self.token_url,
                auth=self.auth,
                timeout=REQUEST_TIMEOUT,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            )
        except requests.RequestException as exc:
            return Reply(None, f"{type(exc).__name__}: {exc}")
        return _reply(resp)

    def fire(self, refresh_token: str) -> list[Reply]:
        barrier = threading.Barrier(PARALLEL, timeout=REQUEST_TIMEOUT)
        futures = [self.pool.submit(self._one, barrier, refresh_token) for _ in range(PARALLEL)]
        replies = []
        for future in futures:
            try:
                replies.append(future.result(timeout=2 * REQUEST_TIMEOUT))
            except Exception as exc:  # a broken barrier or a stuck thread: a failed round, not a crash
                replies.append(Reply(None, f"{type(exc).__name__}: {exc}"))
        return replies

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for session in self._sessions:
            session.close()


def _login(url: str, reg: Registered, username: str) -> Reply:
    resp = requests.post(
        f"{url}/oauth/token",
        auth=(reg.client_id, reg.secret),
        timeout=REQUEST_TIMEOUT,
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    return _reply(resp)


def _refresh(url: str, reg: Registered, refresh_token: str) -> Reply:
    resp = requests.post(
        f"{url}/oauth/token",
        auth=(reg.client_id, reg.secret),
        timeout=REQUEST_TIMEOUT,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )
    return _reply(resp)


@dataclass
class FamilyRows:
    login_id: int | None
    successors: int  # rows whose parent is the login token
    unrevoked: int  # rows of the family not revoked


def _family_rows(app, login_refresh_token: str) -> FamilyRows:
    from authserver.extensions import db

    with app.app_context():
        try:
            row = db.session.execute(
                text("SELECT id, family_id FROM refresh_tokens WHERE token_hash = :h"),
                {"h": token_digest(login_refresh_token)},
            ).one_or_none()
            if row is None:
                return FamilyRows(None, 0, 0)
            successors = db.session.execute(
                text("SELECT count(*) FROM refresh_tokens WHERE parent_id = :id"), {"id": row.id}
            ).scalar_one()
            unrevoked = db.session.execute(
                text("SELECT count(*) FROM refresh_tokens WHERE family_id = :f AND revoked_at IS NULL"),
                {"f": row.family_id},
            ).scalar_one()
            return FamilyRows(row.id, successors, unrevoked)
        finally:
            db.session.rollback()


# ---------------------------------------------------------------- the rounds


@dataclass
class Tally:
    mode: str
    rounds: int = 0
    #: Statuses of the parallel refreshes, and of the other requests (logins, the successor's refresh).
    parallel: collections.Counter[str] = field(default_factory=collections.Counter)
    other: collections.Counter[str] = field(default_factory=collections.Counter)
    anomalies: list[str] = field(default_factory=list)
    round_seconds: list[float] = field(default_factory=list)

    @staticmethod
    def _key(reply: Reply) -> str:
        return "no answer" if reply.status is None else str(reply.status)

    def count(self, reply: Reply, parallel: bool = False) -> Reply:
        (self.parallel if parallel else self.other)[self._key(reply)] += 1
        return reply

    @property
    def server_errors(self) -> int:
        return sum(
            n
            for counter in (self.parallel, self.other)
            for status, n in counter.items()
            if status.startswith("5") or status == "no answer"
        )

    def summary(self, elapsed: float) -> str:
        slowest = max(self.round_seconds, default=0.0)
        mean = sum(self.round_seconds) / len(self.round_seconds) if self.round_seconds else 0.0
        return (
            f"[{self.mode}] {self.rounds}/{ROUNDS} rounds x {PARALLEL} parallel refreshes, {WORKERS} gunicorn "
            f"workers: {elapsed:.1f}s (parallel burst mean {mean:.3f}s, slowest {slowest:.3f}s); "
            f"parallel statuses {dict(self.parallel)}; other statuses {dict(self.other)}; "
            f"5xx or no answer: {self.server_errors}; anomalies: {len(self.anomalies)}"
        )


def _check_strict_round(
    app, url: str, reg: Registered, login_token: str, replies: list[Reply], tally: Tally
) -> list[str]:
    problems = []
    ok = [r for r in replies if r.status == 200]
    rejected = [r for r in replies if r.status == 400 and r.error == "invalid_grant"]
    other = [
        (r.status, r.body)
        for r in replies
        if r.status not in (200, 400) or (r.status == 400 and r.error != "invalid_grant")
    ]
    if len(ok) != 1 or len(rejected) != PARALLEL - 1 or other:
        problems.append(f"{len(ok)} x 200, {len(rejected)} x 400 invalid_grant, others {other[:3]}")
    rows = _family_rows(app, login_token)
    if rows.login_id is None:
        problems.append("the login's refresh token is not in the database")
    elif rows.successors != 1:
        problems.append(f"{rows.successors} successor rows minted from the login token (expected 1)")
    if len(ok) == 1:
        successor = ok[0].refresh_token
        if not successor or successor == login_token:
            problems.append(f"the 200 carries no new refresh token: {ok[0].body!r}")
        else:
            after = tally.count(_refresh(url, reg, successor))
            if after.status != 400 or after.error != "invalid_grant":
                problems.append(f"the winner's successor still works after reuse: {after.status} {after.body!r}")
    if rows.login_id is not None and rows.unrevoked != 0:
        problems.append(f"{rows.unrevoked} tokens of the family left unrevoked after reuse")
    return problems


def _check_grace_round(
    app, url: str, reg: Registered, login_token: str, replies: list[Reply], tally: Tally
) -> list[str]:
    problems = []
    ok = [r for r in replies if r.status == 200]
    if len(ok) != PARALLEL:
        bad = [(r.status, r.body) for r in replies if r.status != 200]
        problems.append(f"{len(ok)} x 200 of {PARALLEL}; the others: {bad[:3]}")
    successors = {r.refresh_token for r in ok}
    if len(successors) != 1 or None in successors or login_token in successors:
        problems.append(f"the 200s carry {len(successors)} distinct refresh tokens (expected one new one)")
    rows = _family_rows(app, login_token)
    if rows.login_id is None:
        problems.append("the login's refresh token is not in the database")
    elif rows.successors != 1:
        problems.append(f"{rows.successors} successor rows minted from the login token (expected 1)")
    if len(successors) == 1 and None not in successors:
        (successor,) = successors
        after = tally.count(_refresh(url, reg, successor))
        if after.status != 200 or not after.refresh_token or after.refresh_token == successor:
            problems.append(f"the shared successor does not refresh: {after.status} {after.body!r}")
    return problems


@pytest.fixture
def postgresql_only(database: Database) -> Database:
    if database.backend != "postgresql":
        pytest.skip(
            "concurrency guarantees are proven on PostgreSQL only, with real parallel requests; SQLite "
            "serialises all writers behind one file lock, so a race there proves nothing"
        )
    return database


@pytest.mark.parametrize("mode", ["strict", "grace"])
def test_parallel_refreshes_with_one_token(mode, postgresql_only, keys_dir, app, make_user, make_client):
    username = f"racer-{mode}"
    make_user(username, PASSWORD)
    reg = make_client(f"racer-app-{mode}")
    env = {"AUTHSERVER_REFRESH_GRACE_SECONDS": str(GRACE_SECONDS)} if mode == "grace" else {}
    check = _check_grace_round if mode == "grace" else _check_strict_round
    tally = Tally(mode)

    start = time.monotonic()
    with running_server(postgresql_only, keys_dir, **env) as server:
        firing = Firing(f"{server.url}/oauth/token", reg)
        try:
            for number in range(1, ROUNDS + 1):
                if time.monotonic() - start > MODE_DEADLINE_SECONDS:
                    tally.anomalies.append(f"deadline of {MODE_DEADLINE_SECONDS}s hit before round {number}")
                    break
                login = _login(server.url, reg, username)
                tally.count(login)
                if login.status != 200 or not login.refresh_token:
                    tally.anomalies.append(f"round {number}: login failed: {login.status} {login.body!r}")
                    tally.rounds = number
                    continue
                round_start = time.monotonic()
                replies = firing.fire(login.refresh_token)
                tally.round_seconds.append(time.monotonic() - round_start)
                for reply in replies:
                    tally.count(reply, parallel=True)
                tally.anomalies += [
                    f"round {number}: {p}" for p in check(app, server.url, reg, login.refresh_token, replies, tally)
                ]
                tally.rounds = number
        finally:
            firing.close()
        elapsed = time.monotonic() - start
        summary = tally.summary(elapsed)
        print(summary)
        server_log = server_problems(server) if tally.anomalies or tally.server_errors else ""

    detail = "\n".join(tally.anomalies[:20])
    assert tally.server_errors == 0, f"{summary}\n{detail}\n--- server log ---\n{server_log}"
    assert tally.rounds == ROUNDS, f"{summary}\n{detail}"
    assert not tally.anomalies, f"{summary}\n{detail}\n--- server log ---\n{server_log}"
