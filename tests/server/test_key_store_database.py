"""The signing-key lifecycle on the database key store (``AUTHSERVER_KEYS_STORE=database``), on SQLite and
PostgreSQL: the same steps and safety rules as the directory store (test_key_rotation.py,
test_keystore_encryption.py, test_key_command_passphrase.py, test_dev_key_generation.py), no file anywhere,
and every server process reloading from one cheap query per interval."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from click.testing import Result
from conftest import PEPPER
from conftest import _base_config
from conftest import _empty_tables
from flask import Flask
from joserfc import jws
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text

from authserver import create_app
from authserver.cli.console import main
from authserver.extensions import db
from authserver.keys import lifecycle
from authserver.keys.keyring import current_keyring
from authserver.keys.records import KeystoreError
from authserver.keys.records import generate_private_key
from authserver.settings import normalize_database_url
from authserver.store import stores_of
from authserver.store.database import engine_options
from authserver.store.signing_keys import DatabaseKeyStore

JWKS_MAX_AGE = 300
RELOAD = 10
TOKEN_MAX = 3600
PASS_A = "passphrase A, the one the servers run with"
PASS_B = "passphrase B, a typo in the runbook"
POLICY = lifecycle.Policy(
    jwks_max_age=JWKS_MAX_AGE, reload_interval=RELOAD, token_lifetime=TOKEN_MAX, rotation_period=30 * 86400
)
POLICY_A = lifecycle.Policy(
    jwks_max_age=JWKS_MAX_AGE, reload_interval=RELOAD, token_lifetime=TOKEN_MAX, passphrase=PASS_A
)


def database_app(url: str, keys_dir: Path, **overrides: Any) -> Flask:
    return create_app(
        _base_config(
            url, keys_dir, KEYS_STORE="database", JWKS_MAX_AGE=JWKS_MAX_AGE, KEYS_RELOAD_INTERVAL=RELOAD, **overrides
        )
    )


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if "authserver.autocommit_engine" in app.extensions:
        app.extensions["authserver.autocommit_engine"].dispose()


@pytest.fixture
def passphrase() -> str | None:
    return None


@pytest.fixture
def no_keys_dir(tmp_path: Path) -> Path:
    """The directory setting points nowhere: any file access would fail or show up here."""
    return tmp_path / "no-keys-here"


@pytest.fixture
def app(database, keys_dir, clock, no_keys_dir, passphrase) -> Iterator[Flask]:
    """An app on the database store, on emptied tables: development generates its key in the database."""
    emptier = create_app(_base_config(database.url, keys_dir))
    _empty_tables(emptier)
    dispose(emptier)
    app = database_app(database.url, no_keys_dir, CLOCK=clock, KEYS_PASSPHRASE=passphrase, METRICS=1)
    yield app
    dispose(app)
    assert not no_keys_dir.exists(), "the database store touched the keys directory"


@pytest.fixture
def store(app) -> DatabaseKeyStore:
    key_store = stores_of(app).signing_keys
    assert isinstance(key_store, DatabaseKeyStore)
    return key_store


def rows(app: Flask) -> list[dict[str, Any]]:
    """Every stored row of both tables, every column (what a refused change must leave alone)."""
    with app.app_context():
        keys = [dict(r._mapping) for r in db.session.execute(text("SELECT * FROM signing_keys ORDER BY seq"))]
        revision = db.session.execute(text("SELECT revision FROM signing_key_set")).scalar()
        db.session.rollback()
    return [*keys, {"revision": revision}]


def states(store: DatabaseKeyStore) -> dict[str, str]:
    return {r.state: r.kid for r in store.records()}


def _signing_kid(oauth, reg) -> str:
    resp = oauth.password(reg)
    assert resp.status_code == 200, resp.data
    return jws.extract_compact(resp.json["access_token"].encode()).protected["kid"]


def _jwks_kids(client) -> set[str]:
    return {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}


def _reload(app) -> None:
    """Let the next request re-check the key store (a server does so every RELOAD seconds)."""
    with app.app_context():
        current_keyring()._next_check = 0


def authserver(database, passphrase: str | None, *args: str, **env: str) -> Result:
    """``authserver <args>`` on the database store, as the installed script builds its app."""
    environ = {
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_STORE": "database",
        "AUTHSERVER_KEYS_DIR": "/nonexistent/keys",
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_KEYS_PASSPHRASE": passphrase,
        **env,
    }
    return CliRunner().invoke(main, args=list(args), env=environ)


# ---------------------------------------------------------------- the lifecycle


def test_development_generates_its_key_in_the_database(app, store, clock):
    [record] = store.records()
    assert record.state == "active" and record.alg == "RS256" and record.created_at == clock.now()
    with app.app_context():
        assert current_keyring().current.keystore.signing.record.kid == record.kid


def test_full_cycle_publishes_before_signing_and_removes_after_tokens_expire(
    app, client, store, clock, make_user, make_client, oauth
):
    make_user()
    reg = make_client()
    first = store.records()[0].kid
    assert _signing_kid(oauth, reg) == first

    new = lifecycle.generate(store, POLICY, clock.now())
    _reload(app)
    assert _jwks_kids(client) == {first, new.kid}, "a next key is published at once"
    assert _signing_kid(oauth, reg) == first, "but does not sign"

    eligible = lifecycle.activation_eligible_at(new, POLICY)
    assert eligible >= clock.now() + JWKS_MAX_AGE + RELOAD + 1, "a full publish delay, whatever the rounding"
    assert store.records()[-1] == new, "the stored record is the one returned"
    clock.value = eligible - 1
    with pytest.raises(KeystoreError, match="Use --force"):
        lifecycle.activate(store, new.kid, POLICY, clock.now())
    clock.advance(1)
    actions = lifecycle.activate(store, new.kid, POLICY, clock.now())
    assert actions.activated == [new.kid] and actions.retired == [first]
    _reload(app)
    assert _signing_kid(oauth, reg) == new.kid
    assert _jwks_kids(client) == {first, new.kid}, "the retired key stays published"

    clock.advance(TOKEN_MAX + lifecycle.LEEWAY_SECONDS + RELOAD - 1)
    assert not lifecycle.prune(store, POLICY, clock.now()), "not before every token it signed has expired"
    clock.advance(1)
    assert lifecycle.prune(store, POLICY, clock.now()).removed == [first]
    _reload(app)
    assert _jwks_kids(client) == {new.kid}
    assert [r["kid"] for r in rows(app)[:-1]] == [new.kid], "the removed key's private key is gone"


def test_rotate_if_due_does_nothing_until_the_period_then_steps_idempotently(store, clock):
    assert not lifecycle.rotate(store, POLICY, clock.now(), if_due=True)
    clock.advance(POLICY.rotation_period - POLICY.publish_delay)
    step = lifecycle.rotate(store, POLICY, clock.now(), if_due=True)
    assert len(step.generated) == 1 and not step.activated
    assert not lifecycle.rotate(store, POLICY, clock.now(), if_due=True), "a second run at once is a no-op"
    clock.value = lifecycle.activation_eligible_at(store.records()[-1], POLICY)
    step2 = lifecycle.rotate(store, POLICY, clock.now(), if_due=True)
    assert step2.activated == step.generated
    assert sorted(r.state for r in store.records()) == ["active", "retired"]


def test_revoke_of_the_active_key_promotes_a_replacement_and_unpublishes_it(
    app, client, store, clock, make_user, make_client, oauth
):
    make_user()
    reg = make_client()
    old = store.records()[0].kid
    actions = lifecycle.revoke(store, old, POLICY, clock.now())
    assert actions.removed == [old] and len(actions.activated) == 1
    _reload(app)
    assert old not in _jwks_kids(client)
    assert _signing_kid(oauth, reg) == actions.activated[0]
    assert old not in {r.get("kid") for r in rows(app)}


def test_retire_refuses_the_active_key_and_retires_a_next_one(store, clock):
    active = store.records()[0].kid
    with pytest.raises(KeystoreError, match="activate its successor"):
        lifecycle.retire(store, active, POLICY, clock.now())
    new = lifecycle.generate(store, POLICY, clock.now())
    assert lifecycle.retire(store, new.kid, POLICY, clock.now()).retired == [new.kid]
    assert states(store) == {"active": active, "retired": new.kid}


def test_a_refused_step_changes_nothing(app, store, clock):
    new = lifecycle.generate(store, POLICY, clock.now())
    before = rows(app)
    with pytest.raises(KeystoreError, match="Use --force"):
        lifecycle.activate(store, new.kid, POLICY, clock.now())
    with pytest.raises(KeystoreError, match="no key"):
        lifecycle.revoke(store, "not-a-kid", POLICY, clock.now())
    assert rows(app) == before


def test_a_change_that_would_leave_the_store_unloadable_is_undone(app, store, clock):
    """No active key (a hand edit): generating would store a set no server loads; it is rolled back."""
    with app.app_context():
        db.session.execute(text("UPDATE signing_keys SET state = 'retired', retired_at = 1"))
        db.session.commit()
    before = rows(app)
    with pytest.raises(KeystoreError, match="would not load, so the change was undone: exactly one active key"):
        lifecycle.generate(store, POLICY, clock.now())
    assert rows(app) == before


def test_the_database_holds_at_most_one_active_key_whatever_writes_it(app, store, clock):
    new = lifecycle.generate(store, POLICY, clock.now())
    with app.app_context(), pytest.raises(Exception, match=r"(?i)unique"):
        db.session.execute(text("UPDATE signing_keys SET state = 'active' WHERE kid = :kid"), {"kid": new.kid})
        db.session.commit()


# ---------------------------------------------------------------- encryption


@pytest.mark.parametrize("passphrase", [PASS_A])
def test_private_keys_are_stored_as_encrypted_pkcs8(app, store, passphrase):
    [row] = rows(app)[:-1]
    assert row["private_key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert store.load(PASS_A).signing.record.kid == row["kid"]
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        store.load(PASS_B)
    with pytest.raises(KeystoreError, match="missing passphrase"):
        store.load(None)


def test_a_passphrase_for_unencrypted_keys_fails_clearly(store):
    with pytest.raises(KeystoreError, match="not encrypted but a passphrase is given"):
        store.load(PASS_A)


def test_production_policy_never_writes_an_unencrypted_key(app, store, clock):
    _empty_key_tables(app)
    policy = lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, require_encryption=True)
    with pytest.raises(KeystoreError, match="missing passphrase: production never writes an unencrypted key"):
        lifecycle.generate_first(store, policy, clock.now())
    assert store.records() == []


def _empty_key_tables(app: Flask) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM signing_keys"))
        db.session.execute(text("DELETE FROM signing_key_set"))
        db.session.commit()


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_ps256_and_es256_keys_sign_tokens_that_verify_against_the_jwks(app, client, store, clock, alg):
    from dataclasses import replace

    new = lifecycle.generate(store, replace(POLICY, alg=alg), clock.now())
    lifecycle.activate(store, new.kid, POLICY, lifecycle.activation_eligible_at(new, POLICY))
    keystore = store.load(None)
    assert keystore.signing_header["alg"] == alg and keystore.signing.record.kid == new.kid


@pytest.fixture
def three_keys(store, clock) -> dict[str, str]:
    """Encrypted with A: an active key, a next key and a retired one."""
    now = clock.now()
    nxt = lifecycle.generate(store, POLICY_A, now)
    lifecycle.activate(store, nxt.kid, POLICY_A, lifecycle.activation_eligible_at(nxt, POLICY_A))
    lifecycle.generate(store, POLICY_A, now + 86400)
    found = states(store)
    assert sorted(found) == ["active", "next", "retired"]
    return found


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


@pytest.mark.parametrize(("wrong", "problem"), [(PASS_B, "wrong passphrase"), (None, "missing passphrase")])
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("passphrase", [PASS_A])
def test_every_writing_key_command_with_a_wrong_or_missing_passphrase_is_refused_and_changes_nothing(
    app, database, three_keys, command, wrong, problem, passphrase
):
    before = rows(app)
    result = authserver(database, wrong, *COMMANDS[command](three_keys))
    assert result.exit_code == 1, result.output
    assert problem in result.stderr and "AUTHSERVER_KEYS_PASSPHRASE" in result.stderr, result.stderr
    assert "generated" not in result.stdout and "removed" not in result.stdout
    assert rows(app) == before, "a refused command changed the database key store"


@pytest.mark.parametrize("passphrase", [PASS_A])
def test_key_commands_with_the_servers_passphrase_change_the_store_and_the_servers_follow(
    app, client, database, three_keys, make_user, make_client, oauth, passphrase
):
    make_user()
    reg = make_client()
    listed = authserver(database, PASS_A, "keys", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert '"state": "next"' in listed.stdout
    result = authserver(database, PASS_A, "keys", "revoke", "--yes", "--json", "--", three_keys["active"])
    assert result.exit_code == 0, result.output
    assert three_keys["next"] in result.stdout
    _reload(app)
    assert three_keys["active"] not in _jwks_kids(client)
    assert _signing_kid(oauth, reg) == three_keys["next"]


def test_production_refuses_key_commands_without_a_passphrase(app, database):
    _empty_key_tables(app)
    result = authserver(
        database, None, "keys", "generate", "--activate", AUTHSERVER_ENV="production", AUTHSERVER_SECRET_PEPPER="p" * 40
    )
    assert result.exit_code == 2 and "AUTHSERVER_KEYS_PASSPHRASE is required in production" in result.stderr
    assert rows(app) == [{"revision": None}]


# ---------------------------------------------------------------- the keyring


class Statements:
    """Counts the statements an engine runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn, _cursor, statement: str, *_args: Any) -> None:
        self.seen.append(statement)

    def on(self, table: str) -> int:
        return sum(table in s for s in self.seen)


