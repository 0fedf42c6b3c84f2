"""The CLI against a live admin API (``--endpoint`` + ``--token``, or ``AUTHSERVER_ADMIN_URL`` +
``AUTHSERVER_ADMIN_TOKEN``): one command per group end to end, with no app (no database) behind the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from admin_api_calls import Admin
from admin_api_calls import basic
from flask import Flask
from flask.cli import ScriptInfo
from werkzeug.serving import make_server

from authserver.cli import register_commands


@pytest.fixture
def config_overrides() -> dict[str, object]:
    return {"CLIENT_CACHE_SECONDS": 0}


@pytest.fixture
def admin_url(admin_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, admin_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def ops(app, client, admin_client) -> Admin:
    return Admin(app, client, admin_client)


def _no_app() -> Flask:
    raise AssertionError("a remote command must not build the app (nor touch the database)")


@pytest.fixture
def remote_cli(app: Flask, admin_url: str, ops: Admin):
    """``authserver ...`` with an app factory that fails if called: only the admin API can answer."""
    token = ops.token()
    runner = app.test_cli_runner()
    cli = app.cli
    register_commands(app)

    def run(*args: str, env: bool = False, input: str | None = None):
        group, *rest = args
        options = [] if env else ["--endpoint", admin_url, "--token", token]
        environment = {"AUTHSERVER_ADMIN_URL": admin_url, "AUTHSERVER_ADMIN_TOKEN": token} if env else {}
        return runner.invoke(
            cli, [group, *options, *rest], obj=ScriptInfo(create_app=_no_app), env=environment, input=input
        )

    return run


def test_clients_create_and_rotate_with_an_overlap_through_the_api(remote_cli, client, clock) -> None:
    created = remote_cli(
        "clients",
        "create",
        "--name",
        "Billing",
        "--client-id",
        "billing",
        "--grant",
        "client_credentials",
        "--scope",
        "read",
        "--json",
    )
    assert created.exit_code == 0, created.output
    old = json.loads(created.output)["client_secret"]
    rotated = remote_cli("clients", "rotate-secret", "billing", "--overlap", "60", "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.output)["client_secret"]
    for secret in (old, new):
        reply = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic("billing", secret))
        assert reply.status_code == 200
    listed = remote_cli("clients", "list", "--json", env=True)
    assert listed.exit_code == 0, listed.output
    assert "billing" in [c["client_id"] for c in json.loads(listed.output)]
    deleted = remote_cli("clients", "delete", "billing", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert remote_cli("clients", "show", "billing").exit_code == 1


def test_users_create_and_disable_through_the_api(remote_cli, ops: Admin) -> None:
    created = remote_cli("users", "create", "carol", "--password-stdin", "--json", input="correct horse battery\n")
    assert created.exit_code == 0, created.output
    user_id = json.loads(created.output)["id"]
    disabled = remote_cli("users", "disable", "CAROL", "--json")
    assert disabled.exit_code == 0, disabled.output
    assert ops.get(f"/admin/users/{user_id}").get_json()["disabled"] is True


def test_keys_list_through_the_api(remote_cli, ops: Admin) -> None:
    listed = remote_cli("keys", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == ops.get("/admin/keys").get_json()["items"]


def test_tokens_revoke_before_through_the_api(remote_cli, make_client, make_user, oauth) -> None:
    reg = make_client()
    make_user()
    refresh = oauth.password(reg).get_json()["refresh_token"]
    revoked = remote_cli("tokens", "revoke-before", "--user", "alice", "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.output)["revoked_refresh_tokens"] == 1
    assert oauth.refresh(reg, refresh).status_code == 400


def test_a_refusal_of_the_api_is_the_commands_error(remote_cli) -> None:
    result = remote_cli("clients", "show", "nobody")
    assert result.exit_code == 1
    assert "no client 'nobody' (404 not_found)" in result.output


def test_a_bad_token_is_refused_by_the_api(app, admin_url: str) -> None:
    result = app.test_cli_runner().invoke(
        app.cli, ["keys", "--endpoint", admin_url, "--token", "nonsense", "list"], obj=ScriptInfo(create_app=_no_app)
    )
    assert result.exit_code == 1
    assert "401 invalid_token" in result.output


def test_a_database_only_command_refuses_an_endpoint(app, admin_url: str) -> None:
    result = app.test_cli_runner().invoke(
        app.cli, ["clients", "--endpoint", admin_url, "--token", "t", "add-origin", "x", "https://a.example"]
    )
    assert result.exit_code == 2
    assert "runs on the database only" in result.output


def test_without_an_endpoint_the_commands_run_on_the_database(app, ops: Admin) -> None:
    result = app.test_cli_runner().invoke(args=["clients", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [c["client_id"] for c in json.loads(result.output)] == [ops.client_id]
