"""Two hosts sharing nothing but PostgreSQL: two ``authserver serve`` processes, each with its own
environment and its own (empty, never created) keys directory, on the database key store. The first start
generates the development key in the database (both servers' workers race for it); a rotation made by an
operator elsewhere is published, then signs, on both within the reload interval."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import _base_config
from conftest import _empty_tables
from conftest import start_server
from joserfc import jws
from sqlalchemy import create_engine

from authserver import create_app
from authserver.admin import clients
from authserver.admin import users
from authserver.keys import lifecycle
from authserver.settings import normalize_database_url
from authserver.store.database import engine_options
from authserver.store.signing_keys import DatabaseKeyStore
from authserver.testing.servers import LiveServer

RELOAD = 1
PASS = "passphrase shared by both hosts"
POLICY = lifecycle.Policy(jwks_max_age=300, reload_interval=RELOAD, token_lifetime=3600, passphrase=PASS)


@pytest.fixture
def postgresql(database):
    if database.backend != "postgresql":
        pytest.skip("several hosts share a PostgreSQL database")
    return database


@pytest.fixture
def hosts(postgresql, keys_dir, tmp_path: Path) -> Iterator[tuple[list[LiveServer], str]]:
    app = create_app(_base_config(postgresql.url, keys_dir))
    _empty_tables(app)
    with app.app_context():
        users.create_user("alice", "correct horse battery")
        _client, secret = clients.create_client(
            name="app", client_id="app", grant_types=["password"], scopes=["read"], first_party=True, public=False
        )
    servers = []
    try:
        for name in ("host-a", "host-b"):
            servers.append(
                start_server(
                    postgresql,
                    tmp_path / name / "keys",  # each host's own directory setting; the database store never uses it
                    workers=2,
                    AUTHSERVER_KEYS_STORE="database",
                    AUTHSERVER_KEYS_PASSPHRASE=PASS,
                    AUTHSERVER_KEYS_RELOAD_INTERVAL=str(RELOAD),
                )
            )
        yield servers, secret
    finally:
        for server in servers:
            server.stop()
    for name in ("host-a", "host-b"):
        assert not (tmp_path / name).exists(), "a server touched its keys directory"


def jwks_kids(server: LiveServer) -> set[str]:
    return {k["kid"] for k in requests.get(f"{server.url}/.well-known/jwks.json", timeout=5).json()["keys"]}


def signing_kid(server: LiveServer, secret: str) -> str:
    reply = requests.post(
        f"{server.url}/oauth/token",
        auth=("app", secret),
        data={"grant_type": "password", "username": "alice", "password": "correct horse battery"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return jws.extract_compact(reply.json()["access_token"].encode()).protected["kid"]


def test_two_hosts_on_one_database_follow_a_rotation_within_the_reload_interval(postgresql, hosts):
    servers, secret = hosts
    url = normalize_database_url(postgresql.url)
    store = DatabaseKeyStore(create_engine(url, **engine_options(url)))
    [first] = store.records()
    assert first.state == "active", "the first start generated exactly one key, in the database"
    assert all(jwks_kids(server) == {first.kid} for server in servers)

    new = lifecycle.generate(store, POLICY, int(time.time()))
    published = time.monotonic()
    for server in servers:  # every worker of both hosts: poll a few times per host
        while any(new.kid not in jwks_kids(server) for _ in range(4)):
            assert time.monotonic() - published < RELOAD + 2, "a host did not publish the new key in time"
            time.sleep(0.1)

    lifecycle.activate(store, new.kid, POLICY, int(time.time()), force=True)
    activated = time.monotonic()
    for server in servers:
        while any(signing_kid(server, secret) != new.kid for _ in range(4)):
            assert time.monotonic() - activated < RELOAD + 2, "a host still signs with the old key"
            time.sleep(0.1)
    assert time.monotonic() - activated < RELOAD + 2
