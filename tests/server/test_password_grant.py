"""Password grant (RFC 6749 §4.3, §5.1, §5.2), restricted to first-party clients (RFC 9700 §2.4)."""

from __future__ import annotations

import logging

import pytest
from token_asserts import assert_error
from token_asserts import claims

from authserver.telemetry import JsonFormatter

PASSWORD = "correct horse battery"


def set_first_party(app, client_id: str, value: bool) -> None:
    """Flip the flag in the database: the registration API refuses password clients that are not first-party."""
    from authserver.extensions import db
    from authserver.models import Client

    with app.app_context():
        db.session.get(Client, client_id).first_party = value
        db.session.commit()


def test_successful_login_returns_bearer_pair_with_no_store_headers(make_user, make_client, oauth, clock):
    user_id = make_user()
    reg = make_client()
    resp = oauth.password(reg, scope="read")
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    body = resp.json
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read"
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 32
    assert body["refresh_token"] != body["access_token"]
    access = claims(body["access_token"])
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] == access["exp"] - access["iat"] > 0
    assert access["iat"] == clock.now()
    assert access["sub"] == user_id
    assert access["scope"] == "read"


def test_wrong_password_and_unknown_user_give_identical_invalid_grant(make_user, make_client, oauth):
    make_user()
    reg = make_client()
    wrong = oauth.password(reg, password="not the password")
    unknown = oauth.password(reg, username="mallory", password=PASSWORD)
    assert_error(wrong, 400, "invalid_grant")
    assert_error(unknown, 400, "invalid_grant")
    assert wrong.data == unknown.data
    # Every header alike but the request id, which is new and random for every request.
    assert {**wrong.headers, "X-Request-Id": ""} == {**unknown.headers, "X-Request-Id": ""}


def test_disabled_user_gets_same_body_as_unknown_user(make_user, make_client, oauth):
    make_user("bob", disabled=True)
    reg = make_client()
    disabled = oauth.password(reg, username="bob", password=PASSWORD)
    unknown = oauth.password(reg, username="mallory", password=PASSWORD)
    assert_error(disabled, 400, "invalid_grant")
    assert disabled.data == unknown.data


def test_overlong_username_is_invalid_grant_like_unknown_user(make_user, make_client, oauth):
    make_user()
    reg = make_client()
    long_name = oauth.password(reg, username="a" * 151)
    unknown = oauth.password(reg, username="mallory")
    assert_error(long_name, 400, "invalid_grant")
    assert long_name.data == unknown.data


def test_client_not_first_party_gets_unauthorized_client(app, make_user, make_client, oauth):
    make_user()
    reg = make_client()
    set_first_party(app, reg.client_id, False)
    assert_error(oauth.password(reg), 400, "unauthorized_client")


def test_client_not_allowed_password_grant_gets_unauthorized_client(make_user, make_client, oauth):
    make_user()
    reg = make_client(grants=("refresh_token",))
    assert_error(oauth.password(reg), 400, "unauthorized_client")


def test_unauthorized_client_is_refused_even_with_wrong_password(make_user, make_client, oauth):
    """The client check comes first: a refused client learns nothing about user credentials."""
    make_user()
    reg = make_client(grants=("refresh_token",))
    assert oauth.password(reg).data == oauth.password(reg, password="wrong password").data


@pytest.mark.parametrize("missing", ["username", "password"])
def test_missing_username_or_password_is_invalid_request(client, make_user, make_client, missing):
    make_user()
    reg = make_client()
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    del data[missing]
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_empty_username_is_invalid_request(make_user, make_client, oauth):
    make_user()
    assert_error(oauth.password(make_client(), username=""), 400, "invalid_request")


def test_scope_beyond_client_scopes_is_invalid_scope(make_user, make_client, oauth):
    make_user()
    reg = make_client(scopes="read")
    assert_error(oauth.password(reg, scope="read write"), 400, "invalid_scope")
    assert_error(oauth.password(reg, scope="admin"), 400, "invalid_scope")


def test_malformed_scope_token_is_invalid_scope(make_user, make_client, oauth):
    make_user()
    assert_error(oauth.password(make_client(), scope='read "write"'), 400, "invalid_scope")


def test_omitted_scope_grants_all_client_scopes(make_user, make_client, oauth):
    make_user()
    reg = make_client(scopes="read write")
    resp = oauth.password(reg)
    assert resp.status_code == 200, resp.data
    assert set(resp.json["scope"].split()) == {"read", "write"}
    assert set(claims(resp.json["access_token"])["scope"].split()) == {"read", "write"}


def test_requested_subset_scope_is_granted_exactly(make_user, make_client, oauth):
    make_user()
    resp = oauth.password(make_client(scopes="read write"), scope="write")
    assert resp.status_code == 200, resp.data
    assert resp.json["scope"] == "write"
    assert claims(resp.json["access_token"])["scope"] == "write"


def test_second_login_starts_independent_family(make_user, make_client, oauth):
    make_user()
    reg = make_client()
    first = oauth.password(reg).json
    second = oauth.password(reg).json
    assert first["refresh_token"] != second["refresh_token"]
    assert claims(first["access_token"])["sid"] != claims(second["access_token"])["sid"]
    refreshed = oauth.refresh(reg, first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.data
    assert claims(refreshed.json["access_token"])["sid"] == claims(first["access_token"])["sid"]
    assert oauth.refresh(reg, second["refresh_token"]).status_code == 200


@pytest.fixture
def every_log_record(app, caplog):
    """Every logger at DEBUG, including the non-propagating ``authserver`` one and the clamped ``authlib``."""
    caplog.set_level(logging.DEBUG)
    attached = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                attached.append(logger)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


def test_logs_never_contain_passwords_secrets_or_tokens(client, make_user, make_client, oauth, every_log_record):
    make_user()
    reg = make_client()
    wrong_password = "wrong-password-4f1c9e"
    wrong_secret = "wrong-secret-b7d20a"
    login = oauth.password(reg).json
    post = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": PASSWORD,
            "client_id": reg.client_id,
            "client_secret": reg.secret,
        },
    ).json
    refreshed = oauth.refresh(reg, login["refresh_token"]).json
    assert oauth.password(reg, password=wrong_password).status_code == 400
    bad_client = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": reg.client_id,
            "client_secret": wrong_secret,
            "refresh_token": refreshed["refresh_token"],
        },
    )
    assert bad_client.status_code == 401
    assert oauth.refresh(reg, refreshed["refresh_token"], scope="read write admin").status_code == 400

    secrets = {
        "password": PASSWORD,
        "wrong password": wrong_password,
        "client secret": reg.secret,
        "wrong client secret": wrong_secret,
    }
    for i, body in enumerate((login, post, refreshed)):
        secrets[f"access token {i}"] = body["access_token"]
        secrets[f"refresh token {i}"] = body["refresh_token"]
    records = every_log_record.records
    events = {getattr(r, "event", None) for r in records}
    assert {"login.succeeded", "login.failed", "refresh_token.rotated"} <= events, events
    formatter = JsonFormatter()
    for record in records:
        texts = [record.getMessage(), formatter.format(record), repr(record.args)]
        texts += [repr(value) for value in vars(record).values()]
        for label, secret in secrets.items():
            for text in texts:
                assert secret not in text, f"{label} in log record {record.name}: {record.getMessage()[:200]}"
