"""Revocation (RFC 7009) and introspection (RFC 7662) from third-party clients, against real gunicorn.

* Authlib's ``OAuth2Session``: ``revoke_token`` and ``introspect_token``.
* oauth4webapi (Node): RFC 8414 discovery, then ``revocationRequest`` / ``processRevocationResponse``
  and ``introspectionRequest`` / ``processIntrospectionResponse`` (tests/e2e/interop/revoke_introspect.mjs).

The revoking client is a first-party app (password + refresh_token), created with ``introspect=True``
so that it may introspect its own refresh tokens (only their holder may); the introspecting client for
access tokens is a resource server created with ``introspect=True``. Node and npm are required: without them the
oauth4webapi test fails, it does not skip. ``npm ci`` runs when tests/e2e/interop/node_modules is
missing or does not match package-lock.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from conftest import Database
from conftest import LiveServer
from conftest import start_server

pytestmark = pytest.mark.live

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
SCRIPT = INTEROP_DIR / "revoke_introspect.mjs"
PASSWORD = "interop password 456"
TIMEOUT = 10


# ---------------------------------------------------------------- the server


@dataclass
class Server:
    url: str
    live: LiveServer

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.live.log().splitlines()[-n:])


@pytest.fixture(scope="module")
def server(database: Database, keys_dir: Path) -> Iterator[Server]:
    live = start_server(database, keys_dir, workers=2)
    try:
        yield Server(live.url, live)
    finally:
        live.stop()


# ---------------------------------------------------------------- accounts and tokens


@dataclass
class Accounts:
    username: str
    user_id: str
    app_id: str
    app_secret: str
    rs_id: str
    rs_secret: str


@dataclass
class Tokens:
    access: str
    refresh: str


@pytest.fixture
def accounts(make_user, make_client) -> Accounts:
    suffix = uuid.uuid4().hex[:10]
    username = f"revoker-{suffix}"
    user_id = make_user(username, PASSWORD)
    app = make_client(f"revoking-app-{suffix}", introspect=True)
    rs = make_client(f"resource-server-{suffix}", grants=("client_credentials",), first_party=False, introspect=True)
    assert app.secret and rs.secret
    return Accounts(username, user_id, app.client_id, app.secret, rs.client_id, rs.secret)


def login(server: Server, acc: Accounts) -> Tokens:
    resp = requests.post(
        f"{server.url}/oauth/token",
        auth=(acc.app_id, acc.app_secret),
        timeout=TIMEOUT,
        data={"grant_type": "password", "username": acc.username, "password": PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return Tokens(body["access_token"], body["refresh_token"])


def refresh(server: Server, acc: Accounts, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{server.url}/oauth/token",
        auth=(acc.app_id, acc.app_secret),
        timeout=TIMEOUT,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )


def bearer_probe(server: Server, access_token: str) -> requests.Response:
    """The server's one bearer-protected endpoint (log out everywhere): 401 unless the token is active."""
    return requests.post(
        f"{server.url}/oauth/sessions/revoke-all", timeout=TIMEOUT, headers={"Authorization": f"Bearer {access_token}"}
    )


def json_of(resp: requests.Response) -> Any:
    """The JSON body, or a failure that shows what came instead."""
    try:
        return resp.json()
    except ValueError:
        pytest.fail(
            f"{resp.request.method} {resp.url} -> {resp.status_code} "
            f"{resp.headers.get('Content-Type')!r}: body is not JSON: {resp.text[:300]!r}",
            pytrace=False,
        )


def assert_active(body: dict[str, Any], server: Server, acc: Accounts, token_type: str) -> None:
    assert body["active"] is True, body
    assert body["token_type"] == token_type
    assert body["client_id"] == acc.app_id
    assert body["sub"] == acc.user_id
    assert body["iss"] == server.url
    assert set(body["scope"].split()) == {"read", "write"}


# ---------------------------------------------------------------- Authlib


def _authlib(client_id: str, secret: str) -> OAuth2Session:
    return OAuth2Session(client_id=client_id, client_secret=secret)


def test_authlib_revokes_access_token_and_introspection_turns_inactive(server, accounts):
    tokens = login(server, accounts)
    revoke_url, introspect_url = f"{server.url}/oauth/revoke", f"{server.url}/oauth/introspect"
    with _authlib(accounts.app_id, accounts.app_secret) as app, _authlib(accounts.rs_id, accounts.rs_secret) as rs:
        before = rs.introspect_token(introspect_url, token=tokens.access, timeout=TIMEOUT)
        assert before.status_code == 200, before.text
        assert_active(json_of(before), server, accounts, "Bearer")

        revoked = app.revoke_token(revoke_url, token=tokens.access, token_type_hint="access_token", timeout=TIMEOUT)
        assert revoked.status_code == 200, revoked.text

        after = rs.introspect_token(introspect_url, token=tokens.access, timeout=TIMEOUT)
        assert after.status_code == 200, after.text
        assert json_of(after) == {"active": False}
        # Revoking again is still 200 (RFC 7009 §2.2).
        again = app.revoke_token(revoke_url, token=tokens.access, token_type_hint="access_token", timeout=TIMEOUT)
        assert again.status_code == 200, again.text

    # The revoked access token no longer works at the server's bearer-protected endpoint ...
    probe = bearer_probe(server, tokens.access)
    assert probe.status_code == 401, probe.text
    # ... which does accept a live one (last, since it logs the user out everywhere).
    control = bearer_probe(server, login(server, accounts).access)
    assert control.status_code == 200, control.text


