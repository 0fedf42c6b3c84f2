"""Token introspection, POST /oauth/introspect (RFC 7662): only confidential clients registered with
``introspect=True`` may ask, and each learns only about its own tokens (§4): access tokens whose
``aud`` is its audience, refresh tokens it holds. Active tokens carry their claims; an inactive
token, whatever the reason, is answered with exactly {"active": false} (RFC 7662 §2.2).
"""

from __future__ import annotations

import jwt
import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import revoke

from authserver.admin import clients
from authserver.admin import users

ISSUER = "https://auth.test"  # conftest.ISSUER
ACCESS_TOKEN_TTL = 600  # default ACCESS_TOKEN_TTL (authserver/settings.py)


@pytest.fixture
def setup(make_user, make_client, oauth):
    user_id = make_user()
    reg = make_client(introspect=True)  # holds the refresh tokens, so it may introspect them
    return user_id, reg, make_rs(make_client), assert_tokens(oauth.password(reg))


def tamper_signature(token: str) -> str:
    head, payload, sig = token.split(".")
    i = len(sig) // 2  # a middle character: every one of its bits is signature, none padding
    return f"{head}.{payload}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1 :]}"


# ---------------------------------------------------------------- who may introspect


def test_unauthenticated_introspection_is_401(setup, client):
    _, _, _, body = setup
    resp = client.post("/oauth/introspect", data={"token": body["access_token"]})
    assert_error(resp, 401, "invalid_client")
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_normal_client_may_not_introspect(setup, make_client, client):
    _, _, _, body = setup
    plain = make_client("plain")
    resp = client.post("/oauth/introspect", data={"token": body["access_token"]}, headers=plain.basic)
    assert_error(resp, 401, "invalid_client")
    assert "active" not in resp.json


def test_public_client_may_not_introspect(setup, make_client, client):
    _, _, _, body = setup
    make_client("spa", public=True)
    resp = client.post("/oauth/introspect", data={"token": body["access_token"], "client_id": "spa"})
    assert_error(resp, 401, "invalid_client")


def test_resource_server_with_wrong_secret_is_401(setup, client):
    _, _, rs, body = setup
    resp = client.post("/oauth/introspect", data={"token": body["access_token"]}, auth=(rs.client_id, "wrong"))
    assert_error(resp, 401, "invalid_client")


def test_missing_token_is_invalid_request(setup, client):
    _, _, rs, _ = setup
    assert_error(client.post("/oauth/introspect", data={}, headers=rs.basic), 400, "invalid_request")


# ---------------------------------------------------------------- active tokens


