"""Key commands prove their passphrase before they write, and prove the directory loads after.

The reported attack: servers run with passphrase A; an emergency ``authserver keys revoke`` run
with passphrase B (or none) printed success, deleted the key file and wrote a replacement the
servers could not load, so they kept signing with the "revoked" key. Every writing command is run
here through the console script's own group (``authserver.cli.console.main``, which builds the app from the
``AUTHSERVER_*`` environment exactly as the installed script does) or the installed script itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from click.testing import Result
from conftest import PEPPER
from conftest import management_app
from conftest import start_server
from joserfc import jws

from authserver.cli.console import main
from authserver.keys import lifecycle
from authserver.keys.keystore import MANIFEST
from authserver.keys.keystore import KeyRecord
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import ensure_development_key
from authserver.keys.keystore import generate_private_key
from authserver.keys.keystore import read_manifest
from authserver.keys.keystore import write_manifest

PASS_A = "passphrase A, the one the servers run with"
PASS_B = "passphrase B, a typo in the runbook"
POLICY_A = lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, passphrase=PASS_A)


def _states(keys_dir: Path) -> dict[str, str]:
    return {r.state: r.kid for r in read_manifest(keys_dir)}


@pytest.fixture
def encrypted_keys(tmp_path: Path) -> Path:
    """Encrypted with A: an active key, a next key and a retired one."""
    path = tmp_path / "keys"
    now = int(time.time()) - 10 * 86400
    ensure_development_key(path, now, PASS_A)
    nxt = lifecycle.generate(path, POLICY_A, now)
    lifecycle.activate(path, nxt.kid, POLICY_A, lifecycle.activation_eligible_at(nxt, POLICY_A))
    lifecycle.generate(path, POLICY_A, now + 86400)
    assert sorted(_states(path)) == ["active", "next", "retired"]
    return path


@pytest.fixture
def config_overrides(encrypted_keys: Path) -> dict:
    return {"KEYS_DIR": str(encrypted_keys), "KEYS_PASSPHRASE": PASS_A}


def snapshot(keys_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the directory: its bytes and mode (the listing, the manifest, every PEM)."""
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in sorted(keys_dir.iterdir())}


def _env(database, keys_dir: Path, passphrase: str | None, **extra: str) -> dict[str, str | None]:
    return {
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_DIR": str(keys_dir),
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_KEYS_PASSPHRASE": passphrase,
        **extra,
    }


def authserver(database, keys_dir: Path, passphrase: str | None, *args: str, **env: str) -> Result:
    """``authserver <args>`` with this environment (``None`` unsets the passphrase)."""
    return CliRunner().invoke(main, args=list(args), env=_env(database, keys_dir, passphrase, **env))


def _reload(app) -> None:
    """The next request of ``app`` and of its management listener's app checks the keys again."""
    app.extensions["authserver.keys.keyring"]._next_check = 0
    management_app(app).extensions["authserver.keys.keyring"]._next_check = 0


def _ready(client):
    """``GET /readyz`` on the management listener of ``client``'s app."""
    return management_app(client.application).test_client().get("/readyz")


def _signing_kid(oauth, reg) -> str:
    resp = oauth.password(reg)
    assert resp.status_code == 200, resp.data
    return jws.extract_compact(resp.json["access_token"].encode()).protected["kid"]


