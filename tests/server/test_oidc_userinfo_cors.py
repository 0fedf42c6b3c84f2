"""CORS on /oauth/userinfo: a single-page app reads the claims from its page. The origins are those the token
endpoint answers CORS for (public code-flow clients' redirect origins); every other origin gets none."""

from __future__ import annotations

import pytest

SPA = "https://spa.example"
PASSWORD = "correct horse battery"


@pytest.fixture
def token(make_user, make_client, oauth) -> str:
    make_user("alice", PASSWORD)
    make_client(
        "spa",
        grants=("authorization_code", "refresh_token"),
        public=True,
        first_party=False,
        scopes="openid profile",
        redirect_uris=(f"{SPA}/callback",),
    )
    rp = make_client("rp", scopes="openid profile")
    resp = oauth.password(rp, username="alice", password=PASSWORD, scope="openid profile")
    assert resp.status_code == 200, resp.data
    return resp.json["access_token"]


def test_preflight_from_a_spa_origin_allows_the_authorization_header(client, token):
    asks = {"Origin": SPA, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    resp = client.options("/oauth/userinfo", headers=asks)
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == SPA
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert set(resp.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    assert "Origin" in resp.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_preflight_from_another_origin_allows_nothing(client, token):
    resp = client.options("/oauth/userinfo", headers={"Origin": "https://evil.example"})
    assert resp.status_code == 204
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_claims_and_errors_are_readable_by_the_spa(client, token):
    ok = client.get("/oauth/userinfo", headers={"Origin": SPA, "Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == SPA
    assert "Origin" in ok.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in ok.headers
    refused = client.get("/oauth/userinfo", headers={"Origin": SPA, "Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == SPA
    assert refused.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"


def test_another_origin_gets_no_cors_header(client, token):
    resp = client.get("/oauth/userinfo", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Origin" in resp.headers["Vary"]