def test_the_keyring_reads_one_revision_per_interval_and_loads_only_on_change(app, client, store, clock):
    counter = Statements()
    event.listen(store.engine, "before_cursor_execute", counter)
    try:
        for _ in range(20):
            assert client.get("/.well-known/jwks.json").status_code == 200
        assert counter.seen == [], "no key statement on the request path between checks"
        _reload(app)
        client.get("/.well-known/jwks.json")
        assert counter.on("signing_key_set") == 1 and counter.on("FROM signing_keys") == 0, counter.seen
        new = lifecycle.generate(store, POLICY, clock.now())
        counter.seen.clear()
        _reload(app)
        assert new.kid in _jwks_kids(client)
        assert counter.on("signing_key_set") == 1 and counter.on("FROM signing_keys") == 1, counter.seen
    finally:
        event.remove(store.engine, "before_cursor_execute", counter)


def test_a_failing_reload_keeps_the_last_good_keys_and_says_so_until_one_succeeds(
    app, client, store, clock, make_user, make_client, oauth, events
):
    """A row the servers cannot open (another passphrase, written behind the CLI's back)."""
    make_user()
    reg = make_client()
    active = states(store)["active"]
    jwks = client.get("/.well-known/jwks.json").data
    stranger = generate_private_key()
    with app.app_context():
        db.session.execute(
            text(
                "INSERT INTO signing_keys (kid, seq, alg, state, created_at, private_key) "
                "VALUES (:kid, 99, 'RS256', 'next', 1, :pem)"
            ),
            {"kid": stranger.thumbprint(), "pem": stranger.as_pem(private=True, password=PASS_B).decode()},
        )
        db.session.execute(text("UPDATE signing_key_set SET revision = 'hand-edit'"))
        db.session.commit()
    keyring = app.extensions["authserver.keys.keyring"]
    for _ in range(2):  # retried every interval, reported once
        _reload(app)
        assert client.get("/.well-known/jwks.json").data == jwks, "the last good keys are still served"
        assert keyring.reload_error is not None and "missing passphrase" in keyring.reload_error
        assert keyring.metrics(clock.now())["key_reload_healthy"] == 0
    assert len([r for r in events if getattr(r, "event", None) == "key.reload_failed"]) == 1
    assert _signing_kid(oauth, reg) == active

    with app.app_context():
        db.session.execute(text("DELETE FROM signing_keys WHERE kid = :kid"), {"kid": stranger.thumbprint()})
        db.session.execute(text("UPDATE signing_key_set SET revision = 'repaired'"))
        db.session.commit()
    _reload(app)
    client.get("/.well-known/jwks.json")
    assert keyring.reload_error is None
    assert keyring.metrics(clock.now())["key_reload_healthy"] == 1


def test_a_database_that_does_not_answer_keeps_the_last_good_keys(app, client, store):
    jwks = client.get("/.well-known/jwks.json").data
    keyring = app.extensions["authserver.keys.keyring"]
    keyring.store = DatabaseKeyStore(create_engine("sqlite:////nonexistent/dir/down.db"))
    _reload(app)
    assert client.get("/.well-known/jwks.json").data == jwks
    assert keyring.reload_error is not None and "cannot read the signing keys" in keyring.reload_error
    keyring.store = store
    _reload(app)
    client.get("/.well-known/jwks.json")
    assert keyring.reload_error is None


# ---------------------------------------------------------------- concurrency


def _generate_many(url: str, count: int) -> None:
    url = normalize_database_url(url)
    store = DatabaseKeyStore(create_engine(url, **engine_options(url)))
    for _ in range(count):
        lifecycle.generate(store, POLICY, int(time.time()))


def test_concurrent_operations_on_one_database_lose_no_key(database, store):
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_generate_many, args=(database.url, 2)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    records = store.records()
    assert len(records) == 1 + 4 * 2, "every generate under the lock kept the others' keys"
    assert store.load(None).signing.record.state == "active"
