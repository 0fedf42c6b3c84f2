"""Client authentication at the token endpoint (RFC 6749 §2.3, §5.2)."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import jwt
import pytest

LOGIN = {"grant_type": "password", "username": "alice", "password": "correct horse battery"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post(client, data: dict | None = None, headers: dict | None = None):
    return client.post("/oauth/token", data={**LOGIN, **(data or {})}, headers=headers or {})


def assert_ok(resp, client_id: str) -> None:
    assert resp.status_code == 200, resp.data
    assert resp.json["access_token"] and resp.json["refresh_token"]
    issued_to = jwt.decode(resp.json["access_token"], options={"verify_signature": False})["client_id"]
    assert issued_to == client_id


def assert_invalid_client(resp) -> None:
    assert resp.status_code == 401, resp.data
    assert resp.json["error"] == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    assert "access_token" not in resp.json


def comparable(resp) -> tuple[int, dict[str, str], bytes]:
    # Every header but the date and the request id (new and random for every request) must match.
    headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("date", "x-request-id")}
    return resp.status_code, headers, resp.data


@pytest.fixture
def reg(make_user, make_client):
    make_user()
    return make_client()


def test_client_secret_basic_authenticates(client, reg):
    assert_ok(post(client, headers=reg.basic), reg.client_id)


def test_client_secret_post_authenticates(client, reg):
    assert_ok(post(client, {"client_id": reg.client_id, "client_secret": reg.secret}), reg.client_id)


def test_public_client_authenticates_with_client_id_only(client, make_user, make_client):
    make_user()
    pub = make_client("mobile", public=True)
    assert pub.secret is None
    assert_ok(post(client, {"client_id": pub.client_id}), pub.client_id)


def test_public_client_refreshes_with_client_id_only(client, make_user, make_client):
    make_user()
    pub = make_client("mobile", public=True)
    first = post(client, {"client_id": pub.client_id}).json
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": pub.client_id, "refresh_token": first["refresh_token"]},
    )
    assert_ok(resp, pub.client_id)


def test_basic_credentials_are_form_url_decoded(client, make_user, make_client):
    make_user()
    odd = make_client("svc:1 +x")
    assert_ok(post(client, headers=basic(odd.client_id, odd.secret)), odd.client_id)


def test_wrong_secret_via_basic_is_401_with_basic_challenge(client, reg):
    assert_invalid_client(post(client, headers=basic(reg.client_id, "wrong-secret")))


def test_wrong_secret_via_post_is_invalid_client(client, reg):
    assert_invalid_client(post(client, {"client_id": reg.client_id, "client_secret": "wrong-secret"}))


def test_unknown_client_and_wrong_secret_are_indistinguishable(client, reg):
    wrong = post(client, headers=basic(reg.client_id, "wrong-secret"))
    unknown = post(client, headers=basic("no-such-client", "wrong-secret"))
    assert_invalid_client(wrong)
    assert comparable(wrong) == comparable(unknown)
    wrong_post = post(client, {"client_id": reg.client_id, "client_secret": "wrong-secret"})
    unknown_post = post(client, {"client_id": "no-such-client", "client_secret": "wrong-secret"})
    assert comparable(wrong_post) == comparable(unknown_post)


def test_no_client_authentication_is_401_invalid_client(client, reg):
    assert_invalid_client(post(client))


def test_secret_without_client_id_is_invalid_client(client, reg):
    assert_invalid_client(post(client, {"client_secret": reg.secret}))


def test_basic_plus_client_secret_in_body_is_invalid_request(client, reg):
    resp = post(client, {"client_id": reg.client_id, "client_secret": reg.secret}, headers=reg.basic)
    assert resp.status_code == 400, resp.data
    assert resp.json["error"] == "invalid_request"
    assert "access_token" not in resp.json


def test_basic_with_different_client_id_in_body_is_invalid_request(client, reg, make_client):
    other = make_client("other")
    resp = post(client, {"client_id": other.client_id}, headers=reg.basic)
    assert resp.status_code == 400, resp.data
    assert resp.json["error"] == "invalid_request"


def test_basic_with_same_client_id_in_body_is_accepted(client, reg):
    assert_ok(post(client, {"client_id": reg.client_id}, headers=reg.basic), reg.client_id)


def test_confidential_client_sending_only_client_id_is_invalid_client(client, reg):
    assert_invalid_client(post(client, {"client_id": reg.client_id}))


def test_unknown_client_id_without_secret_matches_confidential_without_secret(client, reg):
    confidential = post(client, {"client_id": reg.client_id})
    unknown = post(client, {"client_id": "no-such-client"})
    assert_invalid_client(unknown)
    assert comparable(confidential) == comparable(unknown)


def test_public_client_with_a_secret_is_invalid_client(client, make_user, make_client):
    make_user()
    pub = make_client("mobile", public=True)
    assert_invalid_client(post(client, headers=basic(pub.client_id, "anything")))


@pytest.mark.parametrize(
    "value",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic",
    ],
)
def test_malformed_basic_header_is_401_invalid_client(client, reg, value):
    assert_invalid_client(post(client, headers={"Authorization": value}))


def test_client_authentication_is_checked_before_user_credentials(client, reg):
    """A bad client never reaches the password check: wrong password or not, the answer is the same."""
    bad = basic(reg.client_id, "wrong-secret")
    assert comparable(post(client, headers=bad)) == comparable(post(client, {"password": "nope"}, headers=bad))


def test_refresh_with_wrong_client_secret_does_not_consume_token(client, reg, oauth):
    first = oauth.password(reg).json
    bad = client.post(
        "/oauth/token",
        headers=basic(reg.client_id, "wrong-secret"),
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert_invalid_client(bad)
    assert oauth.refresh(reg, first["refresh_token"]).status_code == 200


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize("value", ["Basic é", "Basic YXBwOnNlY3JldA\xe9=", "Basic \xff\xfe", "basic ÿ:ÿ"])
def test_basic_header_with_a_non_ascii_byte_is_401_invalid_client(client, reg, endpoint, value):
    """``b64decode`` raises ``ValueError`` (not ``binascii.Error``) on non-ASCII input: once a 500."""
    data = {**LOGIN, "token": "x"} if endpoint == "/oauth/token" else {"token": "x"}
    assert_invalid_client(client.post(endpoint, data=data, headers={"Authorization": value}))
