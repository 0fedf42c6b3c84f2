"""End to end with real processes: the server under gunicorn, the example resource service under
gunicorn, and the ``authserver`` console script seeding the demo and walking the story."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from conftest import PEPPER
from conftest import ROOT
from conftest import Database
from conftest import LiveServer
from conftest import _free_port
from conftest import start_gunicorn

from authserver_verifier import Introspection
from authserver_verifier import InvalidTokenError
from authserver_verifier import Verifier
from authserver_verifier.testing import ManualClock

pytestmark = pytest.mark.live
AUTHSERVER = Path(sys.executable).with_name("authserver")


def start_resource_service(issuer: str, leeway: int = 1) -> LiveServer:
    """``gunicorn "examples.resource_service.app:create_app()"`` from the repository root, as documented."""
    env = {**os.environ, "RESOURCE_ISSUER": issuer, "RESOURCE_AUDIENCE": issuer, "RESOURCE_LEEWAY": str(leeway)}
    return start_gunicorn("examples.resource_service.app:create_app()", env, _free_port())


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The session's gunicorn server (conftest.start_server) on the same database as the CLI."""
    return live_server


def cli(database: Database, keys_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_DIR": str(keys_dir),
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_ARGON2_TIME_COST": "1",
        "AUTHSERVER_ARGON2_MEMORY_KIB": "1024",
    }
    return subprocess.run(
        [str(AUTHSERVER), *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_demo_run_walks_the_whole_story(server, database, keys_dir):
    resource = start_resource_service(server.url, leeway=1)
    try:
        seed = cli(database, keys_dir, "demo", "seed", "--short-ttl", "--json")
        assert seed.returncode == 0, seed.stderr
        run = cli(
            database,
            keys_dir,
            "demo",
            "run",
            "--issuer",
            server.url,
            "--resource",
            resource.url,
            "--credentials",
            "-",
            "--max-wait",
            "20",
            stdin=seed.stdout,
        )
    finally:
        resource.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "demo: all 11 steps behaved as expected"
    expired = next(line for line in lines if "with the expired token" in line)
    assert ' 401 Bearer realm="resource-service", error="invalid_token"' in expired
    assert "insufficient_scope" in next(line for line in lines if "/user/admin" in line)
    revoked = next(line for line in lines if "with the revoked refresh token" in line)
    assert revoked.endswith(" 400 invalid_grant")


def seed_in_process(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=["demo", "seed", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_plain_demo_seed_restores_the_default_lifetime(app):
    from authserver.extensions import db
    from authserver.models import Client

    first = seed_in_process(app, "--short-ttl")
    with app.app_context():
        assert db.session.get(Client, "demo-app").access_token_ttl == 5
    second = seed_in_process(app)  # what `make run` does
    assert second["client_secret"] != first["client_secret"] and second["password"] != first["password"]
    with app.app_context():
        assert db.session.get(Client, "demo-app").access_token_ttl is None


def test_demo_run_fails_when_the_resource_accepts_an_expired_token(server, app):
    from click.testing import CliRunner

    from authserver.cli.demo import run

    credentials = json.dumps(seed_in_process(app, "--short-ttl"))
    lenient = start_resource_service(server.url, leeway=3600)
    try:
        result = CliRunner(env={"AUTHSERVER_ENV": "development"}).invoke(
            run,
            ["--issuer", server.url, "--resource", lenient.url, "--credentials", "-", "--max-wait", "1"],
            input=credentials,
        )
    finally:
        lenient.stop()
    assert result.exit_code == 1
    assert "step 4 (GET /user/data with the expired token" in result.output and "expected 401" in result.output


def test_demo_run_fails_on_wrong_credentials(server):
    from click.testing import CliRunner

    from authserver.cli.demo import run

    result = CliRunner(env={"AUTHSERVER_ENV": "development"}).invoke(
        run,
        [
            "--issuer",
            server.url,
            "--resource",
            "http://127.0.0.1:9",
            "--client-id",
            "demo-app",
            "--client-secret",
            "wrong",
            "--username",
            "demo",
            "--password",
            "x",
        ],
    )
    assert result.exit_code == 1
    assert "step 1 (log in (password grant)): expected 200, got 401" in result.output


def test_real_server_token_verifies_offline_and_its_revocation_is_seen_online(live_server, make_user, make_client):
    user_id = make_user("alice")
    app = make_client("app")
    rs = make_client("rs", grants=("client_credentials",), scopes="", first_party=False, introspect=True)
    reply = requests.post(
        f"{live_server.url}/oauth/token",
        headers=app.basic,
        timeout=10,
        data={"grant_type": "password", "username": "alice", "password": "correct horse battery", "scope": "read"},
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]

    offline = Verifier(live_server.url, live_server.url)
    claims = offline.verify(token, ("read",))
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (user_id, "app", "read")
    clock = ManualClock()
    online = Verifier(
        live_server.url,
        live_server.url,
        clock=clock,
        introspection=Introspection(rs.client_id, rs.secret, cache_ttl=10),
    )
    assert online.verify(token)["sub"] == user_id

    revoked = requests.post(
        f"{live_server.url}/oauth/revoke",
        headers=app.basic,
        timeout=10,
        data={"token": token, "token_type_hint": "access_token"},
    )
    assert revoked.status_code == 200
    assert online.verify(token)["sub"] == user_id  # the cached answer, for at most cache_ttl
    clock.advance(11)
    with pytest.raises(InvalidTokenError, match="not active"):
        online.verify(token)
    assert offline.verify(token)["sub"] == user_id  # offline mode cannot see revocations before exp
    assert online.introspection is not None and online.introspection.requests == 2


def test_example_service_serves_user_tokens_and_refuses_client_credentials_tokens(live_server, make_user, make_client):
    """Real tokens from the server, the example service under gunicorn, plain HTTP between them."""
    make_user("alice")
    app = make_client("app")
    service = make_client("batch", grants=("client_credentials",), scopes="read write", first_party=False)
    user = requests.post(
        f"{live_server.url}/oauth/token",
        headers=app.basic,
        timeout=10,
        data={"grant_type": "password", "username": "alice", "password": "correct horse battery", "scope": "read"},
    )
    machine = requests.post(
        f"{live_server.url}/oauth/token",
        headers=service.basic,
        timeout=10,
        data={"grant_type": "client_credentials", "scope": "read write"},
    )
    assert user.status_code == 200 and machine.status_code == 200, (user.text, machine.text)
    resource = start_resource_service(live_server.url)
    try:

        def get(path: str, token: str) -> requests.Response:
            return requests.get(f"{resource.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)

        served = get("/user/data", user.json()["access_token"])
        refused = get("/user/data", machine.json()["access_token"])
        refused_admin = get("/user/admin", machine.json()["access_token"])
    finally:
        resource.stop()
    assert served.status_code == 200 and served.json()["client_id"] == "app"
    for reply in (refused, refused_admin):
        assert reply.status_code == 403, reply.text
        assert reply.headers["WWW-Authenticate"] == (
            'Bearer realm="resource-service", error="insufficient_scope", '
            'error_description="the resource requires a token issued to a user"'
        )
        assert reply.json()["error"] == "insufficient_scope"
