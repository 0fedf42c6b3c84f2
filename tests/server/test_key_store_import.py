"""``authserver keys import-directory``: a keys directory's keys copied into the database store with their
states and times, idempotent, all or nothing; run through the console script's own group."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result
from conftest import PEPPER
from conftest import _base_config
from conftest import _empty_tables
from sqlalchemy import create_engine

from authserver import create_app
from authserver.cli.console import main
from authserver.keys import lifecycle
from authserver.keys.keystore import ensure_development_key
from authserver.keys.keystore import read_manifest
from authserver.keys.records import KeystoreError
from authserver.keys.records import generate_private_key
from authserver.keys.storage import ensure_development_key as ensure_stored_key
from authserver.settings import normalize_database_url
from authserver.store.database import engine_options
from authserver.store.signing_keys import DatabaseKeyStore

PASS_A = "passphrase A, the one the servers run with"
PASS_B = "passphrase B, a typo in the runbook"
POLICY_A = lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, passphrase=PASS_A)


@pytest.fixture
def store(database, keys_dir) -> DatabaseKeyStore:
    """The database store, empty."""
    app = create_app(_base_config(database.url, keys_dir))
    _empty_tables(app)
    url = normalize_database_url(database.url)
    return DatabaseKeyStore(create_engine(url, **engine_options(url)))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """Encrypted with A: an active key, a retired one and a next one, at distinct times."""
    path = tmp_path / "keys"
    now = int(time.time()) - 10 * 86400
    ensure_development_key(path, now, PASS_A)
    nxt = lifecycle.generate(path, POLICY_A, now)
    lifecycle.activate(path, nxt.kid, POLICY_A, lifecycle.activation_eligible_at(nxt, POLICY_A))
    lifecycle.generate(path, POLICY_A, now + 86400)
    assert sorted(r.state for r in read_manifest(path)) == ["active", "next", "retired"]
    return path


def authserver(database, passphrase: str | None, *args: str, store: str = "database", keys_dir: str = "") -> Result:
    env = {
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_STORE": store,
        "AUTHSERVER_KEYS_DIR": keys_dir or "/nonexistent/keys",
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_KEYS_PASSPHRASE": passphrase,
    }
    return CliRunner().invoke(main, args=list(args), env=env)


def snapshot(store: DatabaseKeyStore) -> tuple[list[dict], object]:
    return [asdict(r) for r in store.records()], store.version()


def test_import_copies_every_key_with_its_state_and_times_and_the_servers_load_them(database, store, directory):
    result = authserver(database, PASS_A, "keys", "import-directory", "--json", str(directory))
    assert result.exit_code == 0, result.output
    manifest = read_manifest(directory)
    assert json.loads(result.stdout) == {"imported": [r.kid for r in manifest], "unchanged": []}
    assert store.records() == manifest, "kids, states and every time as they were"
    loaded = store.load(PASS_A)  # every private key opens with the servers' passphrase
    assert loaded.signing.record == next(r for r in manifest if r.state == "active")
    assert loaded.jwks_body == lifecycle.store_of(directory).load(PASS_A).jwks_body

    # The lifecycle goes on where it was: the next key activates when the directory said it could.
    nxt = next(r for r in manifest if r.state == "next")
    eligible = lifecycle.activation_eligible_at(nxt, POLICY_A)
    with pytest.raises(KeystoreError, match="Use --force"):
        lifecycle.activate(store, nxt.kid, POLICY_A, eligible - 1)
    assert lifecycle.activate(store, nxt.kid, POLICY_A, eligible).activated == [nxt.kid]


def test_import_is_idempotent(database, store, directory):
    first = authserver(database, PASS_A, "keys", "import-directory", str(directory))
    assert first.exit_code == 0, first.output
    before = snapshot(store)
    again = authserver(database, PASS_A, "keys", "import-directory", "--json", str(directory))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"imported": [], "unchanged": [r.kid for r in read_manifest(directory)]}
    assert snapshot(store) == before, "a repeated import changes nothing, not even the revision"


def test_import_reads_the_keys_directory_setting_by_default(database, store, directory):
    result = authserver(database, PASS_A, "keys", "import-directory", keys_dir=str(directory))
    assert result.exit_code == 0, result.output
    assert len(store.records()) == 3


@pytest.mark.parametrize(("passphrase", "problem"), [(PASS_B, "wrong passphrase"), (None, "missing passphrase")])
def test_import_with_a_wrong_or_missing_passphrase_is_refused_and_imports_nothing(
    database, store, directory, passphrase, problem
):
    result = authserver(database, passphrase, "keys", "import-directory", str(directory))
    assert result.exit_code == 1 and problem in result.stderr, result.output
    assert snapshot(store) == ([], None)


def test_import_of_a_directory_with_one_bad_key_imports_nothing(database, store, directory):
    manifest = read_manifest(directory)
    stranger = generate_private_key()
    (directory / manifest[-1].filename).write_bytes(stranger.as_pem(private=True, password=PASS_A))
    result = authserver(database, PASS_A, "keys", "import-directory", str(directory))
    assert result.exit_code == 1 and "does not match its kid" in result.stderr, result.output
    assert snapshot(store) == ([], None)


def test_import_beside_another_active_key_is_refused(database, store, directory):
    """A database that already signs with its own key: two active keys would not load; nothing changes."""
    ensure_stored_key(store, int(time.time()), PASS_A)
    before = snapshot(store)
    result = authserver(database, PASS_A, "keys", "import-directory", str(directory))
    assert result.exit_code == 1 and "already has an active key" in result.stderr, result.output
    assert snapshot(store) == before


def test_import_into_the_directory_store_is_refused(database, directory):
    result = authserver(database, PASS_A, "keys", "import-directory", str(directory), store="directory")
    assert result.exit_code == 1 and "AUTHSERVER_KEYS_STORE=database" in result.stderr, result.output
