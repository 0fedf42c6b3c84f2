"""Real client libraries through the authorization code flow against the real gunicorn server.

* Authlib's ``OAuth2Session`` (requests): the authorization URL with PKCE S256 and a nonce, the login and
  consent pages driven with plain HTTP (tests/e2e/authorization_pages.py: GET the page, read the form and
  its CSRF token, POST the credentials, POST **Allow**), ``fetch_token`` with the ``code_verifier``, the
  id_token checked with PyJWT against the JWKS, userinfo, refresh (a new id_token), revoke.
* oauth4webapi in Node (tests/e2e/interop/authorization_code.mjs): discovery with ``algorithm: 'oidc'``,
  PKCE, ``validateAuthResponse`` (its ``iss`` check, RFC 9207), the code grant with the expected nonce,
  userinfo. The script prints the authorization URL, this test drives the pages and hands it the callback
  URL on stdin, the script prints what it validated as JSON.

The client's redirect URI is a loopback URL nobody serves: the pages' last redirect is read, not followed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from conftest import LiveServer
from conftest import _free_port

from e2e.authorization_pages import authorize_over_http
from e2e.third_party import CLIENT_SCOPE
from e2e.third_party import PASSWORD
from e2e.third_party import Client
from e2e.third_party import User
from e2e.third_party import create_client
from e2e.third_party import create_user

pytestmark = pytest.mark.live

INTEROP_DIR = Path(__file__).resolve().parent / "interop"
SCRIPT = INTEROP_DIR / "authorization_code.mjs"
TIMEOUT = 10


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    """The session's gunicorn server (conftest.start_server), with its default settings."""
    return live_server


@pytest.fixture
def metadata(server: LiveServer) -> dict:
    resp = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def user(app) -> User:
    return create_user(app)


@pytest.fixture
def client(app) -> Client:
    return create_client(app, f"http://127.0.0.1:{_free_port()}/callback")


def new_session(client: Client) -> OAuth2Session:
    """Authlib's requests client for ``client``, with PKCE S256 (it makes a verifier when given none)."""
    return OAuth2Session(
        client.client_id,
        client.secret,
        scope=CLIENT_SCOPE,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def verified_id_token(token: str, metadata: dict, client_id: str) -> dict:
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=client_id, issuer=metadata["issuer"])


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


# ---------------------------------------------------------------- Authlib's OAuth2Session