def _metrics(client) -> dict[str, int]:
    """The management listener's ``/metrics`` of ``client``'s app."""
    text = management_app(client.application).test_client().get("/metrics").get_data(as_text=True)
    lines = (line.split(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {k: int(float(v)) for k, v in lines}


# Every command that writes, with a target valid for the fixture's directory.
COMMANDS = {
    "generate": lambda s: ["keys", "generate"],
    "generate --activate": lambda s: ["keys", "generate", "--activate"],
    "activate": lambda s: ["keys", "activate", "--force", "--", s["next"]],
    "retire": lambda s: ["keys", "retire", "--", s["next"]],
    "prune": lambda s: ["keys", "prune"],
    "rotate": lambda s: ["keys", "rotate"],
    "rotate --if-due": lambda s: ["keys", "rotate", "--if-due"],
    "revoke active": lambda s: ["keys", "revoke", "--yes", "--", s["active"]],
    "revoke retired": lambda s: ["keys", "revoke", "--yes", "--", s["retired"]],
}


@pytest.mark.parametrize(("passphrase", "problem"), [(PASS_B, "wrong passphrase"), (None, "missing passphrase")])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_writing_key_command_with_a_wrong_or_missing_passphrase_is_refused_and_changes_nothing(
    database, encrypted_keys, command, passphrase, problem
):
    before = snapshot(encrypted_keys)
    result = authserver(database, encrypted_keys, passphrase, *COMMANDS[command](_states(encrypted_keys)))
    assert result.exit_code == 1, result.output
    assert problem in result.stderr and "AUTHSERVER_KEYS_PASSPHRASE" in result.stderr, result.stderr
    assert "generated" not in result.stdout and "removed" not in result.stdout
    assert snapshot(encrypted_keys) == before, "a refused command changed the keys directory"


@pytest.mark.parametrize("passphrase", [PASS_B, None], ids=["wrong", "missing"])
def test_emergency_revoke_with_the_wrong_passphrase_leaves_the_servers_keys_and_jwks_alone(
    app, client, database, encrypted_keys, make_user, make_client, oauth, passphrase
):
    """The reported attack, through the installed ``authserver`` script against a running app."""
    make_user()
    reg = make_client()
    active = _states(encrypted_keys)["active"]
    jwks = client.get("/.well-known/jwks.json").data
    before = snapshot(encrypted_keys)
    env = {**os.environ, **{k: v for k, v in _env(database, encrypted_keys, passphrase).items() if v is not None}}
    if passphrase is None:
        env.pop("AUTHSERVER_KEYS_PASSPHRASE", None)
    script = Path(sys.executable).with_name("authserver")
    done = subprocess.run(
        [str(script), "keys", "revoke", "--yes", "--", active], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == "", "nothing generated, activated or removed"
    assert ("wrong passphrase" if passphrase else "missing passphrase") in done.stderr
    assert snapshot(encrypted_keys) == before
    _reload(app)
    assert client.get("/.well-known/jwks.json").data == jwks
    assert _ready(client).status_code == 200

    # With the servers' passphrase the same command works, and the servers follow it.
    result = authserver(database, encrypted_keys, PASS_A, "keys", "revoke", "--yes", "--json", "--", active)
    assert result.exit_code == 0, result.output
    replacement = json.loads(result.stdout)["activated"][0]
    assert not (encrypted_keys / f"{active}.pem").exists()
    assert (encrypted_keys / f"{replacement}.pem").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    _reload(app)
    assert active not in client.get("/.well-known/jwks.json").data.decode()
    assert _signing_kid(oauth, reg) == replacement
    assert _ready(client).status_code == 200


def test_emergency_revoke_with_the_wrong_passphrase_changes_nothing_on_a_live_server(database, encrypted_keys):
    """The same attack against gunicorn workers that reload every second."""
    server = start_server(
        database, encrypted_keys, workers=1, AUTHSERVER_KEYS_PASSPHRASE=PASS_A, AUTHSERVER_KEYS_RELOAD_INTERVAL="1"
    )
    try:
        active = _states(encrypted_keys)["active"]
        jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=5).json()
        result = authserver(database, encrypted_keys, PASS_B, "keys", "revoke", "--yes", "--", active)
        assert result.exit_code == 1 and "wrong passphrase" in result.stderr, result.output
        time.sleep(1.5)  # past one reload interval
        assert requests.get(f"{server.url}/.well-known/jwks.json", timeout=5).json() == jwks
        assert requests.get(f"{server.management_url}/readyz", timeout=5).status_code == 200

        result = authserver(database, encrypted_keys, PASS_A, "keys", "revoke", "--yes", "--", active)
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + 10
        while active in requests.get(f"{server.url}/.well-known/jwks.json", timeout=5).text:
            assert time.monotonic() < deadline, "the live server never dropped the revoked key"
            time.sleep(0.2)
        assert requests.get(f"{server.management_url}/readyz", timeout=5).status_code == 200
    finally:
        server.stop()
    assert "key.reload_failed" not in server.log()


def test_production_refuses_key_commands_without_a_passphrase(database, tmp_path):
    keys_dir = tmp_path / "keys"
    result = authserver(
        database,
        keys_dir,
        None,
        "keys",
        "generate",
        "--activate",
        AUTHSERVER_ENV="production",
        AUTHSERVER_SECRET_PEPPER="p" * 40,
    )
    assert result.exit_code == 2 and "AUTHSERVER_KEYS_PASSPHRASE is required in production" in result.stderr
    assert not keys_dir.exists() or not any(keys_dir.glob("*.pem"))


def test_production_policy_never_writes_an_unencrypted_key(tmp_path):
    """Below the config check: the lifecycle itself refuses when encryption is required."""
    policy = lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, require_encryption=True)
    with pytest.raises(KeystoreError, match="missing passphrase: production never writes an unencrypted key"):
        lifecycle.generate_first(tmp_path, policy, int(time.time()))
    assert not list(tmp_path.glob("*.pem")) and not (tmp_path / MANIFEST).exists()


def test_no_unencrypted_key_is_written_beside_an_encrypted_file_the_manifest_does_not_list(database, tmp_path):
    """An encrypted PEM left by an interrupted write still marks the directory as encrypted."""
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "orphan.pem").write_bytes(generate_private_key().as_pem(private=True, password=PASS_A))
    before = snapshot(keys_dir)
    result = authserver(database, keys_dir, None, "keys", "generate", "--activate")
    assert result.exit_code == 1 and "refusing to write an unencrypted key beside encrypted ones" in result.stderr
    after = snapshot(keys_dir)
    assert after.pop(".lock")[0] == b"", "the only new file is the directory's (empty) lock file"
    assert after == before