def test_active_access_token_carries_its_claims(setup, client):
    user_id, reg, rs, body = setup
    info = introspect(client, rs, body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert info["active"] is True
    assert info["sub"] == user_id
    assert info["client_id"] == reg.client_id
    assert set(info["scope"].split()) == {"read", "write"}
    assert info["iss"] == ISSUER
    assert info["aud"] == claims["aud"] == ISSUER
    assert info["iat"] == claims["iat"] and info["exp"] == claims["exp"] == claims["iat"] + ACCESS_TOKEN_TTL
    assert info["token_type"].lower() == "bearer"
    assert body["access_token"] not in str(info)


def test_active_access_token_with_hint_and_wrong_hint(setup, client):
    _, _, rs, body = setup
    for hint in ("access_token", "refresh_token", "foo"):
        assert introspect(client, rs, body["access_token"], token_type_hint=hint)["active"] is True


def test_active_refresh_token(setup, client):
    user_id, reg, _, body = setup
    for hint in ({}, {"token_type_hint": "refresh_token"}, {"token_type_hint": "access_token"}):
        info = introspect(client, reg, body["refresh_token"], **hint)
        assert info["active"] is True
        assert info["sub"] == user_id and info["client_id"] == reg.client_id
        assert body["refresh_token"] not in str(info)


def test_access_token_active_just_before_expiry(setup, client, clock):
    _, _, rs, body = setup
    clock.advance(ACCESS_TOKEN_TTL - 1)
    assert introspect(client, rs, body["access_token"])["active"] is True


# ---------------------------------------------------------------- inactive, each exactly {"active": false}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 500, "eyJhbGciOiJub25lIn0.e30."])
def test_garbage_is_inactive(setup, client, token):
    _, _, rs, _ = setup
    assert introspect(client, rs, token) == INACTIVE


def test_bad_signature_is_inactive(setup, client):
    _, _, rs, body = setup
    assert introspect(client, rs, tamper_signature(body["access_token"])) == INACTIVE


def test_expired_access_token_is_inactive(setup, client, clock):
    _, _, rs, body = setup
    clock.advance(ACCESS_TOKEN_TTL + 1)
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_revoked_jti_is_inactive(setup, client):
    _, reg, rs, body = setup
    assert revoke(client, reg, body["access_token"]).status_code == 200
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_revoked_family_makes_access_and_refresh_tokens_inactive(setup, client):
    _, reg, rs, body = setup
    assert revoke(client, reg, body["refresh_token"]).status_code == 200
    assert introspect(client, rs, body["access_token"]) == INACTIVE
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


@pytest.mark.parametrize(
    "end_sessions", [users.disable_user, users.revoke_families], ids=["disabled user", "logged out everywhere"]
)
def test_tokens_of_a_user_whose_sessions_ended_are_inactive(setup, client, app, end_sessions):
    _, reg, rs, body = setup
    with app.app_context():
        end_sessions("alice")
    assert introspect(client, rs, body["access_token"]) == INACTIVE
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


def test_used_refresh_token_is_inactive(setup, client, oauth):
    _, reg, _, body = setup
    after = assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE
    assert introspect(client, reg, after["refresh_token"])["active"] is True


def test_expired_refresh_token_is_inactive(make_user, make_client, oauth, client, clock):
    make_user()
    reg = make_client(refresh_token_ttl=60, introspect=True)
    body = assert_tokens(oauth.password(reg))
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    clock.advance(61)
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


def test_token_of_deleted_client_is_inactive(setup, client, app):
    _, reg, rs, body = setup
    with app.app_context():
        clients.delete_client(reg.client_id)
    assert introspect(client, rs, body["access_token"]) == INACTIVE
    assert introspect(client, rs, body["refresh_token"]) == INACTIVE


def test_client_credentials_token_is_active_until_revoked(setup, make_client, client):
    _, _, rs, _ = setup
    service = make_client("svc", grants=("client_credentials",), first_party=False)
    resp = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=service.basic)
    assert resp.status_code == 200, resp.data
    token = resp.json["access_token"]
    info = introspect(client, rs, token)
    assert info["active"] is True and info["sub"] == info["client_id"] == "svc"
    assert revoke(client, service, token).status_code == 200
    assert introspect(client, rs, token) == INACTIVE


# ---------------------------------------------------------------- each resource server learns only about its own tokens


def test_access_token_for_another_audience_is_inactive(setup, make_client, oauth, client):
    """RFC 7662 §4: a resource server is told nothing about tokens meant for another resource server."""
    _, _, rs, body = setup
    api = make_client("api-app", scopes="read", audience="https://other.example")
    other = assert_tokens(oauth.password(api, scope="read"))
    assert introspect(client, rs, other["access_token"]) == INACTIVE  # rs serves the default audience
    assert introspect(client, rs, body["access_token"])["active"] is True


def test_resource_server_with_an_audience_sees_only_that_audiences_access_tokens(setup, make_client, oauth, client):
    _, _, _, body = setup
    api = make_client("api-app", scopes="read", audience="https://api.example")
    api_rs = make_client(
        "api-rs", grants=("client_credentials",), first_party=False, introspect=True, audience="https://api.example"
    )
    token = assert_tokens(oauth.password(api, scope="read"))["access_token"]
    info = introspect(client, api_rs, token)
    assert info["active"] is True and info["aud"] == "https://api.example" and info["client_id"] == "api-app"
    assert introspect(client, api_rs, body["access_token"]) == INACTIVE  # the default audience is not its own


def test_another_clients_refresh_token_is_inactive_and_stays_usable(setup, make_client, oauth, client):
    """No one but its holder learns whether a refresh token is live: not a resource server, not another
    introspecting client; and asking trips nothing, the holder's next refresh works."""
    _, reg, rs, body = setup
    other = make_client("other", introspect=True)
    for asking in (rs, other):
        for hint in ({}, {"token_type_hint": "refresh_token"}):
            assert introspect(client, asking, body["refresh_token"], **hint) == INACTIVE
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))