def test_authlib_revokes_refresh_token_and_its_family(server, accounts):
    tokens = login(server, accounts)
    revoke_url, introspect_url = f"{server.url}/oauth/revoke", f"{server.url}/oauth/introspect"
    with _authlib(accounts.app_id, accounts.app_secret) as app, _authlib(accounts.rs_id, accounts.rs_secret) as rs:
        # A refresh token is introspectable by its holder only: the resource server learns nothing.
        hidden = rs.introspect_token(
            introspect_url, token=tokens.refresh, token_type_hint="refresh_token", timeout=TIMEOUT
        )
        assert hidden.status_code == 200, hidden.text
        assert json_of(hidden) == {"active": False}
        before = app.introspect_token(
            introspect_url, token=tokens.refresh, token_type_hint="refresh_token", timeout=TIMEOUT
        )
        assert before.status_code == 200, before.text
        assert_active(json_of(before), server, accounts, "refresh_token")

        revoked = app.revoke_token(revoke_url, token=tokens.refresh, token_type_hint="refresh_token", timeout=TIMEOUT)
        assert revoked.status_code == 200, revoked.text

        after = app.introspect_token(
            introspect_url, token=tokens.refresh, token_type_hint="refresh_token", timeout=TIMEOUT
        )
        assert after.status_code == 200, after.text
        assert json_of(after) == {"active": False}
        # RFC 7009 §2.1: access tokens of the same grant SHOULD go too; this server revokes the family.
        access_after = rs.introspect_token(introspect_url, token=tokens.access, timeout=TIMEOUT)
        assert access_after.status_code == 200, access_after.text
        assert json_of(access_after) == {"active": False}

    # The revoked refresh token no longer works at the token endpoint.
    resp = refresh(server, accounts, tokens.refresh)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------- oauth4webapi (Node)


def run_oauth4webapi(node: str, server: Server, acc: Accounts, plan: list[dict[str, str]]) -> dict[str, Any]:
    env = {
        **os.environ,
        "ISSUER": server.url,
        "CLIENT_ID": acc.app_id,
        "CLIENT_SECRET": acc.app_secret,
        "RS_CLIENT_ID": acc.rs_id,
        "RS_CLIENT_SECRET": acc.rs_secret,
        "PLAN": json.dumps(plan),
    }
    done = subprocess.run([node, str(SCRIPT)], cwd=INTEROP_DIR, env=env, capture_output=True, text=True, timeout=60)
    context = (
        f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}\n--- server log ---\n{server.log_tail()}"
    )
    assert done.returncode == 0, context
    return json.loads(done.stdout)


def test_oauth4webapi_discovers_revokes_and_introspects(node, server, accounts):
    first, second = login(server, accounts), login(server, accounts)
    plan = [
        {"label": "access before", "op": "introspect", "token": first.access, "hint": "access_token"},
        {"label": "refresh hidden", "op": "introspect", "token": second.refresh, "hint": "refresh_token"},
        {
            "label": "refresh before",
            "op": "introspect",
            "token": second.refresh,
            "hint": "refresh_token",
            "by": "client",
        },
        {"label": "revoke access", "op": "revoke", "token": first.access, "hint": "access_token"},
        {"label": "access after", "op": "introspect", "token": first.access, "hint": "access_token"},
        {"label": "revoke refresh", "op": "revoke", "token": second.refresh, "hint": "refresh_token"},
        {
            "label": "refresh after",
            "op": "introspect",
            "token": second.refresh,
            "hint": "refresh_token",
            "by": "client",
        },
        {"label": "family access after", "op": "introspect", "token": second.access},
        {"label": "revoke unknown", "op": "revoke", "token": "not-a-token-" + uuid.uuid4().hex},
    ]
    out = run_oauth4webapi(node, server, accounts, plan)

    assert out["oauth4webapi"].split(".")[0] == "3"
    meta = out["metadata"]
    assert meta["issuer"] == server.url  # processDiscoveryResponse has also compared it with the URL used
    assert meta["revocation_endpoint"] == f"{server.url}/oauth/revoke"
    assert meta["introspection_endpoint"] == f"{server.url}/oauth/introspect"

    steps = {s["label"]: s for s in out["steps"]}
    assert list(steps) == [p["label"] for p in plan]
    failed = {label: s["error"] for label, s in steps.items() if not s["ok"]}
    assert not failed, f"oauth4webapi rejected: {failed}\n--- server log ---\n{server.log_tail()}"

    assert_active(steps["access before"]["result"], server, accounts, "Bearer")
    assert steps["refresh hidden"]["result"] == {"active": False}
    assert_active(steps["refresh before"]["result"], server, accounts, "refresh_token")
    for label in ("revoke access", "revoke refresh", "revoke unknown"):
        assert steps[label]["status"] == 200 and steps[label]["result"] is None, steps[label]
    assert steps["access after"]["result"] == {"active": False}
    assert steps["refresh after"]["result"] == {"active": False}
    assert steps["family access after"]["result"] == {"active": False}

    # The revoked tokens stop working, checked outside oauth4webapi.
    resp = refresh(server, accounts, second.refresh)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"
    probe = bearer_probe(server, first.access)
    assert probe.status_code == 401, probe.text
