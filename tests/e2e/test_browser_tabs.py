"""Several browser tabs sharing one refresh cookie, against a live multi-process gunicorn on PostgreSQL.

Each round logs in from the browser origin (cookie mode), then TABS threads, released together by
a barrier, each with its own connection, refresh at once with the same cookie: within the client's
grace window (browser clients default to 10 s) all get 200 and the same successor cookie, and nobody
is logged out. Outside the window, the old cookie is reuse: 401, the family revoked, the cookie cleared.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie

import pytest
import requests
from conftest import Database
from conftest import start_server

pytestmark = pytest.mark.live

ROUNDS = 10
TABS = 8
WORKERS = 4
ORIGIN = "https://app.test"
PASSWORD = "several tabs password 123"
COOKIE = "refresh_token"  # the live server's issuer is http://127.0.0.1:<port>: no __Host- prefix
HEADERS = {"Origin": ORIGIN, "X-CSRF": "1", "Content-Type": "application/json"}
TIMEOUT = 30
LOGIN_BODY = json.dumps({"username": "tabs", "password": PASSWORD})


def _cookie(resp: requests.Response) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    jar.load(resp.headers.get("Set-Cookie", ""))
    return jar[COOKIE].value if COOKIE in jar else None


def _post(session: requests.Session, url: str, cookie: str | None, body: str = "{}") -> requests.Response:
    headers = dict(HEADERS, **({"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}))
    return session.post(url, data=body, headers=headers, timeout=TIMEOUT)


def _login(url: str) -> str:
    resp = _post(requests.Session(), f"{url}/login", None, LOGIN_BODY)
    assert resp.status_code == 200, resp.text
    cookie = _cookie(resp)
    assert cookie
    return cookie


@pytest.fixture
def postgresql_only(database: Database) -> Database:
    if database.backend != "postgresql":
        pytest.skip("parallel refreshes prove something only on PostgreSQL (SQLite serialises every writer)")
    return database


def test_tabs_refreshing_at_once_all_get_the_same_successor_and_reuse_later_revokes(
    postgresql_only, keys_dir, make_user, make_client
):
    make_user("tabs", PASSWORD)
    make_client("spa", public=True, origins=(ORIGIN,))
    server = start_server(postgresql_only, keys_dir, workers=WORKERS)
    sessions = [requests.Session() for _ in range(TABS)]
    pool = ThreadPoolExecutor(max_workers=TABS)
    try:
        for number in range(ROUNDS):
            cookie = _login(server.url)
            barrier = threading.Barrier(TABS, timeout=TIMEOUT)

            def tab(session: requests.Session, cookie: str = cookie, barrier: threading.Barrier = barrier):
                barrier.wait()
                return _post(session, f"{server.url}/auth/refresh", cookie)

            replies = list(pool.map(tab, sessions))
            statuses = [r.status_code for r in replies]
            assert statuses == [200] * TABS, (number, statuses, [r.text[:200] for r in replies])
            successors = {_cookie(r) for r in replies}
            assert len(successors) == 1 and cookie not in successors, (number, successors)
            (successor,) = successors
            assert successor is not None
            onward = _post(sessions[0], f"{server.url}/auth/refresh", successor)
            assert onward.status_code == 200, onward.text  # nobody was logged out
        # Outside the window (a client with a 1 s window, so the test need not wait 10 s): reuse.
        make_client("strict-spa", public=True, origins=("https://strict.test",), grace_seconds=1)
        headers = dict(HEADERS, Origin="https://strict.test")
        login = requests.post(
            f"{server.url}/login",
            data=LOGIN_BODY,
            headers=headers,
            timeout=TIMEOUT,
        )
        old = _cookie(login)
        refreshed = requests.post(
            f"{server.url}/auth/refresh", data="{}", headers=dict(headers, Cookie=f"{COOKIE}={old}"), timeout=TIMEOUT
        )
        successor = _cookie(refreshed)
        assert refreshed.status_code == 200 and successor
        time.sleep(2.5)
        reuse = requests.post(
            f"{server.url}/auth/refresh", data="{}", headers=dict(headers, Cookie=f"{COOKIE}={old}"), timeout=TIMEOUT
        )
        assert reuse.status_code == 401 and reuse.json()["error"] == "invalid_grant"
        assert _cookie(reuse) == ""  # cleared
        after = requests.post(
            f"{server.url}/auth/refresh",
            data="{}",
            headers=dict(headers, Cookie=f"{COOKIE}={successor}"),
            timeout=TIMEOUT,
        )
        assert after.status_code == 401  # the family was revoked
    finally:
        pool.shutdown()
        for session in sessions:
            session.close()
        server.stop()
