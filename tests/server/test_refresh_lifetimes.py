"""Refresh-token lifetimes, with a frozen clock: the idle lifetime (REFRESH_TOKEN_TTL or the client's
refresh_token_ttl) renews on each rotation; the absolute lifetime (REFRESH_TOKEN_MAX_LIFETIME or the
client's refresh_token_max_lifetime) counts from the login and rotation never extends it.
Expiry is plain invalid_grant, never reuse: the family is not revoked.
"""

from __future__ import annotations

import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import introspect
from lifecycle_helpers import refresh_rows


@pytest.fixture
def events():
    with capture_events() as log:
        yield log


def assert_expired_not_reuse(resp, events, app) -> None:
    assert_error(resp, 400, "invalid_grant")
    assert not events.named("refresh_token.reused")
    assert events.named("refresh_token.rejected")
    assert all(r["revoked_at"] is None for r in refresh_rows(app)), "expiry must not revoke the family"


# ---------------------------------------------------------------- idle lifetime


def test_client_idle_ttl_expired_token_is_invalid_grant_not_reuse(make_user, make_client, oauth, clock, events, app):
    make_user()
    reg = make_client(refresh_token_ttl=60)
    body = assert_tokens(oauth.password(reg))
    clock.advance(61)
    assert_expired_not_reuse(oauth.refresh(reg, body["refresh_token"]), events, app)


def test_idle_ttl_is_exclusive_at_its_end(make_user, make_client, oauth, clock):
    make_user()
    reg = make_client(refresh_token_ttl=60)
    early = assert_tokens(oauth.password(reg))
    late = assert_tokens(oauth.password(reg))
    clock.advance(59)
    assert_tokens(oauth.refresh(reg, early["refresh_token"]))
    clock.advance(1)  # exactly issued_at + ttl: expired
    assert_error(oauth.refresh(reg, late["refresh_token"]), 400, "invalid_grant")


def test_rotation_renews_the_idle_lifetime(make_user, make_client, oauth, clock, events, app):
    make_user()
    reg = make_client(refresh_token_ttl=60)
    body = assert_tokens(oauth.password(reg))
    for _ in range(4):  # 200 s in total, far beyond one idle ttl, each token 50 s old
        clock.advance(50)
        body = assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    clock.advance(61)
    assert_expired_not_reuse(oauth.refresh(reg, body["refresh_token"]), events, app)


def test_expired_refresh_token_introspects_inactive(make_user, make_client, oauth, clock, client):
    make_user()
    reg = make_client(refresh_token_ttl=60, introspect=True)
    body = assert_tokens(oauth.password(reg))
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    clock.advance(61)
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


@pytest.mark.parametrize("config_overrides", [{"REFRESH_TOKEN_TTL": 60}])
def test_server_default_idle_ttl_applies_to_clients_without_their_own(
    make_user, make_client, oauth, clock, events, app
):
    make_user()
    reg = make_client()
    long_lived = make_client("long", refresh_token_ttl=3600)  # the client's own value wins
    body = assert_tokens(oauth.password(reg))
    other = assert_tokens(oauth.password(long_lived))
    clock.advance(61)
    assert_expired_not_reuse(oauth.refresh(reg, body["refresh_token"]), events, app)
    assert_tokens(oauth.refresh(long_lived, other["refresh_token"]))


def test_new_login_after_idle_expiry_works(make_user, make_client, oauth, clock):
    make_user()
    reg = make_client(refresh_token_ttl=60)
    assert_tokens(oauth.password(reg))
    clock.advance(61)
    fresh = assert_tokens(oauth.password(reg))
    assert_tokens(oauth.refresh(reg, fresh["refresh_token"]))


# ---------------------------------------------------------------- absolute lifetime


def refresh_every_50s_until_failure(oauth, reg, clock, body) -> int:
    """Refresh every 50 s; return the seconds since login at which refreshing first failed."""
    elapsed = 0
    while elapsed < 1000:
        clock.advance(50)
        elapsed += 50
        resp = oauth.refresh(reg, body["refresh_token"])
        if resp.status_code != 200:
            assert_error(resp, 400, "invalid_grant")
            return elapsed
        body = assert_tokens(resp)
    raise AssertionError("the family never ended")


def test_absolute_lifetime_ends_family_despite_rotation(make_user, make_client, oauth, clock, events, app):
    make_user()
    reg = make_client(refresh_token_ttl=60, refresh_token_max_lifetime=100, introspect=True)
    body = assert_tokens(oauth.password(reg))
    # At 50 s the refresh works; at 100 s the token is only 50 s old (< idle ttl 60) but the family is over.
    assert refresh_every_50s_until_failure(oauth, reg, clock, body) == 100
    assert not events.named("refresh_token.reused")
    assert all(r["revoked_at"] is None for r in refresh_rows(app))


def test_rotated_token_never_outlives_the_family(make_user, make_client, oauth, clock, client):
    make_user()
    reg = make_client(refresh_token_ttl=60, refresh_token_max_lifetime=100, introspect=True)
    login_at = clock.now()
    body = assert_tokens(oauth.password(reg))
    assert introspect(client, reg, body["refresh_token"])["exp"] == login_at + 60
    clock.advance(50)
    body = assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    info = introspect(client, reg, body["refresh_token"])
    assert info["active"] is True
    assert info["exp"] == login_at + 100  # not now + 60
    clock.advance(50)
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


def test_new_login_after_absolute_expiry_starts_a_new_family(make_user, make_client, oauth, clock):
    make_user()
    reg = make_client(refresh_token_ttl=60, refresh_token_max_lifetime=100, introspect=True)
    body = assert_tokens(oauth.password(reg))
    assert refresh_every_50s_until_failure(oauth, reg, clock, body) == 100
    fresh = assert_tokens(oauth.password(reg))
    assert refresh_every_50s_until_failure(oauth, reg, clock, fresh) == 100


@pytest.mark.parametrize("config_overrides", [{"REFRESH_TOKEN_TTL": 60, "REFRESH_TOKEN_MAX_LIFETIME": 100}])
def test_server_default_absolute_lifetime_applies(make_user, make_client, oauth, clock, events):
    make_user()
    reg = make_client()
    body = assert_tokens(oauth.password(reg))
    assert refresh_every_50s_until_failure(oauth, reg, clock, body) == 100
    assert not events.named("refresh_token.reused")


@pytest.mark.parametrize("config_overrides", [{"REFRESH_TOKEN_TTL": 60, "REFRESH_TOKEN_MAX_LIFETIME": 100}])
def test_client_absolute_lifetime_overrides_server_default(make_user, make_client, oauth, clock):
    make_user()
    reg = make_client(refresh_token_max_lifetime=200)
    body = assert_tokens(oauth.password(reg))
    assert refresh_every_50s_until_failure(oauth, reg, clock, body) == 200
