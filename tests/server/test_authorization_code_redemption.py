"""Redeeming an authorization code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6): the tokens it
gives, the binding it must match (client, redirect URI, code verifier), one attempt per code, expiry, and a
second redemption revoking every token the first one gave (RFC 6749 §4.1.2)."""

from __future__ import annotations

import json

import jwt
import pytest
from authorization_flow import ISSUER
from authorization_flow import Flow
from authorization_flow import register
from lifecycle_helpers import cli_json
from sqlalchemy import text

from authserver.extensions import db


@pytest.fixture
def third(app, make_user):
    make_user()
    return register(app, first_party=True)


@pytest.fixture
def flow(client, third) -> Flow:
    return Flow.start(client, third)


def assert_invalid_grant(resp) -> None:
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == "invalid_grant"


def refresh(client, app_, token: str):
    data = {"grant_type": "refresh_token", "refresh_token": token, **app_.auth_form()}
    return client.post("/oauth/token", data=data, headers=app_.basic)


def claims(client, token: str) -> dict:
    keys = jwt.PyJWKSet.from_dict(json.loads(client.get("/.well-known/jwks.json").get_data()))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    # Signature checked; times are the frozen clock's, so not against the wall clock.
    options = {"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    return jwt.decode(token, key.key, algorithms=["RS256"], options=options)


def test_redemption_gives_access_refresh_and_id_tokens(client, third, flow):
    code = flow.code()
    resp = flow.redeem(code)
    body = resp.get_json()
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile"
    access, id_token = claims(client, body["access_token"]), claims(client, body["id_token"])
    assert access["client_id"] == third.client_id and access["sub"] == id_token["sub"]
    assert id_token["aud"] == third.client_id and id_token["iss"] == ISSUER
    assert id_token["nonce"] == flow.params["nonce"] and id_token["amr"] == ["pwd"]
    assert id_token["sid"] != access["sid"]  # the login session's id vs the family's
    assert refresh(client, third, body["refresh_token"]).status_code == 200


def test_id_token_auth_time_and_sid_are_the_login_sessions(client, third, clock):
    first = Flow.start(client, third)
    signed_in_at = clock.now()
    one = claims(client, first.redeem(first.code()).get_json()["id_token"])
    clock.advance(120)
    second = Flow.start(client, third)
    two = claims(client, second.redeem(second.code()).get_json()["id_token"])
    assert one["auth_time"] == two["auth_time"] == signed_in_at
    assert one["sid"] == two["sid"]


def test_without_openid_no_id_token(client, third):
    flow = Flow.start(client, third, scope="read")
    body = flow.redeem(flow.code()).get_json()
    assert "id_token" not in body and body["scope"] == "read"


def test_a_client_without_the_refresh_grant_gets_no_refresh_token(app, client, third):
    only = register(app, "only-code", grants=("authorization_code",), first_party=True)
    flow = Flow.start(client, only)
    body = flow.redeem(flow.code()).get_json()
    assert "refresh_token" not in body and body["access_token"]


def test_a_public_client_redeems_with_its_client_id_and_verifier(app, client, third):
    spa = register(app, "spa", public=True, first_party=True)
    flow = Flow.start(client, spa)
    assert flow.redeem(flow.code()).status_code == 200


# ---------------------------------------------------------------- the binding


def test_a_wrong_code_verifier_is_invalid_grant_and_uses_the_code_up(flow):
    code = flow.code()
    assert_invalid_grant(flow.redeem(code, code_verifier="x" * 43))
    assert_invalid_grant(flow.redeem(code))  # one attempt per code


def test_a_missing_code_verifier_is_refused_and_uses_the_code_up(flow):
    code = flow.code()
    resp = flow.redeem(code, code_verifier=None)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"
    assert_invalid_grant(flow.redeem(code))


def test_a_malformed_code_verifier_is_invalid_request(flow):
    code = flow.code()
    resp = flow.redeem(code, code_verifier="short")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("redirect_uri", [None, "https://app.test/other", "https://app.test/callback/"])
def test_a_wrong_or_missing_redirect_uri_is_invalid_grant(flow, redirect_uri):
    code = flow.code()
    assert_invalid_grant(flow.redeem(code, redirect_uri=redirect_uri))
    assert_invalid_grant(flow.redeem(code))


def test_another_clients_code_is_invalid_grant_and_stays_usable_by_its_own(app, client, flow):
    other = register(app, "other", first_party=True)
    code = flow.code()
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": flow.verifier}
    data["redirect_uri"] = flow.params["redirect_uri"]
    assert_invalid_grant(client.post("/oauth/token", data=data, headers=other.basic))
    assert flow.redeem(code).status_code == 200


def test_a_public_client_cannot_redeem_a_confidential_clients_code(app, client, third, flow):
    code = flow.code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": third.client_id,
        "redirect_uri": flow.params["redirect_uri"],
        "code_verifier": flow.verifier,
    }
    resp = client.post("/oauth/token", data=data)  # no secret
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_client"
    assert flow.redeem(code).status_code == 200


