"""OpenID Connect on the real authorization code flow: the refreshed ID token keeps the login session's ``sid``
and ``auth_time``, and userinfo accepts the flow's access token (one for another audience:
tests/server/test_oidc_userinfo.py)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from authorization_flow import PASSWORD
from authorization_flow import Flow
from authorization_flow import register

from authserver.admin import users
from authserver.clock import FrozenClock

ISSUER = "https://auth.test"


@pytest.fixture
def clock() -> FrozenClock:
    """Behind the wall clock, which PyJWT checks ``iat`` against, so the tests can move it forward."""
    return FrozenClock(int(time.time()) - 300)


@pytest.fixture
def jwks(client) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(json.loads(client.get("/.well-known/jwks.json").data))


@pytest.fixture
def third(app):
    with app.app_context():
        users.create_user("alice", PASSWORD, name="Alice Liddell", email="alice@example.com", email_verified=True)
    return register(app, "third", scopes="openid profile email read")


def _verify(token: str, jwks: jwt.PyJWKSet, audience: str) -> dict:
    key = next(k for k in jwks.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=ISSUER, audience=audience)


def test_refreshed_id_token_keeps_the_login_sessions_sid_and_auth_time(client, third, jwks, clock):
    login_time = clock.now()
    flow = Flow.start(client, third, scope="openid profile read")
    first = flow.redeem(flow.code()).json
    first_claims = _verify(first["id_token"], jwks, "third")
    assert first_claims["nonce"] == flow.params["nonce"]
    clock.advance(60)
    refreshed = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=third.basic,
    ).json
    claims = _verify(refreshed["id_token"], jwks, "third")
    assert claims["sub"] == first_claims["sub"]
    assert claims["sid"] == first_claims["sid"]
    assert claims["auth_time"] == first_claims["auth_time"] == login_time
    assert claims["iat"] == clock.now()
    assert "nonce" not in claims


def test_userinfo_accepts_the_code_flows_access_token(client, third):
    flow = Flow.start(client, third, scope="openid profile email")
    tokens = flow.redeem(flow.code()).json
    resp = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status_code == 200
    assert resp.json["preferred_username"] == "alice"
    assert resp.json["email"] == "alice@example.com"
    assert resp.json["sub"] == jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"]
