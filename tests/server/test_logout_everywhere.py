"""Log out everywhere: ``authserver users revoke-sessions``, POST /oauth/sessions/revoke-all (RFC 6750
bearer) and ``authserver users disable`` end every family of the user: all refresh tokens fail and
the access tokens introspect inactive. Other users are untouched; a later login works.
"""

from __future__ import annotations

import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import cli_json
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import run_cli


@pytest.fixture
def world(make_user, make_client, oauth):
    """alice logged in twice on one client and once on another; bob once."""
    alice_id = make_user()
    make_user("bob")
    # Both may introspect: a refresh token is only introspectable by its holder.
    web, mobile = make_client("web", introspect=True), make_client("mobile", introspect=True)
    first = assert_tokens(oauth.password(web))
    rotated = assert_tokens(oauth.refresh(web, first["refresh_token"]))
    alice = [(web, rotated), (web, assert_tokens(oauth.password(web))), (mobile, assert_tokens(oauth.password(mobile)))]
    bob = (web, assert_tokens(oauth.password(web, username="bob")))
    return {
        "alice_id": alice_id,
        "alice": alice,
        "bob": bob,
        "web": web,
        "rs": make_rs(make_client),
        "rotated_access": first["access_token"],
    }


def assert_all_sessions_ended(world, oauth, client) -> None:
    rs = world["rs"]
    assert introspect(client, rs, world["rotated_access"]) == INACTIVE
    for reg, body in world["alice"]:
        assert introspect(client, rs, body["access_token"]) == INACTIVE
        assert introspect(client, reg, body["refresh_token"]) == INACTIVE
        assert_error(oauth.refresh(reg, body["refresh_token"]), 400, "invalid_grant")


def assert_bob_untouched(world, oauth, client) -> None:
    reg, body = world["bob"]
    assert introspect(client, world["rs"], body["access_token"])["active"] is True
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))


def assert_still_logged_in(world, oauth) -> None:
    reg, body = world["alice"][1]
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))


def assert_new_login_works(world, oauth, client, clock) -> None:
    # Times are whole seconds and "log out everywhere" refuses tokens issued before that second.
    # A login in the same frozen second could not be ordered against the logout, so step one second
    # on, as any real login after a logout would be.
    clock.advance(1)
    web = world["web"]
    fresh = assert_tokens(oauth.password(web))
    assert introspect(client, world["rs"], fresh["access_token"])["active"] is True
    after = assert_tokens(oauth.refresh(web, fresh["refresh_token"]))
    assert introspect(client, world["rs"], after["access_token"])["active"] is True


def test_sanity_all_sessions_are_active_before(world, client):
    for reg, body in world["alice"]:
        assert introspect(client, world["rs"], body["access_token"])["active"] is True
        assert introspect(client, reg, body["refresh_token"])["active"] is True


# ---------------------------------------------------------------- CLI


def test_cli_revoke_sessions_ends_every_family_of_the_user(world, app, oauth, client):
    out = cli_json(app, "users", "revoke-sessions", "alice")
    assert out["username"] == "alice"
    assert out["revoked_refresh_tokens"] >= 3
    assert_all_sessions_ended(world, oauth, client)
    assert_bob_untouched(world, oauth, client)


def test_cli_revoke_sessions_then_new_login_works(world, app, oauth, client, clock):
    assert cli_json(app, "users", "revoke-sessions", "alice")["revoked_refresh_tokens"] >= 3
    assert_new_login_works(world, oauth, client, clock)
    assert_all_sessions_ended(world, oauth, client)  # the new login revives nothing old


def test_cli_revoke_sessions_unknown_user_fails(world, app, oauth, client):
    result = run_cli(app, "users", "revoke-sessions", "nobody")
    assert result.exit_code != 0
    assert "nobody" in result.output
    assert_still_logged_in(world, oauth)


# ---------------------------------------------------------------- HTTP: POST /oauth/sessions/revoke-all


def revoke_all(client, token: str | None, scheme: str = "Bearer"):
    headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
    return client.post("/oauth/sessions/revoke-all", headers=headers)


def test_revoke_all_with_bearer_ends_every_family(world, oauth, client):
    _, body = world["alice"][2]
    resp = revoke_all(client, body["access_token"])
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.json == {"revoked": True}
    assert_all_sessions_ended(world, oauth, client)
    assert_bob_untouched(world, oauth, client)


