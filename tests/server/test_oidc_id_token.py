"""The ID token (OpenID Connect Core §2, §3.1.3.6, §12.2) on refresh, verified with PyJWT against the JWKS we
publish: families started by the authorization code flow (sign-in at the login page, redemption), whose login
session is the ``sid``, and for contrast password-grant families, which have none."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import jwt
import pytest
from authorization_flow import CALLBACK
from authorization_flow import App
from authorization_flow import Flow
from sqlalchemy import select

from authserver.clock import FrozenClock
from authserver.extensions import db
from authserver.models import LoginSession
from authserver.models import RefreshToken
from authserver.oauth.id_token import sign_id_token
from authserver.store import current_stores

ISSUER = "https://auth.test"
PASSWORD = "correct horse battery"
ACCESS_TTL = 600


@pytest.fixture
def clock() -> FrozenClock:
    """Five minutes behind the wall clock, so that tokens the tests move it forward for are not "from the
    future" to PyJWT, which checks ``iat`` against the wall clock."""
    return FrozenClock(int(time.time()) - 300)


@pytest.fixture
def jwks(client) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(json.loads(client.get("/.well-known/jwks.json").data))


CODE_AND_PASSWORD = ("authorization_code", "refresh_token", "password")


def _code_client(make_client, client_id: str, **kw) -> App:
    reg = make_client(
        client_id, grants=CODE_AND_PASSWORD, scopes="openid profile email read", redirect_uris=(CALLBACK,), **kw
    )
    return App(reg.client_id, reg.secret, (CALLBACK,))


@pytest.fixture
def rp(make_client) -> App:
    """A first-party client of both the code flow and the password grant, allowed the OpenID scopes."""
    return _code_client(make_client, "rp", access_token_ttl=ACCESS_TTL)


@pytest.fixture
def user_id(make_user):
    return make_user("alice", PASSWORD)