def test_an_unknown_code_is_invalid_grant(flow):
    assert_invalid_grant(flow.redeem("not-a-code"))
    assert_invalid_grant(flow.redeem("x" * 200))


def test_a_missing_code_is_invalid_request(flow):
    resp = flow.redeem(None)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_the_code_expires_after_sixty_seconds(flow, clock):
    code = flow.code()
    clock.advance(60)
    assert_invalid_grant(flow.redeem(code))


def test_a_code_redeems_up_to_its_last_second(flow, clock):
    code = flow.code()
    clock.advance(59)
    assert flow.redeem(code).status_code == 200


@pytest.mark.parametrize("config_overrides", [{"AUTHORIZATION_CODE_SECONDS": 10}])
def test_the_code_lifetime_is_a_setting(flow, clock, config_overrides):
    code = flow.code()
    clock.advance(10)
    assert_invalid_grant(flow.redeem(code))


def test_a_code_of_a_user_disabled_since_is_invalid_grant(app, flow):
    code = flow.code()
    cli_json(app, "users", "disable", "alice")
    assert_invalid_grant(flow.redeem(code))


# ---------------------------------------------------------------- replay


def test_a_second_redemption_is_invalid_grant_and_revokes_the_first_ones_tokens(client, third, flow, events):
    code = flow.code()
    body = flow.redeem(code).get_json()
    assert_invalid_grant(flow.redeem(code))
    assert_invalid_grant(refresh(client, third, body["refresh_token"]))
    introspected = client.post(
        "/oauth/revoke", data={"token": body["refresh_token"]}, headers=third.basic
    )  # revoking it again is fine (RFC 7009)
    assert introspected.status_code == 200
    reused = [r for r in events if getattr(r, "event", None) == "authorization_code.reused"]
    assert len(reused) == 1 and reused[0].revoked == 1


def test_a_replay_revokes_the_tokens_rotated_from_the_first_redemption_too(client, third, flow):
    code = flow.code()
    first = flow.redeem(code).get_json()
    rotated = refresh(client, third, first["refresh_token"]).get_json()
    assert_invalid_grant(flow.redeem(code))
    assert_invalid_grant(refresh(client, third, rotated["refresh_token"]))


def test_a_replay_after_expiry_still_revokes(client, third, flow, clock):
    code = flow.code()
    body = flow.redeem(code).get_json()
    clock.advance(3600)
    assert_invalid_grant(flow.redeem(code))
    assert_invalid_grant(refresh(client, third, body["refresh_token"]))


def test_the_family_records_its_login_session(app, client, third, flow):
    body = flow.redeem(flow.code()).get_json()
    sid = claims(client, body["id_token"])["sid"]
    with app.app_context():
        rows = db.session.execute(text("SELECT session_id FROM refresh_tokens")).all()
    assert [r[0] for r in rows] == [sid]


def test_the_family_keeps_its_login_session_through_rotation(app, client, third, flow):
    body = flow.redeem(flow.code()).get_json()
    sid = claims(client, body["id_token"])["sid"]
    refresh(client, third, refresh(client, third, body["refresh_token"]).get_json()["refresh_token"])
    with app.app_context():
        rows = db.session.execute(text("SELECT session_id FROM refresh_tokens ORDER BY id")).all()
    assert [r[0] for r in rows] == [sid, sid, sid]


def test_codes_are_stored_only_as_digests(app, flow):
    code = flow.code()
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM authorization_codes")).all()
    assert len(rows) == 1 and code not in repr(rows)


# ---------------------------------------------------------------- housekeeping


def test_purge_deletes_expired_codes_once_nothing_can_be_revoked_and_dead_sessions(app, client, third, clock):
    unused = Flow.start(client, third)
    unused.code()
    used = Flow.start(client, third)
    used.redeem(used.code())
    clock.advance(61)
    result = cli_json(app, "tokens", "purge")
    assert result["authorization_codes"] == 1  # the used one stays while its family has a token
    assert result["login_sessions"] == 0
    clock.advance(40 * 86400)
    result = cli_json(app, "tokens", "purge")
    assert result["authorization_codes"] == 1 and result["login_sessions"] == 1
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM authorization_codes")).scalar() == 0