def test_authlib_session_signs_in_with_pkce_and_the_code_is_single_use(server, metadata, user, client):
    session = new_session(client)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    endpoint = metadata["authorization_endpoint"]
    url, state = session.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
    sent = query(url)
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"] != verifier

    walk = authorize_over_http(requests.Session(), url, client.redirect_uri, user.username, PASSWORD)
    assert walk.pages == ["login", "consent"]  # a third-party client: the user is asked
    answer = query(walk.callback)
    assert answer["state"] == state and answer["iss"] == server.url  # RFC 9207
    assert set(answer) == {"code", "state", "iss"}

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=walk.callback, code_verifier=verifier
    )  # Authlib compares the answer's state with its own
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]
    assert set(token["scope"].split()) == set(CLIENT_SCOPE.split())
    claims = verified_id_token(token["id_token"], metadata, client.client_id)
    assert claims["sub"] == user.user_id and claims["nonce"] == nonce
    assert claims["at_hash"] == at_hash(token["access_token"]) and claims["amr"] == ["pwd"]
    assert claims["auth_time"] <= claims["iat"] and claims["sid"]

    info = session.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert info.status_code == 200, info.text
    assert info.json() == {
        "sub": user.user_id,
        "name": user.name,
        "preferred_username": user.username,
        "email": user.email,
        "email_verified": True,
    }

    # The code is single use: Authlib replaying it gets invalid_grant.
    replay = requests.post(
        metadata["token_endpoint"],
        auth=(client.client_id, client.secret or ""),
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
        timeout=TIMEOUT,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_authlib_session_refreshes_with_a_new_id_token_and_revokes(server, metadata, user, client):
    session = new_session(client)
    verifier = secrets.token_urlsafe(48)
    url, _state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    walk = authorize_over_http(requests.Session(), url, client.redirect_uri, user.username, PASSWORD)
    token_endpoint = metadata["token_endpoint"]
    first = session.fetch_token(token_endpoint, authorization_response=walk.callback, code_verifier=verifier)
    first_claims = verified_id_token(first["id_token"], metadata, client.client_id)

    second = session.refresh_token(metadata["token_endpoint"])
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    claims = verified_id_token(second["id_token"], metadata, client.client_id)
    assert claims["sub"] == first_claims["sub"] and claims["auth_time"] == first_claims["auth_time"]
    assert "nonce" not in claims and claims["at_hash"] == at_hash(second["access_token"])

    revoked = session.revoke_token(metadata["revocation_endpoint"], token=second["refresh_token"], timeout=TIMEOUT)
    assert revoked.status_code == 200, revoked.text
    again = requests.post(
        metadata["token_endpoint"],
        auth=(client.client_id, client.secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_second_authorization_skips_the_pages_with_the_servers_session(server, metadata, user, client):
    browser = requests.Session()  # one cookie jar: the server's login session
    for expected in (["login", "consent"], []):
        session = new_session(client)
        verifier = secrets.token_urlsafe(48)
        url, _state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
        walk = authorize_over_http(browser, url, client.redirect_uri, user.username, PASSWORD)
        assert walk.pages == expected
        token = session.fetch_token(
            metadata["token_endpoint"], authorization_response=walk.callback, code_verifier=verifier
        )
        assert verified_id_token(token["id_token"], metadata, client.client_id)["sub"] == user.user_id


# ---------------------------------------------------------------- oauth4webapi (Node)


def run_oauth4webapi(node: str, server: LiveServer, user: User, client: Client) -> dict:
    env = {
        **os.environ,
        "ISSUER": server.url,
        "CLIENT_ID": client.client_id,
        "CLIENT_SECRET": client.secret or "",
        "REDIRECT_URI": client.redirect_uri,
        "SCOPE": CLIENT_SCOPE,
    }
    script = subprocess.Popen(
        [node, str(SCRIPT)], cwd=INTEROP_DIR, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert script.stdout is not None and script.stdin is not None
        first = json.loads(script.stdout.readline() or "{}")
        assert "authorization_url" in first, (first, script.stderr.read() if script.poll() is not None else "")
        walk = authorize_over_http(requests.Session(), first["authorization_url"], client.redirect_uri,
                                   user.username, PASSWORD)  # fmt: skip
        out, err = script.communicate(walk.callback + "\n", timeout=60)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode == 0, f"exit {script.returncode}\nstdout: {out}\nstderr: {err}\n{server.log()[-2000:]}"
    return {"authorization": first, **json.loads(out)}


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_oauth4webapi_discovers_signs_in_and_reads_userinfo(app, node, server, metadata, user, public):
    """A confidential client (client_secret_basic) and a public one (auth method none: PKCE alone)."""
    client = create_client(app, f"http://127.0.0.1:{_free_port()}/callback", public=public)
    assert (client.secret is None) is public
    out = run_oauth4webapi(node, server, user, client)
    assert out["client_auth"] == ("none" if public else "client_secret_basic")

    assert out["oauth4webapi"].split(".")[0] == "3"
    sent = query(out["authorization"]["authorization_url"])
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]
    assert out["metadata"]["issuer"] == server.url  # processDiscoveryResponse compared it with the URL too
    # validateAuthResponse refused the same answer with another iss (RFC 9207) before accepting the real one.
    assert out["mixup_refused"]["name"] == "OperationProcessingError", out["mixup_refused"]
    assert out["callback"]["iss"] == server.url and "code" in out["callback"]

    claims = out["id_token_claims"]  # processAuthorizationCodeResponse checked iss, aud, exp, iat and the nonce
    assert claims["sub"] == user.user_id and claims["nonce"] == sent["nonce"] and claims["aud"] == client.client_id
    # oauth4webapi trusts TLS for the token endpoint's id_token and skips its signature: check it here.
    assert verified_id_token(out["id_token"], metadata, client.client_id)["sub"] == user.user_id
    assert out["token"]["token_type"] == "bearer" and out["token"]["has_refresh_token"] is True
    assert set(out["token"]["scope"].split()) == set(CLIENT_SCOPE.split())
    assert out["userinfo"] == {
        "sub": user.user_id,
        "name": user.name,
        "preferred_username": user.username,
        "email": user.email,
        "email_verified": True,
    }