def verify_id_token(token: str, jwks: jwt.PyJWKSet, audience: str) -> dict:
    """Verify as a relying party does (Core §3.1.3.7): the published key, RS256, iss, aud, exp, iat."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=audience,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
    )


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def signed_in(app, client, rp: App, scope: str) -> tuple[dict, str]:
    """A sign-in at the login page and the code's redemption: the tokens and the login session's id."""
    flow = Flow.start(client, rp, scope=scope)
    resp = flow.redeem(flow.code())
    assert resp.status_code == 200, resp.data
    with app.app_context():
        session_id = db.session.execute(select(LoginSession.id)).scalar_one()
    return resp.json, session_id


@pytest.fixture
def session_family(app, client, rp, user_id, clock):
    """A code-flow family with ``openid``, signed in at ``clock`` (its auth_time): (tokens, session_id, login)."""
    login_time = clock.now()
    tokens, session_id = signed_in(app, client, rp, "openid profile read")
    return tokens, session_id, login_time


def test_refresh_with_openid_returns_an_id_token_with_the_familys_claims(
    oauth, rp, user_id, session_family, jwks, clock
):
    tokens, session_id, login_time = session_family
    clock.advance(120)
    resp = oauth.refresh(rp, tokens["refresh_token"])
    assert resp.status_code == 200, resp.data
    body = resp.json
    claims = verify_id_token(body["id_token"], jwks, audience="rp")
    assert claims["sub"] == user_id
    assert claims["aud"] == "rp"
    assert claims["iat"] == clock.now()
    assert claims["exp"] == clock.now() + ACCESS_TTL == claims["iat"] + body["expires_in"]
    assert claims["auth_time"] == login_time  # when the user signed in, not the refresh
    assert claims["sid"] == session_id
    assert claims["at_hash"] == at_hash(body["access_token"])
    assert claims["amr"] == ["pwd"]
    assert "nonce" not in claims  # Core §12.2: the nonce belonged to the authorization request


def test_every_rotation_gives_a_new_id_token_for_its_own_access_token(oauth, rp, session_family, jwks, clock):
    tokens, session_id, _ = session_family
    first = oauth.refresh(rp, tokens["refresh_token"]).json
    clock.advance(5)
    second = oauth.refresh(rp, first["refresh_token"]).json
    claims = verify_id_token(second["id_token"], jwks, audience="rp")
    assert claims["at_hash"] == at_hash(second["access_token"]) != at_hash(first["access_token"])
    assert claims["sid"] == session_id


def test_refresh_narrowed_without_openid_returns_no_id_token(oauth, rp, session_family):
    tokens, _, _ = session_family
    resp = oauth.refresh(rp, tokens["refresh_token"], scope="read")
    assert resp.status_code == 200
    assert "id_token" not in resp.json


def test_refresh_of_a_family_without_openid_returns_no_id_token(oauth, rp, user_id):
    login = oauth.password(rp, username="alice", password=PASSWORD, scope="profile read").json
    resp = oauth.refresh(rp, login["refresh_token"])
    assert resp.status_code == 200
    assert "id_token" not in resp.json


def test_refresh_of_a_family_without_a_login_session_has_no_sid(oauth, rp, user_id, jwks):
    login = oauth.password(rp, username="alice", password=PASSWORD, scope="openid").json
    claims = verify_id_token(oauth.refresh(rp, login["refresh_token"]).json["id_token"], jwks, audience="rp")
    assert "sid" not in claims


def test_the_session_survives_rotation_in_the_store(app, oauth, rp, session_family):
    tokens, session_id, _ = session_family
    first = oauth.refresh(rp, tokens["refresh_token"]).json
    second = oauth.refresh(rp, first["refresh_token"]).json
    assert second["refresh_token"]
    with app.app_context():
        rows = db.session.query(RefreshToken.session_id).all()
    assert len(rows) == 3
    assert {r[0] for r in rows} == {session_id}


def test_grace_replay_returns_an_id_token_with_the_same_sid(app, client, oauth, make_client, user_id, jwks, clock):
    spa = _code_client(make_client, "spa", grace_seconds=30)
    login, session_id = signed_in(app, client, spa, "openid read")
    first = oauth.refresh(spa, login["refresh_token"]).json
    clock.advance(2)
    replay = oauth.refresh(spa, login["refresh_token"])
    assert replay.status_code == 200, replay.data
    assert replay.json["refresh_token"] == first["refresh_token"]
    claims = verify_id_token(replay.json["id_token"], jwks, audience="spa")
    assert claims["sid"] == session_id
    assert claims["at_hash"] == at_hash(replay.json["access_token"])
    assert claims["iat"] == clock.now()


def test_an_id_token_is_not_an_access_token(client, oauth, rp, session_family):
    """RFC 9068 §4: typ JWT, not at+jwt; our own endpoints refuse it as a bearer token."""
    tokens, _, _ = session_family
    id_token = oauth.refresh(rp, tokens["refresh_token"]).json["id_token"]
    resp = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {id_token}"})
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_token"


def test_sign_id_token_carries_the_nonce_and_session_it_is_given(app, rp, jwks):
    with app.test_request_context():
        client = current_stores().clients.get("rp")
        assert client is not None
        token = sign_id_token(
            client=client,
            user_id="user-1",
            auth_time=1_700_000_000,
            session_id="session-1",
            nonce="n-0S6_WzA2Mj",
            access_token="the-access-token",
            now=1_700_000_100,
        )
    claims = jwt.decode(
        token,
        next(iter(jwks.keys)).key,
        algorithms=["RS256"],
        audience="rp",
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": "rp",
        "exp": 1_700_000_100 + ACCESS_TTL,
        "iat": 1_700_000_100,
        "auth_time": 1_700_000_000,
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": at_hash("the-access-token"),
        "sid": "session-1",
        "amr": ["pwd"],
    }
