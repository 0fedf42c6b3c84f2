"""Refresh-token reuse detection (RFC 9700 §4.14.2): a used or revoked refresh token presented again
revokes its whole family (one login), and only that family. Default config: no grace window.
"""

from __future__ import annotations

import jwt
import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import revoke


@pytest.fixture
def events():
    with capture_events() as log:
        yield log


@pytest.fixture
def setup(make_user, make_client):
    user_id = make_user()
    return user_id, make_client(introspect=True), make_rs(make_client)


def rotate_twice(oauth, reg):
    """Log in, then refresh twice: three generations of one family."""
    first = assert_tokens(oauth.password(reg))
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    return first, second, third


def test_replayed_used_token_is_invalid_grant_and_revokes_newest_token(setup, oauth):
    _, reg, _ = setup
    first, _, third = rotate_twice(oauth, reg)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")
    assert_error(oauth.refresh(reg, third["refresh_token"]), 400, "invalid_grant")


def test_replay_of_the_immediate_parent_also_revokes_the_family(setup, oauth):
    _, reg, _ = setup
    _, second, third = rotate_twice(oauth, reg)
    assert_error(oauth.refresh(reg, second["refresh_token"]), 400, "invalid_grant")
    assert_error(oauth.refresh(reg, third["refresh_token"]), 400, "invalid_grant")


def test_after_reuse_every_token_of_the_family_introspects_exactly_inactive(setup, oauth, client):
    _, reg, rs = setup
    generations = rotate_twice(oauth, reg)
    newest_refresh = generations[-1]["refresh_token"]
    # Sanity: before the replay, the newest tokens are active.
    assert introspect(client, reg, newest_refresh)["active"] is True
    assert introspect(client, rs, generations[-1]["access_token"])["active"] is True

    assert_error(oauth.refresh(reg, generations[0]["refresh_token"]), 400, "invalid_grant")

    for body in generations:
        assert introspect(client, rs, body["access_token"]) == INACTIVE
        assert introspect(client, reg, body["refresh_token"]) == INACTIVE
    assert introspect(client, reg, newest_refresh, token_type_hint="refresh_token") == INACTIVE


def test_reuse_records_event_with_ids_and_no_token_value(setup, oauth, events):
    user_id, reg, _ = setup
    generations = rotate_twice(oauth, reg)
    events.records.clear()

    assert_error(oauth.refresh(reg, generations[0]["refresh_token"]), 400, "invalid_grant")

    reused = events.named("refresh_token.reused")
    assert len(reused) == 1, [r.__dict__ for r in events.records]
    record = reused[0]
    assert record.client_id == reg.client_id
    assert record.user_id == user_id
    family_id = record.family_id
    assert isinstance(family_id, str) and family_id
    # The family is the login's: the access tokens carry it as ``sid``.
    assert jwt.decode(generations[0]["access_token"], options={"verify_signature": False})["sid"] == family_id
    secrets = [reg.secret] + [b[k] for b in generations for k in ("refresh_token", "access_token")]
    for rec in events.records:
        text = events.rendered(rec)
        for secret in secrets:
            assert secret not in text, f"token or secret leaked in event {rec.event!r}"


def test_reuse_leaves_the_users_other_family_untouched(setup, oauth, client):
    _, reg, rs = setup
    generations = rotate_twice(oauth, reg)
    other = assert_tokens(oauth.password(reg))  # second login: a second family

    assert_error(oauth.refresh(reg, generations[0]["refresh_token"]), 400, "invalid_grant")

    assert introspect(client, rs, other["access_token"])["active"] is True
    assert introspect(client, reg, other["refresh_token"])["active"] is True
    after = assert_tokens(oauth.refresh(reg, other["refresh_token"]))
    assert introspect(client, rs, after["access_token"])["active"] is True


def test_reuse_leaves_other_users_and_clients_untouched(setup, make_user, make_client, oauth):
    _, reg, _ = setup
    make_user("bob")
    other_client = make_client("other-app")
    bob = assert_tokens(oauth.password(reg, username="bob"))
    alice_elsewhere = assert_tokens(oauth.password(other_client))
    first, _, _ = rotate_twice(oauth, reg)

    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")

    assert_tokens(oauth.refresh(reg, bob["refresh_token"]))
    assert_tokens(oauth.refresh(other_client, alice_elsewhere["refresh_token"]))


def test_revoked_refresh_token_presented_again_is_invalid_grant(setup, oauth, client):
    _, reg, _ = setup
    body = assert_tokens(oauth.password(reg))
    assert revoke(client, reg, body["refresh_token"]).status_code == 200
    assert_error(oauth.refresh(reg, body["refresh_token"]), 400, "invalid_grant")
    # Still invalid on a second attempt (no state flip-flop).
    assert_error(oauth.refresh(reg, body["refresh_token"]), 400, "invalid_grant")


def test_revoked_family_newest_token_is_invalid_grant(setup, oauth, client):
    _, reg, _ = setup
    _, second, third = rotate_twice(oauth, reg)
    assert revoke(client, reg, second["refresh_token"]).status_code == 200  # a used member of the family
    assert_error(oauth.refresh(reg, third["refresh_token"]), 400, "invalid_grant")


def test_reuse_by_replay_after_revocation_does_not_touch_new_login(setup, oauth, client):
    _, reg, _ = setup
    body = assert_tokens(oauth.password(reg))
    assert revoke(client, reg, body["refresh_token"]).status_code == 200
    fresh = assert_tokens(oauth.password(reg))
    assert_error(oauth.refresh(reg, body["refresh_token"]), 400, "invalid_grant")
    assert introspect(client, reg, fresh["refresh_token"])["active"] is True
    assert_tokens(oauth.refresh(reg, fresh["refresh_token"]))
