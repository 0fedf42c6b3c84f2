"""Who may call the admin API: only an admin client's unexpired token for audience authserver-admin with the
scope the operation needs; every refusal answers RFC 6750 JSON with a Bearer challenge, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from admin_api_calls import Admin
from admin_api_calls import basic
from conftest import Registered

from authserver.admin.access import ADMIN_AUDIENCE
from authserver.admin_api import openapi
from authserver.oauth import tokens

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ops(app, client, admin_client) -> Admin:
    return Admin(app, client, admin_client)


def _challenge(reply) -> str:
    return reply.headers.get("WWW-Authenticate", "")


def test_admin_token_reads_the_clients(ops: Admin, app) -> None:
    reply = ops.get("/admin/clients")
    assert reply.status_code == 200
    assert [c["client_id"] for c in reply.get_json()["items"]] == [ops.client_id]


def test_admin_tokens_carry_the_admin_audience(ops: Admin, app, clock) -> None:
    with app.app_context():
        claims = tokens.decode_access_token(ops.token(), clock.now())
    assert claims is not None
    assert claims["aud"] == ADMIN_AUDIENCE
    assert claims["sub"] == ops.client_id and "sid" not in claims


def test_no_token_is_refused_with_a_bare_bearer_challenge(ops: Admin, admin_client) -> None:
    reply = admin_client.get("/admin/clients")
    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_token"
    assert _challenge(reply) == 'Bearer realm="authserver"'
    assert reply.headers["Cache-Control"] == "no-store"


def test_another_scheme_is_an_invalid_token(ops: Admin, admin_client) -> None:
    reply = admin_client.get("/admin/clients", headers=basic(ops.client_id, ops.secret))
    assert reply.status_code == 401
    assert 'error="invalid_token"' in _challenge(reply)


def test_an_ordinary_client_credentials_token_is_refused(ops: Admin, make_client, client) -> None:
    service = make_client("service", grants=("client_credentials",), scopes="read", first_party=False)
    reply = client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=service.basic)
    assert reply.status_code == 200
    refused = ops.get("/admin/clients", token=reply.get_json()["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in _challenge(refused)


def test_a_users_token_is_refused(ops: Admin, make_client, make_user, oauth) -> None:
    reg: Registered = make_client()
    make_user()
    user_token = oauth.password(reg).get_json()["access_token"]
    refused = ops.get("/admin/clients", token=user_token)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"


def test_a_token_without_the_scope_is_refused_with_insufficient_scope(ops: Admin) -> None:
    token = ops.token("admin:users:read")
    reply = ops.get("/admin/clients", token=token)
    assert reply.status_code == 403
    assert reply.get_json()["error"] == "insufficient_scope"
    assert _challenge(reply) == 'Bearer realm="authserver", error="insufficient_scope", scope="admin:clients:read"'


def test_a_read_scope_does_not_write(ops: Admin) -> None:
    token = ops.token("admin:clients:read")
    assert ops.get("/admin/clients", token=token).status_code == 200
    reply = ops.post("/admin/clients", {"name": "x", "grant_types": ["client_credentials"]}, token=token)
    assert reply.status_code == 403
    assert ops.get("/admin/clients", token=token).get_json()["items"][0]["client_id"] == ops.client_id
    assert len(ops.get("/admin/clients").get_json()["items"]) == 1  # nothing was created


def test_a_write_scope_implies_the_read_scope_of_its_area(ops: Admin) -> None:
    token = ops.token("admin:clients:write")
    assert ops.get("/admin/clients", token=token).status_code == 200
    assert ops.get("/admin/keys", token=token).status_code == 403


def test_an_expired_token_is_refused(ops: Admin, clock) -> None:
    token = ops.token()
    clock.advance(3600 * 24)
    reply = ops.get("/admin/clients", token=token)
    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_token"


def test_a_tampered_token_is_refused(ops: Admin) -> None:
    head, payload, signature = ops.token().split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert ops.get("/admin/clients", token=forged).status_code == 401


def test_the_token_of_a_deleted_admin_client_is_refused(ops: Admin, app, admin_client, client) -> None:
    other = Admin(app, client, admin_client)
    token = other.token()
    etag = ops.get(f"/admin/clients/{other.client_id}").headers["ETag"]
    assert ops.delete(f"/admin/clients/{other.client_id}", etag=etag).status_code == 204
    assert ops.get("/admin/clients", token=token).status_code == 401


def test_a_revoked_admin_token_is_refused(ops: Admin, client) -> None:
    token = ops.token()
    revoked = client.post("/oauth/revoke", data={"token": token}, headers=basic(ops.client_id, ops.secret))
    assert revoked.status_code == 200
    assert ops.get("/admin/clients", token=token).status_code == 401


def test_only_admin_clients_may_hold_admin_scopes_or_the_admin_audience(ops: Admin) -> None:
    for body in (
        {"name": "x", "grant_types": ["client_credentials"], "scopes": ["admin:clients:read"]},
        {"name": "x", "grant_types": ["client_credentials"], "scopes": ["read"], "audience": ADMIN_AUDIENCE},
        {"name": "x", "grant_types": ["password"], "scopes": ["admin:clients:read"], "admin": True},
    ):
        reply = ops.post("/admin/clients", body)
        assert reply.status_code == 400, body
        assert reply.get_json()["error"] == "invalid_request"


def test_an_admin_client_cannot_create_one_with_scopes_it_lacks(ops: Admin) -> None:
    token = ops.token("admin:clients:write")
    body = {"name": "x", "grant_types": ["client_credentials"], "scopes": ["admin:keys:write"], "admin": True}
    reply = ops.post("/admin/clients", body, token=token)
    assert reply.status_code == 403
    assert reply.get_json()["error"] == "access_denied"


def test_an_admin_client_cannot_take_over_a_stronger_one(ops: Admin, app, client, admin_client) -> None:
    weak = Admin(app, client, admin_client, scopes=("admin:clients:write",))
    reply = weak.post(f"/admin/clients/{ops.client_id}/rotate-secret", {})
    assert reply.status_code == 403
    assert ops.get("/admin/clients").status_code == 200  # the strong one's secret is unchanged


def test_admin_routes_answer_404_on_the_public_app(ops: Admin, client) -> None:
    for path in ("/admin/clients", "/admin/users", "/admin/keys", f"/admin/clients/{ops.client_id}", "/openapi.json"):
        reply = client.get(path, headers=ops.bearer)
        assert reply.status_code == 404, path
        assert reply.get_json()["error"] == "not_found"


def test_public_routes_answer_404_on_the_admin_app(admin_client) -> None:
    assert admin_client.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code == 404


def test_the_openapi_description_is_served_and_kept_in_docs(admin_client) -> None:
    reply = admin_client.get("/openapi.json")
    assert reply.status_code == 200
    served = reply.get_json()
    assert served["openapi"] == "3.1.0"
    assert served == json.loads((ROOT / "docs" / "admin-openapi.json").read_text())
    assert (ROOT / "docs" / "admin-openapi.json").read_text() == openapi.document_text()


def test_every_admin_route_is_described(admin_app) -> None:
    described = {(method.upper(), path) for path, methods in openapi.document()["paths"].items() for method in methods}
    routed = set()
    for rule in admin_app.url_map.iter_rules():
        if rule.rule.startswith("/admin"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == described


def test_bootstrap_prints_the_credentials_once_and_stores_only_a_digest(app, client) -> None:
    result = app.test_cli_runner().invoke(args=["admin", "bootstrap", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    reply = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "admin:keys:read"},
        headers=basic(data["client_id"], data["client_secret"]),
    )
    assert reply.status_code == 200
    from authserver.extensions import db
    from authserver.models import Client

    with app.app_context():
        row = db.session.get(Client, data["client_id"])
        assert row is not None and row.admin
        assert data["client_secret"] not in (row.secret_hash or "")
        assert len(row.secret_hash or "") == 64
