"""Parallel redemptions of one authorization code, against a real multi-process gunicorn on PostgreSQL.

Each round gets a fresh code through the authorization endpoint (the login session's cookie skips the form
after the first round), then twenty threads, released together by a barrier, each with its own HTTP
connection, redeem it at once. Four gunicorn workers make the requests race in separate processes and
transactions. Exactly one gets 200; the others get 400 ``invalid_grant`` (no 5xx), and since they are second
redemptions, the winner's family is revoked: its refresh token is refused and no row of it is left unrevoked.

Concurrency guarantees are proven on PostgreSQL only: SQLite serialises writers behind one file lock.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests
from authorization_flow import pkce
from authorization_flow import register
from conftest import Database
from conftest import start_server
from sqlalchemy import text

pytestmark = pytest.mark.live

ROUNDS = 20
PARALLEL = 20
WORKERS = 4
PASSWORD = "concurrency password 123"
TIMEOUT = 30
CALLBACK = "https://app.test/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def postgresql_only(database: Database) -> Database:
    if database.backend != "postgresql":
        pytest.skip("concurrency guarantees are proven on PostgreSQL only, with real parallel requests")
    return database


def _code(browser: requests.Session, url: str, client_id: str, challenge: str) -> str:
    """A code from the authorization endpoint, signing in on its page if the session does not skip it."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid read",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    resp = browser.get(f"{url}/oauth/authorize?{urlencode(query)}", allow_redirects=False, timeout=TIMEOUT)
    if resp.status_code == 200:
        form = {unescape(n): unescape(v) for n, v in _HIDDEN.findall(resp.text)}
        form.update(username="racer", password=PASSWORD)
        resp = browser.post(f"{url}/oauth/authorize", data=form, allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:300])
    return parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]


def _unrevoked_rows(app) -> int:
    from authserver.extensions import db

    with app.app_context():
        try:
            return db.session.execute(text("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")).scalar()
        finally:
            db.session.rollback()


def test_parallel_redemptions_of_one_code_give_exactly_one_200(postgresql_only, keys_dir, app, make_user):
    make_user("racer", PASSWORD)
    racer = register(app, "racer-app", first_party=True, scopes="openid read")
    server = start_server(postgresql_only, keys_dir, workers=WORKERS)
    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    local = threading.local()
    statuses: collections.Counter[str] = collections.Counter()
    problems: list[str] = []

    def redeem(barrier: threading.Barrier, code: str, verifier: str) -> tuple[int | None, dict | str]:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        barrier.wait()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
        try:
            resp = session.post(
                f"{server.url}/oauth/token", data=data, auth=(racer.client_id, racer.secret), timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            return None, repr(exc)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text[:300]

    started = time.monotonic()
    try:
        browser = requests.Session()
        for number in range(1, ROUNDS + 1):
            verifier, challenge = pkce()
            code = _code(browser, server.url, racer.client_id, challenge)
            barrier = threading.Barrier(PARALLEL, timeout=TIMEOUT)
            replies = [f.result() for f in [pool.submit(redeem, barrier, code, verifier) for _ in range(PARALLEL)]]
            statuses.update(str(status) for status, _ in replies)
            ok = [body for status, body in replies if status == 200]
            refused = [b for s, b in replies if s == 400 and isinstance(b, dict) and b.get("error") == "invalid_grant"]
            if len(ok) != 1 or len(refused) != PARALLEL - 1:
                problems.append(f"round {number}: {len(ok)} x 200, {len(refused)} x invalid_grant: {replies[:3]}")
                continue
            after = requests.post(
                f"{server.url}/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": ok[0]["refresh_token"]},
                auth=(racer.client_id, racer.secret),
                timeout=TIMEOUT,
            )
            if after.status_code != 400:
                problems.append(f"round {number}: the winner's refresh token survived the replays: {after.text}")
            if (left := _unrevoked_rows(app)) != 0:
                problems.append(f"round {number}: {left} refresh tokens left unrevoked")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        server.stop()
    summary = (
        f"{ROUNDS} rounds x {PARALLEL} parallel redemptions, {WORKERS} gunicorn workers, "
        f"{time.monotonic() - started:.1f}s; statuses {dict(statuses)}"
    )
    print(summary)
    assert not problems, summary + "\n" + "\n".join(problems[:10]) + "\n" + server.log()[-2000:]
    assert statuses == {"200": ROUNDS, "400": ROUNDS * (PARALLEL - 1)}, summary
