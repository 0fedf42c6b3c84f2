"""The JSON API without an Origin (scripts, native apps, the article's samples under Node): tokens in the body."""

from __future__ import annotations

import pytest
from json_api_calls import PASSWORD
from json_api_calls import JsonApi
from token_asserts import claims


@pytest.fixture
def api(app):
    return JsonApi(app.test_client(use_cookies=False))


@pytest.fixture
def default_client(make_client):
    return make_client("spa", public=True, login_default=True)


def assert_json_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    assert resp.json["error"] == code, resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers


def test_login_answers_the_articles_names_with_no_store(make_user, default_client, api, clock):
    user_id = make_user()
    resp = api.login()
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers
    body = resp.json
    assert set(body) == {"accessToken", "tokenType", "expiresIn", "scope", "refreshToken"}
    assert body["tokenType"] == "Bearer" and body["scope"] == "read write"
    access = claims(body["accessToken"])
    assert access["sub"] == user_id and access["client_id"] == "spa"
    assert body["expiresIn"] == access["exp"] - access["iat"] > 0


def test_refresh_rotates_and_the_old_token_is_then_reuse(make_user, default_client, api):
    make_user()
    first = api.login().json
    second = api.refresh(first["refreshToken"])
    assert second.status_code == 200, second.data
    assert set(second.json) == {"accessToken", "tokenType", "expiresIn", "scope", "refreshToken"}
    assert second.json["refreshToken"] != first["refreshToken"]
    assert claims(second.json["accessToken"])["sid"] == claims(first["accessToken"])["sid"]
    assert_json_error(api.refresh(first["refreshToken"]), 401, "invalid_grant")
    # Reuse revoked the family: the successor is dead too.
    assert_json_error(api.refresh(second.json["refreshToken"]), 401, "invalid_grant")


def test_every_login_starts_a_new_family(make_user, default_client, api):
    make_user()
    one, two = api.login().json, api.login().json
    assert claims(one["accessToken"])["sid"] != claims(two["accessToken"])["sid"]
    assert one["refreshToken"] != two["refreshToken"]
    assert api.refresh(one["refreshToken"]).status_code == 200  # the first family is not ended by the second


def test_logout_ends_the_family_and_is_idempotent(make_user, default_client, api):
    make_user()
    tokens = api.login().json
    resp = api.logout(tokens["refreshToken"])
    assert resp.status_code == 204 and resp.data == b""
    assert resp.headers["Cache-Control"] == "no-store"
    assert_json_error(api.refresh(tokens["refreshToken"]), 401, "invalid_grant")
    assert api.logout(tokens["refreshToken"]).status_code == 204
    assert api.logout("not a token").status_code == 204
    assert api.logout(None).status_code == 204


def test_logout_with_another_clients_token_changes_nothing(make_user, make_client, default_client, api):
    make_user()
    make_client("other", public=True)
    tokens = api.login().json
    resp = api.post("/auth/logout", {"refreshToken": tokens["refreshToken"], "clientId": "other"})
    assert resp.status_code == 204  # the same answer: no oracle for another client's tokens
    assert api.refresh(tokens["refreshToken"]).status_code == 200


def test_bad_credentials_are_the_password_grants_bytes_with_401(make_user, make_client, default_client, api, oauth):
    make_user()
    make_user("bob", disabled=True)
    reg = make_client("form")
    grant = oauth.password(reg, password="wrong")
    answers = [api.login(password="wrong"), api.login("mallory"), api.login("bob")]
    for resp in answers:
        assert_json_error(resp, 401, "invalid_grant")
        assert resp.data == grant.data
    assert_json_error(api.refresh("unknown"), 401, "invalid_grant")
    assert api.refresh("unknown").data == oauth.refresh(reg, "unknown").data


def test_client_id_names_a_public_client_and_basic_a_confidential_one(make_user, make_client, api):
    make_user()
    make_client("mobile", public=True)
    conf = make_client("backend")
    assert claims(api.login(clientId="mobile").json["accessToken"])["client_id"] == "mobile"
    resp = api.login(headers=conf.basic)
    assert resp.status_code == 200, resp.data
    assert claims(resp.json["accessToken"])["client_id"] == "backend"
    assert api.refresh(resp.json["refreshToken"], headers=conf.basic).status_code == 200
    # A confidential client named without its secret, and a refresh under another client: refused.
    assert_json_error(api.login(clientId="backend"), 401, "invalid_client")


