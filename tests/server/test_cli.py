"""The administration CLI, run through ``app.test_cli_runner()`` against the test app.

Most tests invoke the console script's own group (``authserver.cli.console.main``, a FlaskGroup) bound to
the test app, exactly as ``authserver ...`` runs. One test invokes the app's ``app.cli`` group, the
runner's default, which is what ``flask`` embeddings and Flask's documented testing use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from authserver.cli.console import main
from authserver.extensions import db
from authserver.models import Client
from authserver.models import User

PASSWORD = "a long enough password"


@pytest.fixture
def cli(app: Flask):
    def run(*args: str, input: str | None = None) -> Result:
        return app.test_cli_runner().invoke(main, args=list(args), input=input)

    return run


def ok_json(result: Result):
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def password_grant(app: Flask, client_id: str, secret: str, username: str, password: str):
    return app.test_client().post(
        "/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "password", "username": username, "password": password},
    )


def create_first_party(cli, *extra: str) -> dict:
    return ok_json(
        cli(
            "clients",
            "create",
            "--name",
            "Web",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            "read write",
            "--first-party",
            *extra,
            "--json",
        )
    )


def test_commands_run_through_the_apps_own_cli_group(app):
    """``app.cli`` (the runner's default) must give the commands an app context themselves."""
    result = app.test_cli_runner().invoke(args=["users", "list", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout) == []


def test_users_create_list_set_password_and_disable_take_effect(app, cli, make_client):
    created = ok_json(cli("users", "create", "carol", "--password-stdin", "--json", input=PASSWORD + "\n"))
    assert created["username"] == "carol"
    assert created["disabled"] is False
    listed = ok_json(cli("users", "list", "--json"))
    assert [(u["username"], u["id"], u["disabled"]) for u in listed] == [("carol", created["id"], False)]
    assert all("password" not in key for key in listed[0])

    reg = make_client("cli-app")
    assert password_grant(app, reg.client_id, reg.secret, "carol", PASSWORD).status_code == 200

    new_password = "another long password"
    ok_json(cli("users", "set-password", "carol", "--password-stdin", "--json", input=new_password + "\n"))
    assert password_grant(app, reg.client_id, reg.secret, "carol", PASSWORD).status_code == 400
    assert password_grant(app, reg.client_id, reg.secret, "carol", new_password).status_code == 200

    disabled = ok_json(cli("users", "disable", "carol", "--json"))
    assert disabled["disabled"] is True
    assert ok_json(cli("users", "list", "--json"))[0]["disabled"] is True
    resp = password_grant(app, reg.client_id, reg.secret, "carol", new_password)
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_grant"


def test_too_short_password_is_refused(cli):
    result = cli("users", "create", "dave", "--password-stdin", input="short\n")
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output
    assert ok_json(cli("users", "list", "--json")) == []

    cli("users", "create", "dave", "--password-stdin", input=PASSWORD + "\n")
    result = cli("users", "set-password", "dave", "--password-stdin", input="1234567\n")
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output


def test_unknown_user_commands_fail_with_message(cli):
    result = cli("users", "disable", "nobody")
    assert result.exit_code != 0
    assert "no user 'nobody'" in result.output


def test_clients_create_prints_secret_once_and_stores_only_a_digest(app, cli):
    created = create_first_party(cli)
    client_id, secret = created["client_id"], created["client_secret"]
    assert client_id and len(secret) >= 32
    assert created["grant_types"] == ["password", "refresh_token"]
    assert created["scopes"] == ["read", "write"]
    assert created["first_party"] is True

    with app.app_context():
        stored = db.session.get(Client, client_id)
        secret_hash = stored.secret_hash
    assert secret_hash and secret_hash != secret
    assert secret not in secret_hash

    as_json = cli("clients", "list", "--json")
    as_text = cli("clients", "list")
    for result in (as_json, as_text):
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        assert secret_hash not in result.output
    rows = json.loads(as_json.stdout)
    assert [r["client_id"] for r in rows] == [client_id]
    assert not {"client_secret", "secret_hash", "secret"} & set(rows[0])
    assert client_id in as_text.output


def test_public_client_with_audience_gets_no_secret(app, cli):
    created = create_first_party(cli, "--public", "--audience", "https://api.example.test")
    assert created["public"] is True
    assert created["audience"] == "https://api.example.test"
    assert "client_secret" not in created
    with app.app_context():
        assert db.session.get(Client, created["client_id"]).secret_hash is None


def test_password_grant_needs_first_party_at_creation(cli):
    result = cli("clients", "create", "--name", "Third", "--grant", "password", "--scope", "read")
    assert result.exit_code != 0
    assert "first-party" in result.output
    assert ok_json(cli("clients", "list", "--json")) == []


def test_rotate_secret_invalidates_the_old_secret(app, cli, make_user):
    make_user("erin", PASSWORD)
    created = create_first_party(cli)
    client_id, old = created["client_id"], created["client_secret"]
    assert password_grant(app, client_id, old, "erin", PASSWORD).status_code == 200

    rotated = ok_json(cli("clients", "rotate-secret", client_id, "--json"))
    new = rotated["client_secret"]
    assert rotated["client_id"] == client_id
    assert new and new != old

    resp = password_grant(app, client_id, old, "erin", PASSWORD)
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_client"
    assert password_grant(app, client_id, new, "erin", PASSWORD).status_code == 200
    assert new not in cli("clients", "list", "--json").output


def test_delete_requires_yes_then_deletes(cli):
    client_id = create_first_party(cli)["client_id"]

    refused = cli("clients", "delete", client_id)
    assert refused.exit_code != 0
    assert "--yes" in refused.output
    assert [r["client_id"] for r in ok_json(cli("clients", "list", "--json"))] == [client_id]

    deleted = ok_json(cli("clients", "delete", client_id, "--yes", "--json"))
    assert deleted == {"deleted": client_id}
    assert ok_json(cli("clients", "list", "--json")) == []
    again = cli("clients", "delete", client_id, "--yes")
    assert again.exit_code != 0
    assert "no client" in again.output


def test_keys_list_shows_exactly_one_active_key(app, cli):
    keys = ok_json(cli("keys", "list", "--json"))
    active = [k for k in keys if k["state"] == "active"]
    assert len(active) == 1
    assert active[0]["alg"] == "RS256"
    published = app.test_client().get("/.well-known/jwks.json").get_json()
    assert active[0]["kid"] in {k["kid"] for k in published["keys"]}
    manifest = json.loads((Path(app.config["KEYS_DIR"]) / "manifest.json").read_text())
    assert [k["kid"] for k in manifest["keys"] if k["state"] == "active"] == [active[0]["kid"]]


def test_generated_client_ids_work_as_cli_arguments(cli, monkeypatch):
    """A generated id is passed to `clients delete` as a plain argument: it must never look like an option.
    (Seen in CI: a URL-safe id starting with '-y' made click answer "No such option '-y'".)"""
    from authserver.admin import clients

    drawn = [clients.new_client_id() for _ in range(2000)]
    assert all(not d.startswith("-") and len(d) == 32 for d in drawn)
    assert len(set(drawn)) == len(drawn)
    monkeypatch.setattr(clients, "new_client_id", lambda: drawn[0])
    client_id = create_first_party(cli)["client_id"]
    assert client_id == drawn[0]
    assert ok_json(cli("clients", "delete", client_id, "--yes", "--json")) == {"deleted": client_id}


def test_identifiers_starting_with_a_dash_are_arguments_not_options(cli):
    """A kid (base64url thumbprint) begins with '-' one time in 64; client ids and usernames may too."""
    made = cli(
        "clients", "create", "--name", "dashed", "--grant", "client_credentials", "--client-id=-yes-abc", "--json"
    )
    assert made.exit_code == 0, made.output
    shown = ok_json(cli("clients", "rotate-secret", "-yes-abc", "--json"))
    assert shown["client_id"] == "-yes-abc"
    assert ok_json(cli("clients", "delete", "-yes-abc", "--yes", "--json")) == {"deleted": "-yes-abc"}

    typo = cli("clients", "delete", "some-client", "--yse")
    assert typo.exit_code != 0  # a mistyped option is still an error, not a second argument

    missing = cli("keys", "activate", "-no-such-kid")
    assert missing.exit_code != 0 and "No such option" not in missing.output


def _console_script(database_url: str, keys_dir: Path, *args: str, env: str) -> subprocess.CompletedProcess[str]:
    """``authserver ARGS`` as a separate process, in ``env`` with every other production setting valid."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    environ.update(
        AUTHSERVER_ENV=env,
        AUTHSERVER_ISSUER="https://auth.example.test",
        AUTHSERVER_SECRET_PEPPER="p" * 40,
        AUTHSERVER_KEYS_PASSPHRASE="a production keys passphrase",
        AUTHSERVER_DATABASE_URL=database_url,
        AUTHSERVER_KEYS_DIR=str(keys_dir),
    )
    script = Path(sys.executable).parent / "authserver"
    return subprocess.run([str(script), *args], env=environ, capture_output=True, text=True, timeout=60)


def test_demo_seed_refuses_production_and_creates_nothing(app, database, tmp_path):
    proc = _console_script(database.url, tmp_path, "demo", "seed", "--json", env="production")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "demo commands run only in development" in proc.stderr and "'production'" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    with app.app_context():
        assert db.session.query(User).count() == 0
        assert db.session.query(Client).count() == 0


def test_demo_run_refuses_production_before_any_request(database, tmp_path):
    proc = _console_script(
        database.url,
        tmp_path,
        "demo",
        "run",
        "--issuer",
        "http://127.0.0.1:9",
        "--resource",
        "http://127.0.0.1:9",
        "--client-id",
        "c",
        "--client-secret",
        "s",
        "--username",
        "u",
        "--password",
        "p",
        env="production",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "demo commands run only in development" in proc.stderr
    assert "127.0.0.1:9" not in proc.stdout + proc.stderr  # refused before the first step


def test_demo_seed_works_in_development(app, database, tmp_path):
    proc = _console_script(database.url, tmp_path, "demo", "seed", "--json", env="development")
    assert proc.returncode == 0, proc.stderr
    seeded = json.loads(proc.stdout)
    assert (seeded["username"], seeded["article_username"], seeded["article_client_id"]) == ("demo", "user", "demo-spa")
    with app.app_context():
        assert sorted(u.username for u in db.session.query(User)) == ["demo", "user"]
        assert sorted(c.client_id for c in db.session.query(Client)) == ["demo-app", "demo-spa", "demo-third-party"]
