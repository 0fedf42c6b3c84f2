"""The UserInfo endpoint (OpenID Connect Core §5.3) and its RFC 6750 errors.

Tokens come from the password grant of a first-party client allowed the OpenID scopes: a user's access token
with ``openid`` is what userinfo needs, whichever grant issued it.
"""

from __future__ import annotations

import json

import pytest

from authserver.admin import users

PASSWORD = "correct horse battery"
OIDC_SCOPES = "openid profile email read"


@pytest.fixture
def alice(app):
    with app.app_context():
        return users.create_user(
            "Alice", PASSWORD, name="Alice Liddell", email="alice@example.com", email_verified=True
        ).id


@pytest.fixture
def rp(make_client):
    return make_client("rp", scopes=OIDC_SCOPES, audience="https://api.test")


def _token(oauth, rp, scope: str) -> str:
    resp = oauth.password(rp, username="alice", password=PASSWORD, scope=scope)
    assert resp.status_code == 200, resp.data
    return resp.json["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_userinfo_gives_sub_only_for_openid_alone(client, oauth, rp, alice):
    resp = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "openid")))
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.json == {"sub": alice}


def test_userinfo_releases_claims_by_scope(client, oauth, rp, alice):
    profile = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "openid profile"))).json
    assert profile == {"sub": alice, "name": "Alice Liddell", "preferred_username": "Alice"}
    email = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "openid email"))).json
    assert email == {"sub": alice, "email": "alice@example.com", "email_verified": True}
    both = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "openid profile email read"))).json
    assert set(both) == {"sub", "name", "preferred_username", "email", "email_verified"}


def test_userinfo_omits_claims_the_user_has_no_value_for(client, oauth, rp, make_user):
    sub = make_user("alice", PASSWORD)
    resp = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "openid profile email")))
    assert resp.json == {"sub": sub, "preferred_username": "alice"}


def test_userinfo_accepts_post_with_the_header_or_the_form_body(client, oauth, rp, alice):
    token = _token(oauth, rp, "openid")
    assert client.post("/oauth/userinfo", headers=_bearer(token)).json == {"sub": alice}
    assert client.post("/oauth/userinfo", data={"access_token": token}).json == {"sub": alice}


def test_userinfo_refuses_a_token_without_openid_as_insufficient_scope(client, oauth, rp, alice):
    resp = client.get("/oauth/userinfo", headers=_bearer(_token(oauth, rp, "profile email read")))
    assert resp.status_code == 403
    assert resp.json["error"] == "insufficient_scope"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="authserver", error="insufficient_scope", scope="openid"'
    assert resp.headers["Cache-Control"] == "no-store"


def test_userinfo_without_a_token_is_a_bare_challenge(client):
    resp = client.get("/oauth/userinfo")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="authserver"'  # RFC 6750 §3.1: no error code


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic YWxpY2U6cGFzcw==", "Bearer "])
def test_userinfo_refuses_an_invalid_token_as_invalid_token(client, header):
    resp = client.get("/oauth/userinfo", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="authserver", error="invalid_token"'


def test_userinfo_refuses_a_revoked_token(client, oauth, rp, alice):
    token = _token(oauth, rp, "openid")
    revoked = client.post("/oauth/revoke", data={"token": token}, headers=rp.basic)
    assert revoked.status_code == 200
    resp = client.get("/oauth/userinfo", headers=_bearer(token))
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


def test_userinfo_refuses_a_client_credentials_token(client, make_client):
    service = make_client("svc", grants=("client_credentials",), scopes="openid read")
    data = {"grant_type": "client_credentials", "scope": "openid"}
    got = client.post("/oauth/token", data=data, headers=service.basic)
    assert got.status_code == 200, got.data
    resp = client.get("/oauth/userinfo", headers=_bearer(got.json["access_token"]))
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


def test_userinfo_refuses_the_token_in_two_places_as_invalid_request(client, oauth, rp, alice):
    token = _token(oauth, rp, "openid")
    resp = client.post("/oauth/userinfo", data={"access_token": token}, headers=_bearer(token))
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_request"
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="authserver", error="invalid_request"'


def test_userinfo_refuses_the_token_in_the_query(client, oauth, rp, alice):
    resp = client.get(f"/oauth/userinfo?access_token={_token(oauth, rp, 'openid')}")
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_request"


def test_userinfo_sees_a_profile_change_at_once(app, client, oauth, rp, alice):
    token = _token(oauth, rp, "openid email")
    with app.app_context():
        users.update_profile("alice", email="alice@wonderland.example")
    assert json.loads(client.get("/oauth/userinfo", headers=_bearer(token)).data) == {
        "sub": alice,
        "email": "alice@wonderland.example",
        "email_verified": False,  # a new address is not verified
    }