def test_a_change_that_would_leave_the_directory_unloadable_is_undone(database, encrypted_keys):
    """Two active keys (a hand edit): revoking the next key would write a manifest no server loads.
    The command fails, the manifest is put back, and the key's file is not deleted; activating the
    next key (which retires every active one) repairs the directory."""
    records = read_manifest(encrypted_keys)
    for record in records:
        if record.state == "retired":
            record.state, record.retired_at = "active", None
    write_manifest(encrypted_keys, records)
    nxt = _states(encrypted_keys)["next"]
    before = snapshot(encrypted_keys)
    result = authserver(database, encrypted_keys, PASS_A, "keys", "revoke", "--yes", "--", nxt)
    assert result.exit_code == 1, result.output
    assert "would not load, so the change was undone" in result.stderr
    assert "exactly one active key is required, found 2" in result.stderr
    assert snapshot(encrypted_keys) == before

    result = authserver(database, encrypted_keys, PASS_A, "keys", "generate")
    assert result.exit_code == 1 and "undone" in result.stderr, result.output
    assert snapshot(encrypted_keys) == before, "the generated key file was removed again"

    result = authserver(database, encrypted_keys, PASS_A, "keys", "activate", "--force", "--", nxt)
    assert result.exit_code == 0, result.output
    assert _states(encrypted_keys)["active"] == nxt and len(read_manifest(encrypted_keys)) == 3


def test_server_whose_reload_fails_is_not_ready_and_says_so_until_a_reload_succeeds(
    app, client, encrypted_keys, make_user, make_client, oauth, events
):
    """A manifest changed behind the CLI's back (another host's passphrase, a hand edit): the server
    keeps signing with the last good keys, and readiness, a gauge and an event say it is stuck."""
    make_user()
    reg = make_client()
    active = _states(encrypted_keys)["active"]
    jwks = client.get("/.well-known/jwks.json").data
    assert _ready(client).json["status"] == "ready"
    assert _metrics(client)["authserver_key_reload_healthy"] == 1
    failures = _metrics(client).get("authserver_key_reload_failed_total", 0)
    good_manifest = (encrypted_keys / MANIFEST).read_bytes()

    stranger = generate_private_key()
    (encrypted_keys / f"{stranger.thumbprint()}.pem").write_bytes(stranger.as_pem(private=True, password=PASS_B))
    records = read_manifest(encrypted_keys)
    write_manifest(encrypted_keys, [*records, KeyRecord(stranger.thumbprint(), "RS256", "next", 1)])
    for _ in range(2):  # retried every interval, reported once
        _reload(app)
        resp = _ready(client)
        assert resp.status_code == 503
        assert resp.json["status"] == "not_ready" and resp.json["reasons"] == ["key_reload_failed"]
        assert "cannot be loaded" in resp.json["details"]["key_reload_failed"]
        assert str(encrypted_keys) not in resp.get_data(as_text=True), "no paths on a probe endpoint"
        assert resp.headers["Cache-Control"] == "no-store"
    metrics = _metrics(client)
    assert metrics["authserver_key_reload_healthy"] == 0
    assert metrics["authserver_key_reload_failed_total"] == failures + 1
    failed = [r for r in events if getattr(r, "event", None) == "key.reload_failed"]
    assert len(failed) == 1 and "wrong passphrase" in failed[0].reason
    assert client.get("/.well-known/jwks.json").data == jwks, "the last good keys are still served"
    assert _signing_kid(oauth, reg) == active

    write_manifest(encrypted_keys, records)  # the good manifest again, as a new file
    assert (encrypted_keys / MANIFEST).read_bytes() == good_manifest
    _reload(app)
    assert _ready(client).json["status"] == "ready"
    assert _metrics(client)["authserver_key_reload_healthy"] == 1
    assert any(getattr(r, "event", None) == "key.reloaded" for r in events)
