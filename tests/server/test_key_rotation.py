"""The signing-key lifecycle, end to end through the JWKS and issued tokens, with a controllable clock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from joserfc import jws

from authserver.keys import lifecycle
from authserver.keys.keyring import current_keyring
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import read_manifest

JWKS_MAX_AGE = 300
RELOAD = 10
TOKEN_MAX = 3600
POLICY = lifecycle.Policy(
    jwks_max_age=JWKS_MAX_AGE, reload_interval=RELOAD, token_lifetime=TOKEN_MAX, rotation_period=30 * 86400
)


@pytest.fixture
def own_keys(keys_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's keys, so rotating here leaves other tests alone."""
    path = tmp_path / "keys"
    shutil.copytree(keys_dir, path)
    return path


@pytest.fixture
def config_overrides(own_keys: Path) -> dict:
    return {"KEYS_DIR": str(own_keys), "JWKS_MAX_AGE": JWKS_MAX_AGE, "KEYS_RELOAD_INTERVAL": RELOAD}


def _signing_kid(oauth, reg) -> str:
    token = oauth.password(reg).json["access_token"]
    return jws.extract_compact(token.encode()).protected["kid"]


def _jwks_kids(client) -> set[str]:
    return {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}


def _reload(app) -> None:
    """Let the next request re-check the keys directory (a server does so every RELOAD seconds)."""
    with app.app_context():
        current_keyring()._next_check = 0


def test_full_cycle_publishes_before_signing_and_removes_after_tokens_expire(
    app, client, own_keys, clock, make_user, make_client, oauth
):
    make_user()
    reg = make_client()
    first = read_manifest(own_keys)[0].kid
    assert _signing_kid(oauth, reg) == first

    new = lifecycle.generate(own_keys, POLICY, clock.now())
    _reload(app)
    assert _jwks_kids(client) == {first, new.kid}, "a next key is published at once"
    assert _signing_kid(oauth, reg) == first, "but does not sign"

    eligible = lifecycle.activation_eligible_at(new, POLICY)
    assert eligible >= new.created_at + JWKS_MAX_AGE + RELOAD + 1, "a full publish delay, whatever the rounding"
    clock.value = eligible - 1
    with pytest.raises(KeystoreError, match="Use --force"):
        lifecycle.activate(own_keys, new.kid, POLICY, clock.now())
    clock.advance(1)
    actions = lifecycle.activate(own_keys, new.kid, POLICY, clock.now())
    assert actions.activated == [new.kid] and actions.retired == [first]
    _reload(app)
    assert _signing_kid(oauth, reg) == new.kid
    assert _jwks_kids(client) == {first, new.kid}, "the retired key stays published"

    clock.advance(TOKEN_MAX + lifecycle.LEEWAY_SECONDS + RELOAD - 1)
    assert not lifecycle.prune(own_keys, POLICY, clock.now()), "not before every token it signed has expired"
    clock.advance(1)
    assert lifecycle.prune(own_keys, POLICY, clock.now()).removed == [first]
    _reload(app)
    assert _jwks_kids(client) == {new.kid}
    assert not (own_keys / f"{first}.pem").exists()


def test_rotate_if_due_does_nothing_until_the_period_then_steps_idempotently(own_keys, clock):
    assert not lifecycle.rotate(own_keys, POLICY, clock.now(), if_due=True)
    clock.advance(POLICY.rotation_period - POLICY.publish_delay)
    step = lifecycle.rotate(own_keys, POLICY, clock.now(), if_due=True)
    assert len(step.generated) == 1 and not step.activated
    assert not lifecycle.rotate(own_keys, POLICY, clock.now(), if_due=True), "a second run at once is a no-op"
    clock.value = lifecycle.activation_eligible_at(read_manifest(own_keys)[-1], POLICY)
    step2 = lifecycle.rotate(own_keys, POLICY, clock.now(), if_due=True)
    assert step2.activated == step.generated
    states = {r.kid: r.state for r in read_manifest(own_keys)}
    assert sorted(states.values()) == ["active", "retired"]


def test_revoke_of_the_active_key_promotes_a_replacement_and_unpublishes_it(
    app, client, own_keys, clock, make_user, make_client, oauth
):
    make_user()
    reg = make_client()
    old = read_manifest(own_keys)[0].kid
    actions = lifecycle.revoke(own_keys, old, POLICY, clock.now())
    assert actions.removed == [old] and len(actions.activated) == 1
    _reload(app)
    assert old not in _jwks_kids(client)
    assert _signing_kid(oauth, reg) == actions.activated[0]


def test_retire_refuses_the_active_key(own_keys, clock):
    active = read_manifest(own_keys)[0].kid
    with pytest.raises(KeystoreError, match="activate its successor"):
        lifecycle.retire(own_keys, active, POLICY, clock.now())


def test_jwks_max_age_never_outlasts_the_next_scheduled_change(app, client, own_keys, clock):
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE}"
    new = lifecycle.generate(own_keys, POLICY, clock.now())
    clock.value = lifecycle.activation_eligible_at(new, POLICY)
    lifecycle.activate(own_keys, new.kid, POLICY, clock.now())
    _reload(app)
    # The retired key is due for removal in retire_keep seconds; the set changes then.
    clock.advance(POLICY.retire_keep - 100)
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == "public, max-age=100"
    clock.advance(200)  # overdue (prune has not run): a short floor, not zero
    assert client.get("/.well-known/jwks.json").headers["Cache-Control"] == f"public, max-age={RELOAD}"


def test_broken_change_on_disk_keeps_serving_the_loaded_keys(app, client, own_keys):
    before = _jwks_kids(client)
    (own_keys / "manifest.json").write_text(json.dumps({"keys": []}))
    _reload(app)
    assert _jwks_kids(client) == before
