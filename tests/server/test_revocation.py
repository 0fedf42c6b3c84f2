"""Token revocation, POST /oauth/revoke (RFC 7009): client authentication, refresh tokens revoke
their family, access tokens their jti, 200 for anything unknown or not the client's, no-store, and a
database failure is a 5xx, never a false 200.
"""

from __future__ import annotations

import pytest
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import revoke
from sqlalchemy.exc import OperationalError

from authserver.extensions import db


@pytest.fixture
def setup(make_user, make_client):
    make_user()
    return make_client(introspect=True), make_rs(make_client)


def assert_revoked_200(resp) -> None:
    assert resp.status_code == 200, resp.data
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"


def assert_family_dead(oauth, client, reg, rs, *bodies) -> None:
    for body in bodies:
        assert_error(oauth.refresh(reg, body["refresh_token"]), 400, "invalid_grant")
        assert introspect(client, reg, body["refresh_token"]) == INACTIVE
        assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_revocation_without_client_authentication_is_invalid_client(setup, oauth, client):
    reg, _ = setup
    body = assert_tokens(oauth.password(reg))
    resp = client.post("/oauth/revoke", data={"token": body["refresh_token"]})
    assert_error(resp, 401, "invalid_client")
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert introspect(client, reg, body["refresh_token"])["active"] is True


def test_revocation_with_wrong_secret_is_invalid_client(setup, oauth, client):
    reg, _ = setup
    body = assert_tokens(oauth.password(reg))
    resp = client.post("/oauth/revoke", data={"token": body["refresh_token"]}, auth=(reg.client_id, "wrong"))
    assert_error(resp, 401, "invalid_client")
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))


def test_revoking_refresh_token_revokes_it_and_its_whole_family(setup, oauth, client):
    reg, rs = setup
    first = assert_tokens(oauth.password(reg))
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    third = assert_tokens(oauth.refresh(reg, second["refresh_token"]))
    assert_revoked_200(revoke(client, reg, third["refresh_token"]))
    assert_family_dead(oauth, client, reg, rs, third, second, first)


def test_revoking_an_older_member_revokes_the_newest_token(setup, oauth, client):
    reg, rs = setup
    first = assert_tokens(oauth.password(reg))
    second = assert_tokens(oauth.refresh(reg, first["refresh_token"]))
    assert_revoked_200(revoke(client, reg, first["refresh_token"], token_type_hint="refresh_token"))
    assert_family_dead(oauth, client, reg, rs, second)


def test_revoking_access_token_leaves_its_refresh_family_working(setup, oauth, client):
    reg, rs = setup
    body = assert_tokens(oauth.password(reg))
    assert_revoked_200(revoke(client, reg, body["access_token"], token_type_hint="access_token"))
    assert introspect(client, rs, body["access_token"]) == INACTIVE
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    after = assert_tokens(oauth.refresh(reg, body["refresh_token"]))
    assert introspect(client, rs, after["access_token"])["active"] is True


def test_unknown_token_answers_200(setup, client):
    reg, _ = setup
    assert_revoked_200(revoke(client, reg, "not-a-token-we-issued"))
    assert_revoked_200(revoke(client, reg, "a.b.c", token_type_hint="access_token"))


def test_already_revoked_token_answers_200(setup, oauth, client):
    reg, rs = setup
    body = assert_tokens(oauth.password(reg))
    for token in (body["refresh_token"], body["access_token"]):
        assert_revoked_200(revoke(client, reg, token))
        assert_revoked_200(revoke(client, reg, token))
    assert introspect(client, rs, body["access_token"]) == INACTIVE


@pytest.mark.parametrize("hint", ["foo", "access_token", ""])
def test_refresh_token_is_revoked_whatever_the_hint(setup, oauth, client, hint):
    reg, rs = setup
    body = assert_tokens(oauth.password(reg))
    assert_revoked_200(revoke(client, reg, body["refresh_token"], token_type_hint=hint))
    assert_family_dead(oauth, client, reg, rs, body)


@pytest.mark.parametrize("hint", ["foo", "refresh_token"])
def test_access_token_is_revoked_whatever_the_hint(setup, oauth, client, hint):
    reg, rs = setup
    body = assert_tokens(oauth.password(reg))
    assert_revoked_200(revoke(client, reg, body["access_token"], token_type_hint=hint))
    assert introspect(client, rs, body["access_token"]) == INACTIVE


def test_another_clients_token_answers_200_and_keeps_working(setup, make_client, oauth, client):
    reg, rs = setup
    other = make_client("other")
    body = assert_tokens(oauth.password(reg))
    assert_revoked_200(revoke(client, other, body["refresh_token"]))
    assert_revoked_200(revoke(client, other, body["access_token"]))
    assert introspect(client, rs, body["access_token"])["active"] is True
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    assert_tokens(oauth.refresh(reg, body["refresh_token"]))


def test_public_client_revokes_its_own_token_with_client_id_only(make_user, make_client, oauth, client):
    make_user()
    public = make_client("spa", public=True)
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": "correct horse battery", "client_id": "spa"},
    )
    body = assert_tokens(resp)
    assert_revoked_200(client.post("/oauth/revoke", data={"token": body["refresh_token"], "client_id": "spa"}))
    # A public client cannot introspect: the revoked token is proven dead at the token endpoint.
    refresh = client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "spa"}
    )
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant", refresh.data
    assert public.secret is None


def test_missing_token_is_invalid_request(setup, client):
    reg, _ = setup
    assert_error(revoke(client, reg, None), 400, "invalid_request")
    assert_error(revoke(client, reg, None, token_type_hint="refresh_token"), 400, "invalid_request")
    assert_error(revoke(client, reg, ""), 400, "invalid_request")


def test_revocation_response_is_no_store_json(setup, oauth, client):
    reg, _ = setup
    body = assert_tokens(oauth.password(reg))
    resp = revoke(client, reg, body["refresh_token"])
    assert_revoked_200(resp)
    assert resp.mimetype == "application/json"
    assert body["refresh_token"] not in resp.get_data(as_text=True)


def test_database_failure_during_revocation_is_500_not_200(setup, oauth, client, monkeypatch):
    reg, _ = setup
    body = assert_tokens(oauth.password(reg))

    def broken(*_args, **_kwargs):
        raise OperationalError("x", {}, Exception())

    monkeypatch.setattr(client.application.extensions["authserver.stores"].refresh_tokens, "revoke_family", broken)
    resp = revoke(client, reg, body["refresh_token"])
    assert resp.status_code == 500, resp.data
    assert resp.mimetype == "application/json"
    assert resp.json["error"] == "server_error"
    monkeypatch.undo()
    # Nothing was revoked: the client learns the truth and may retry.
    assert introspect(client, reg, body["refresh_token"])["active"] is True
    assert_revoked_200(revoke(client, reg, body["refresh_token"]))
    assert introspect(client, reg, body["refresh_token"]) == INACTIVE


def test_database_failure_at_commit_is_500_not_200(setup, oauth, client, monkeypatch):
    reg, _ = setup
    body = assert_tokens(oauth.password(reg))

    def broken_commit(*_args, **_kwargs):
        raise OperationalError("commit", {}, Exception())

    monkeypatch.setattr(db.session, "commit", broken_commit)
    resp = revoke(client, reg, body["access_token"])
    assert resp.status_code == 500, resp.data
    assert resp.json["error"] == "server_error"