def test_revoke_all_records_event_without_token_values(world, client):
    token = world["alice"][0][1]["access_token"]
    with capture_events() as events:
        assert revoke_all(client, token).status_code == 200
    [record] = events.named("user.sessions_revoked")
    assert record.user_id == world["alice_id"]
    assert record.families >= 3
    secrets = [token] + [body[k] for _, body in world["alice"] for k in ("access_token", "refresh_token")]
    for rec in events.records:
        assert not any(secret in events.rendered(rec) for secret in secrets)


def test_revoke_all_then_new_login_works(world, oauth, client, clock):
    assert revoke_all(client, world["alice"][0][1]["access_token"]).status_code == 200
    assert_new_login_works(world, oauth, client, clock)


def test_revoke_all_token_cannot_be_used_twice(world, client):
    token = world["alice"][0][1]["access_token"]
    assert revoke_all(client, token).status_code == 200
    resp = revoke_all(client, token)
    assert_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "token,scheme",
    [
        (None, "Bearer"),
        ("", "Bearer"),
        ("not-a-jwt", "Bearer"),
        ("a.b.c", "Bearer"),
    ],
)
def test_revoke_all_without_valid_bearer_is_401_bearer_challenge(world, oauth, client, token, scheme):
    resp = revoke_all(client, token, scheme)
    assert_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert_still_logged_in(world, oauth)  # nothing was revoked


def test_revoke_all_rejects_tampered_expired_revoked_refresh_and_basic_credentials(world, oauth, client, clock):
    web, body = world["alice"][1]
    head, payload, sig = body["access_token"].split(".")
    i = len(sig) // 2
    tampered = f"{head}.{payload}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1 :]}"
    for token, scheme in (
        (tampered, "Bearer"),
        (body["refresh_token"], "Bearer"),
        (body["access_token"], "Basic"),
        (body["access_token"], "MAC"),
    ):
        resp = revoke_all(client, token, scheme)
        assert_error(resp, 401, "invalid_token")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    clock.advance(601)
    assert_error(revoke_all(client, body["access_token"]), 401, "invalid_token")
    after = assert_tokens(oauth.refresh(web, body["refresh_token"]))
    assert client.post("/oauth/revoke", data={"token": after["access_token"]}, headers=web.basic).status_code == 200
    assert_error(revoke_all(client, after["access_token"]), 401, "invalid_token")  # its jti is revoked
    assert_tokens(oauth.refresh(web, after["refresh_token"]))


def test_revoke_all_rejects_client_credentials_token(world, make_client, client):
    svc = make_client("svc", grants=("client_credentials",), first_party=False)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=svc.basic).json
    resp = revoke_all(client, token["access_token"])
    assert_error(resp, 401, "invalid_token")


@pytest.mark.parametrize("audience", ["https://other.example", "https://auth.test/", "https://auth.test.evil"])
def test_revoke_all_refuses_a_token_for_another_audience(world, make_client, oauth, client, audience):
    """A token minted for another resource server (here with scope read) cannot end the user's sessions:
    only a token whose ``aud`` is this server (its issuer) can."""
    other = make_client("other-api", scopes="read", audience=audience)
    token = assert_tokens(oauth.password(other, scope="read"))["access_token"]
    resp = revoke_all(client, token)
    assert_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="authserver", error="invalid_token"'
    for reg, body in world["alice"]:  # nothing was revoked
        assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    assert_bob_untouched(world, oauth, client)


def test_revoke_all_accepts_a_token_whose_audience_is_this_server(world, make_client, oauth, client):
    own = make_client("own-app", audience="https://auth.test")  # conftest.ISSUER
    token = assert_tokens(oauth.password(own))["access_token"]
    assert revoke_all(client, token).status_code == 200
    assert_all_sessions_ended(world, oauth, client)


# ---------------------------------------------------------------- disabling a user


def test_disabling_a_user_ends_every_family(world, app, oauth, client):
    assert cli_json(app, "users", "disable", "alice")["disabled"] is True
    assert_all_sessions_ended(world, oauth, client)
    assert_bob_untouched(world, oauth, client)


def test_disabled_user_cannot_log_in_again(world, app, oauth, clock):
    cli_json(app, "users", "disable", "alice")
    clock.advance(1)
    assert_error(oauth.password(world["web"]), 400, "invalid_grant")
