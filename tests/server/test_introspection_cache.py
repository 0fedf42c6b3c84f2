"""The per-process cache of "this access token is still active" (``INTROSPECTION_CACHE_SECONDS``,
authserver/oauth/active_tokens.py): a revocation through this process is seen by the next request, one
written by another process within the cache's lifetime, and the cache stays bounded."""

from __future__ import annotations

import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import revoke
from lifecycle_helpers import run_cli
from sqlalchemy import text

from authserver.extensions import db
from authserver.oauth.active_tokens import ActiveTokens
from authserver.store import revocations

TTL = 30


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def config_overrides():
    return {"INTROSPECTION_CACHE_SECONDS": TTL}


@pytest.fixture
def monotonic(app) -> FakeMonotonic:
    fake = FakeMonotonic()
    app.extensions["authserver.active_tokens"].monotonic = fake
    return fake


@pytest.fixture
def setup(make_user, make_client, oauth):
    make_user()
    reg = make_client(introspect=True)
    return reg, make_rs(make_client), assert_tokens(oauth.password(reg))


def revoke_behind_our_back(app, access_token: str) -> None:
    """What another process's revocation looks like from here: the row, without this process knowing."""
    import jwt

    claims = jwt.decode(access_token, options={"verify_signature": False})
    with app.app_context():
        db.session.execute(
            text("INSERT INTO revoked_access_tokens (jti, client_id, expires_at, revoked_at) VALUES (:j, :c, :e, :r)"),
            {"j": claims["jti"], "c": claims["client_id"], "e": claims["exp"], "r": claims["iat"]},
        )
        db.session.commit()


def test_a_revocation_by_another_process_is_seen_within_the_cache_lifetime(app, client, setup, monotonic):
    _, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    revoke_behind_our_back(app, body["access_token"])
    monotonic.value += TTL - 1
    assert introspect(client, rs, body["access_token"])["active"] is True  # the staleness the setting allows
    monotonic.value += 1
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_revoking_the_access_token_here_is_seen_at_once(client, setup, monotonic):
    reg, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert revoke(client, reg, body["access_token"]).status_code == 200
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_revoking_the_refresh_token_here_is_seen_at_once(client, setup, monotonic):
    reg, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert revoke(client, reg, body["refresh_token"]).status_code == 200  # its family: the access token too
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_logging_out_everywhere_here_is_seen_at_once(app, client, setup, monotonic):
    _, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert run_cli(app, "users", "revoke-sessions", "alice").exit_code == 0
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_disabling_the_user_here_is_seen_at_once(app, client, setup, monotonic):
    _, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert run_cli(app, "users", "disable", "alice").exit_code == 0
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_reuse_detection_here_is_seen_at_once(client, oauth, setup, monotonic):
    reg, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    assert oauth.refresh(reg, body["refresh_token"]).status_code == 400  # replayed: the family is revoked
    assert introspect(client, rs, body["access_token"]) == INACTIVE


@pytest.mark.parametrize("config_overrides", [{"INTROSPECTION_CACHE_SECONDS": 0}])
def test_without_the_cache_another_process_revocation_is_seen_at_once(app, client, setup):
    _, rs, body = setup
    assert introspect(client, rs, body["access_token"])["active"] is True
    revoke_behind_our_back(app, body["access_token"])
    assert introspect(client, rs, body["access_token"]) == INACTIVE


# ---------------------------------------------------------------- the cache itself (no app)


def test_the_cache_holds_at_most_its_bound():
    looked_up: list[str] = []
    cache = ActiveTokens(ttl=60, max_entries=3)
    for i in range(10):
        jti = f"jti-{i}"
        assert cache.is_active(jti, lambda jti=jti: looked_up.append(jti) or True) is True
        assert len(cache) <= 3
    assert len(looked_up) == 10
    assert cache.is_active("jti-9", lambda: pytest.fail("jti-9 was just cached")) is True


def test_an_inactive_answer_is_never_cached():
    cache = ActiveTokens(ttl=60)
    assert cache.is_active("j", lambda: False) is False
    assert cache.is_active("j", lambda: True) is True  # asked again, not served "inactive" from memory


def test_a_revocation_during_the_look_up_voids_its_answer():
    cache = ActiveTokens(ttl=60)

    def revoked_meanwhile() -> bool:
        revocations.changed()  # another thread of this process revoked while we read "active"
        return True

    assert cache.is_active("j", revoked_meanwhile) is True
    assert cache.is_active("j", lambda: False) is False  # the earlier answer is not trusted
