"""Refresh grant (RFC 6749 §6) with rotation on every use (RFC 9700 §4.14.2)."""

from __future__ import annotations

import pytest
from token_asserts import assert_error
from token_asserts import claims

DEFAULT_REFRESH_TTL = 14 * 86400  # REFRESH_TOKEN_TTL default (authserver/settings.py)


def assert_tokens(resp) -> dict:
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    body = resp.json
    assert body["token_type"] == "Bearer" and body["access_token"] and body["refresh_token"]
    return body


def login(make_user, make_client, oauth, **client_kw):
    make_user()
    reg = make_client(**client_kw)
    return reg, assert_tokens(oauth.password(reg))


def test_refresh_rotates_and_presented_token_is_then_invalid_grant(make_user, make_client, oauth):
    reg, first = login(make_user, make_client, oauth)
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    # Replays come last: a reused token may also revoke the whole family (RFC 9700 §4.14.2).
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")
    assert_error(oauth.refresh(reg, second["refresh_token"]), 400, "invalid_grant")


def test_refresh_response_expires_in_matches_access_token(make_user, make_client, oauth):
    reg, first = login(make_user, make_client, oauth)
    body = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    access = claims(body["access_token"])
    assert body["expires_in"] == access["exp"] - access["iat"] > 0


def test_unknown_refresh_token_is_invalid_grant(make_user, make_client, oauth):
    reg, _ = login(make_user, make_client, oauth)
    assert_error(oauth.refresh(reg, "not-a-token-we-issued"), 400, "invalid_grant")


def test_refresh_token_of_another_client_is_invalid_grant_and_stays_usable(make_user, make_client, oauth):
    reg, first = login(make_user, make_client, oauth)
    other = make_client("other")
    assert_error(oauth.refresh(other, first["refresh_token"]), 400, "invalid_grant")
    body = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert claims(body["access_token"])["client_id"] == reg.client_id


def test_narrowed_scope_applies_to_access_token_but_new_refresh_token_keeps_original(make_user, make_client, oauth):
    reg, first = login(make_user, make_client, oauth, scopes="read write")
    assert set(first["scope"].split()) == {"read", "write"}
    narrowed = assert_tokens(oauth.refresh(reg, first["refresh_token"], scope="read"))
    assert narrowed["scope"] == "read"
    assert claims(narrowed["access_token"])["scope"] == "read"
    full = assert_tokens(oauth.refresh(reg, narrowed["refresh_token"]))
    assert set(full["scope"].split()) == {"read", "write"}
    assert set(claims(full["access_token"])["scope"].split()) == {"read", "write"}


def test_widened_scope_is_invalid_scope_and_presented_token_stays_usable(make_user, make_client, oauth):
    make_user()
    reg = make_client(scopes="read write")
    first = assert_tokens(oauth.password(reg, scope="read"))
    assert_error(oauth.refresh(reg, first["refresh_token"], scope="read write"), 400, "invalid_scope")
    body = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert body["scope"] == "read"


@pytest.mark.parametrize("scope", ["READ", "Read", "read WRITE", "rea_", "re%", "%", "read\\", "ead", "read write x"])
def test_refresh_scope_must_match_a_granted_scope_exactly(make_user, make_client, oauth, scope):
    """Scopes are case-sensitive (RFC 6749 §3.3) and compared whole, on every database: SQLite's LIKE
    once let ``READ`` through a ``read write`` token and put ``READ`` in the access token."""
    reg, first = login(make_user, make_client, oauth, scopes="read write")
    assert_error(oauth.refresh(reg, first["refresh_token"], scope=scope), 400, "invalid_scope")
    body = assert_tokens(oauth.refresh(reg, first["refresh_token"]))  # nothing was consumed
    assert set(body["scope"].split()) == set(claims(body["access_token"])["scope"].split()) == {"read", "write"}


def test_missing_refresh_token_is_invalid_request(client, make_user, make_client, oauth):
    reg, _ = login(make_user, make_client, oauth)
    resp = client.post("/oauth/token", data={"grant_type": "refresh_token"}, headers=reg.basic)
    assert_error(resp, 400, "invalid_request")


def test_client_without_refresh_grant_gets_no_refresh_token_and_unauthorized_client(make_user, make_client, oauth):
    make_user()
    reg = make_client(grants=("password",))
    first = oauth.password(reg).json
    assert first["access_token"] and "refresh_token" not in first
    assert_error(oauth.refresh(reg, "any-refresh-token"), 400, "unauthorized_client")


def test_refresh_token_past_default_ttl_is_invalid_grant(make_user, make_client, oauth, clock):
    reg, first = login(make_user, make_client, oauth)
    clock.advance(DEFAULT_REFRESH_TTL + 1)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_expires_at_exactly_its_ttl(make_user, make_client, oauth, clock):
    reg, first = login(make_user, make_client, oauth)
    clock.advance(DEFAULT_REFRESH_TTL)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")


def test_refresh_token_within_ttl_works_and_rotation_restarts_idle_ttl(make_user, make_client, oauth, clock):
    reg, first = login(make_user, make_client, oauth, refresh_token_ttl=60)
    clock.advance(59)
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    clock.advance(59)  # 118 s after login, 59 s after the rotation
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    clock.advance(61)
    assert_error(oauth.refresh(reg, third["refresh_token"]), 400, "invalid_grant")


def test_expired_refresh_token_is_rejected_with_client_ttl(make_user, make_client, oauth, clock):
    reg, first = login(make_user, make_client, oauth, refresh_token_ttl=60)
    clock.advance(61)
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")


def test_disabled_user_refresh_is_invalid_grant(app, make_user, make_client, oauth):
    from authserver.admin import users

    reg, first = login(make_user, make_client, oauth)
    with app.app_context():
        users.disable_user("alice")
    assert_error(oauth.refresh(reg, first["refresh_token"]), 400, "invalid_grant")


def test_refresh_keeps_subject_and_session(make_user, make_client, oauth):
    reg, first = login(make_user, make_client, oauth)
    body = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    before, after = claims(first["access_token"]), claims(body["access_token"])
    assert after["sub"] == before["sub"]
    assert after["sid"] == before["sid"]
    assert after["jti"] != before["jti"]
