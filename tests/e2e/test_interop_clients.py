"""Third-party OAuth/JWT libraries against the real gunicorn process.

Users and clients are created through the in-process ``app`` fixture, which shares the live
server's database. The ``app`` fixture empties the tables when it is set up, i.e. before each
test creates its own rows, so nothing is deleted under a running test; every test still uses
uuid-suffixed names so that it never depends on what an earlier test left behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

pytestmark = pytest.mark.live

PASSWORD = "interop password 123"
AUDIENCE = "https://api.interop.test"


@dataclass
class Account:
    username: str
    user_id: str
    client_id: str
    secret: str


@pytest.fixture
def account(make_user, make_client) -> Account:
    suffix = uuid.uuid4().hex[:12]
    username = f"interop-user-{suffix}"
    user_id = make_user(username, PASSWORD)
    reg = make_client(f"interop-client-{suffix}", audience=AUDIENCE)
    assert reg.secret
    return Account(username, user_id, reg.client_id, reg.secret)


def token_url(live_server) -> str:
    return f"{live_server.url}/oauth/token"


def _record_requests(session: requests.Session) -> list[requests.PreparedRequest]:
    sent: list[requests.PreparedRequest] = []
    session.hooks["response"].append(lambda resp, *_a, **_k: sent.append(resp.request))
    return sent


def _body(prepared: requests.PreparedRequest) -> dict[str, list[str]]:
    raw = prepared.body or ""
    return parse_qs(raw.decode() if isinstance(raw, bytes) else raw)


def test_requests_oauthlib_legacy_client_gets_and_refreshes_tokens(live_server, account, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server is plain http on loopback
    session = OAuth2Session(client=LegacyApplicationClient(client_id=account.client_id))
    first = session.fetch_token(
        token_url(live_server),
        username=account.username,
        password=PASSWORD,
        client_id=account.client_id,
        client_secret=account.secret,
    )
    assert first["token_type"] == "Bearer"
    assert first["access_token"] and first["refresh_token"]
    assert sorted(first["scope"]) == ["read", "write"]  # oauthlib parses the scope string into a list

    second = session.refresh_token(
        token_url(live_server),
        refresh_token=first["refresh_token"],
        auth=HTTPBasicAuth(account.client_id, account.secret),
    )
    assert second["access_token"] and second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]

    # Rotation: the first refresh token was single-use.
    replay = requests.post(
        token_url(live_server),
        auth=(account.client_id, account.secret),
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_gets_and_refreshes_tokens_with_each_auth_method(live_server, account, method):
    session = AuthlibSession(
        client_id=account.client_id, client_secret=account.secret, token_endpoint_auth_method=method
    )
    sent = _record_requests(session)
    first = session.fetch_token(
        token_url(live_server), grant_type="password", username=account.username, password=PASSWORD
    )
    assert first["access_token"] and first["refresh_token"]
    assert first["expires_in"] > 0

    second = session.refresh_token(token_url(live_server), refresh_token=first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]

    assert len(sent) == 2
    for prepared in sent:
        body = _body(prepared)
        if method == "client_secret_basic":
            assert prepared.headers["Authorization"].startswith("Basic ")
            assert "client_secret" not in body
        else:
            assert "Authorization" not in prepared.headers
            assert body["client_id"] == [account.client_id]
            assert body["client_secret"] == [account.secret]


def test_pyjwt_verifies_access_token_with_keys_from_discovered_jwks(live_server, account):
    meta = requests.get(f"{live_server.url}/.well-known/oauth-authorization-server", timeout=10)
    assert meta.status_code == 200
    metadata = meta.json()
    assert metadata["issuer"] == live_server.url
    jwks_uri = metadata["jwks_uri"]
    assert jwks_uri.startswith(live_server.url + "/")

    resp = requests.post(
        metadata["token_endpoint"],
        auth=(account.client_id, account.secret),
        timeout=10,
        data={"grant_type": "password", "username": account.username, "password": PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]

    signing_key = jwt.PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=live_server.url)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == signing_key.key_id
    assert claims["sub"] == account.user_id
    assert claims["client_id"] == account.client_id
    assert claims["exp"] > claims["iat"]

    # The signature really is checked: a different audience or a tampered token fails.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="https://other.test", issuer=live_server.url)
    head, payload, sig = token.split(".")
    forged = ".".join([head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=live_server.url)
