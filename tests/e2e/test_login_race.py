"""Parallel wrong passwords for one username, against a real multi-process, multi-threaded gunicorn on
PostgreSQL (issue 12: 12 parallel guesses against one worker with 8 threads got 12 verifies, limit 5).

Each round, thirty threads released together by a barrier, each with its own HTTP connection, send a
wrong password for one user. The server runs four gunicorn workers of eight threads each, so the
guesses race in separate processes and threads. Whatever the interleaving, at most
``BRUTE_FORCE_MAX_FAILURES`` of them may have their password verified: the count of verified guesses
is read from the server's own event log (one ``login.failed`` per verified wrong password, one
``login.throttled`` per guess refused before the verify), not inferred from the answers, which are
all the same ``400 invalid_grant`` by design. After the round the correct password is refused too
(the username is locked).

Run with both counter stores (the database and Redis). Concurrency guarantees are proven on
PostgreSQL only: SQLite serialises writers behind one file lock, so a race there proves nothing.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import Database
from conftest import LiveServer
from conftest import start_server

pytestmark = pytest.mark.live

ROUNDS = 4
PARALLEL = 30
WORKERS = 4
THREADS = 8
MAX_FAILURES = 5
PASSWORD = "race password 12345"
WRONG = "wrong-password-race"
TIMEOUT = 60
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def postgresql_only(database: Database) -> Database:
    if database.backend != "postgresql":
        pytest.skip(
            "concurrency guarantees are proven on PostgreSQL only, with real parallel requests; SQLite "
            "serialises all writers behind one file lock, so a race there proves nothing"
        )
    return database


def _events(server: LiveServer, username: str) -> dict[str, int]:
    """How many of each login event the server logged for ``username``."""
    counts: dict[str, int] = {}
    for line in server.log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("username") == username:
            counts[record["msg"]] = counts.get(record["msg"], 0) + 1
    return counts


def _fire(url: str, auth: tuple[str, str | None], username: str) -> list[tuple[int, bytes]]:
    barrier = threading.Barrier(PARALLEL, timeout=TIMEOUT)
    local = threading.local()

    def one() -> tuple[int, bytes]:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.get(f"{url}/healthz", timeout=TIMEOUT)  # the connection is open before the barrier
        barrier.wait()
        resp = session.post(
            f"{url}/oauth/token",
            auth=auth,
            timeout=TIMEOUT,
            data={"grant_type": "password", "username": username, "password": WRONG},
        )
        return resp.status_code, resp.content

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return [f.result(timeout=2 * TIMEOUT) for f in [pool.submit(one) for _ in range(PARALLEL)]]


@pytest.mark.parametrize("store", ["database", "redis"])
def test_parallel_wrong_passwords_verify_at_most_the_limit(
    store, postgresql_only, keys_dir, app, make_user, make_client
):
    reg = make_client(f"race-{store}")
    names = [f"racer-{store}-{uuid.uuid4().hex[:8]}" for _ in range(ROUNDS)]
    for name in names:
        make_user(name, PASSWORD)
    env = {
        "GUNICORN_CMD_ARGS": f"--threads {THREADS}",
        "AUTHSERVER_BRUTE_FORCE_MAX_FAILURES": str(MAX_FAILURES),
        "AUTHSERVER_IP_MAX_FAILURES": "100000",
        "AUTHSERVER_GLOBAL_MAX_FAILURES": "100000",
        "AUTHSERVER_LOG_FORMAT": "json",  # _events() reads the JSON event lines (development defaults to console)
        **({"AUTHSERVER_REDIS_URL": REDIS_URL} if store == "redis" else {}),
    }
    server = start_server(postgresql_only, keys_dir, workers=WORKERS, **env)
    try:
        auth = (reg.client_id, reg.secret)
        results = []
        for name in names:
            replies = _fire(server.url, auth, name)
            after = requests.post(
                f"{server.url}/oauth/token",
                auth=auth,
                timeout=TIMEOUT,
                data={"grant_type": "password", "username": name, "password": PASSWORD},
            )
            results.append((name, replies, after))
        log = server.log()
    finally:
        server.stop()
    for name, replies, after in results:
        statuses = sorted({status for status, _body in replies})
        assert statuses == [400], (statuses, log)
        assert len({body for _status, body in replies}) == 1, "every answer is the same invalid_grant"
        events = _events(server, name)
        verified = events.get("login.failed", 0)
        assert 1 <= verified <= MAX_FAILURES, f"{verified} of {PARALLEL} parallel guesses verified: {events}"
        assert verified + events.get("login.throttled", 0) == PARALLEL + 1, events  # + the correct password after
        assert after.status_code == 400, "the username is locked: even the correct password is refused"
        assert "Retry-After" in after.headers