def test_unknown_disabled_or_not_allowed_clients_get_the_same_401(make_user, make_client, api):
    make_user()
    make_client("service", public=True, grants=("refresh_token",), first_party=False)
    make_client("third", public=True, grants=("password", "refresh_token"), first_party=True)
    from authserver.extensions import db
    from authserver.models import Client

    with api.client.application.app_context():
        db.session.get(Client, "third").first_party = False
        db.session.commit()
    answers = [api.login(clientId="nobody"), api.login(clientId="service"), api.login(clientId="third"), api.login()]
    for resp in answers:
        assert_json_error(resp, 401, "invalid_client")
    assert len({resp.data for resp in answers}) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[]",
        '"alice"',
        "null",
        '{"username": "alice", "password": 1}',
        '{"username": ["alice"], "password": "x"}',
        '{"username": "alice", "password": "x", "extra": "y"}',
        '{"username": "alice", "username": "bob", "password": "x"}',
        '{"username": "alice", "password": NaN}',
        '{"username": "alice", "password": "\\u0000"}',
        b'{"username": "\xff", "password": "x"}',
        "",
    ],
)
def test_malformed_bodies_are_invalid_request(make_user, default_client, api, raw):
    make_user()
    assert_json_error(api.post("/login", raw=raw), 400, "invalid_request")


@pytest.mark.parametrize(
    "raw", ['{"refreshToken": 5}', '{"refreshToken": "a", "refreshToken": "b"}', '{"token": "a"}', "[1]", "{"]
)
def test_malformed_refresh_and_logout_bodies_are_invalid_request(default_client, api, raw):
    assert_json_error(api.post("/auth/refresh", raw=raw), 400, "invalid_request")
    assert_json_error(api.post("/auth/logout", raw=raw), 400, "invalid_request")


def test_not_json_and_missing_members_are_invalid_request(make_user, default_client, api):
    make_user()
    form = api.client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert_json_error(form, 400, "invalid_request")
    assert_json_error(api.post("/login", {"username": "alice"}), 400, "invalid_request")
    assert_json_error(api.post("/auth/refresh", {}), 400, "invalid_request")


def test_a_body_over_the_limit_is_413(default_client, api):
    resp = api.post("/login", raw='{"username": "' + "a" * 20000 + '", "password": "x"}')
    assert_json_error(resp, 413, "request_too_large")


def test_failed_logins_are_throttled_with_retry_after(app, make_user, default_client, api):
    make_user()
    for _ in range(5):
        assert api.login(password="wrong").status_code == 401
    locked = api.login()  # locked: the same 401 as a wrong password, with when to try again
    assert_json_error(locked, 401, "invalid_grant")
    assert int(locked.headers["Retry-After"]) > 0


def test_ip_ceiling_answers_429_with_retry_after(make_user, default_client, app, api):
    make_user()
    for n in range(20):
        api.login(f"user{n}", "wrong")
    resp = api.login()
    assert_json_error(resp, 429, "temporarily_unavailable")
    assert int(resp.headers["Retry-After"]) > 0


def test_events_say_which_front_door(make_user, make_client, default_client, api, oauth, events):
    make_user()
    reg = make_client("form")
    api.refresh(api.login().json["refreshToken"])
    oauth.refresh(reg, oauth.password(reg).json["refresh_token"])
    doors = [(r.event, r.door) for r in events if getattr(r, "event", "").startswith(("login.", "refresh_token."))]
    assert doors == [
        ("login.succeeded", "json_api"),
        ("refresh_token.rotated", "json_api"),
        ("login.succeeded", "token_endpoint"),
        ("refresh_token.rotated", "token_endpoint"),
    ]


def test_tokens_of_the_json_api_work_at_the_token_endpoint_and_back(make_user, make_client, api, oauth):
    """One implementation underneath: the same families, whichever door refreshes them."""
    make_user()
    reg = make_client("both")
    body = api.login(headers=reg.basic).json
    form = oauth.refresh(reg, body["refreshToken"]).json
    assert api.refresh(form["refresh_token"], headers=reg.basic).status_code == 200
