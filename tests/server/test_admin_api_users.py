"""``/admin/users`` and ``/admin/tokens``: users, their sessions (refresh-token families) and consents, and the
revocations, through the admin app; what a revocation reaches is checked at the public token and
introspection endpoints."""

from __future__ import annotations

import pytest
from admin_api_calls import Admin
from conftest import Registered

PASSWORD = "correct horse battery"


@pytest.fixture
def config_overrides() -> dict[str, object]:
    return {"CLIENT_CACHE_SECONDS": 0, "INTROSPECTION_CACHE_SECONDS": 0}


@pytest.fixture
def ops(app, client, admin_client) -> Admin:
    return Admin(app, client, admin_client)


def _user(ops: Admin, username: str = "alice", **extra: object) -> dict:
    reply = ops.post("/admin/users", {"username": username, "password": PASSWORD, **extra})
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def test_a_created_user_logs_in_and_reads_back_without_a_password(ops: Admin, make_client, oauth) -> None:
    user = _user(ops, "Alice", email="alice@example.com")
    assert user["username"] == "Alice" and user["email"] == "alice@example.com" and not user["disabled"]
    assert "password" not in user and "password_hash" not in user
    reply = ops.get(f"/admin/users/{user['id']}")
    assert reply.get_json() == user and reply.headers["ETag"]
    assert oauth.password(make_client(), "alice").status_code == 200


def test_a_weak_password_or_a_taken_username_is_refused(ops: Admin) -> None:
    assert ops.post("/admin/users", {"username": "bob", "password": "password"}).status_code == 400
    _user(ops, "bob")
    reply = ops.post("/admin/users", {"username": "BOB", "password": PASSWORD})
    assert reply.status_code == 409 and reply.get_json()["error"] == "conflict"


def test_users_are_listed_in_pages_and_found_by_any_spelling(ops: Admin) -> None:
    for name in ("carol", "alice", "bob"):
        _user(ops, name)
    first = ops.get("/admin/users?limit=2").get_json()
    assert [u["username"] for u in first["items"]] == ["alice", "bob"]
    second = ops.get(first["next"].removeprefix("http://localhost")).get_json()
    assert [u["username"] for u in second["items"]] == ["carol"] and second["next"] is None
    assert [u["username"] for u in ops.get("/admin/users?username=ALICE").get_json()["items"]] == ["alice"]
    assert ops.get("/admin/users?username=nobody").get_json()["items"] == []


def test_an_unknown_user_id_is_404(ops: Admin) -> None:
    assert ops.get("/admin/users/00000000-0000-0000-0000-000000000000").status_code == 404
    assert ops.get("/admin/users/" + "x" * 300).status_code == 404


def test_profile_update_needs_the_current_version(ops: Admin) -> None:
    user = _user(ops, email="a@example.com", email_verified=True)
    path = f"/admin/users/{user['id']}"
    assert ops.patch(path, {"name": "Alice"}).status_code == 428
    etag = ops.get(path).headers["ETag"]
    changed = ops.patch(path, {"name": "Alice", "email": "new@example.com"}, etag=etag)
    assert changed.status_code == 200
    assert changed.get_json()["email"] == "new@example.com" and changed.get_json()["email_verified"] is False
    assert ops.patch(path, {"name": "Mallory"}, etag=etag).status_code == 412
    assert ops.get(path).get_json()["name"] == "Alice"
    cleared = ops.patch(path, {"name": None}, etag=changed.headers["ETag"])
    assert cleared.get_json()["name"] is None


def test_set_password_replaces_it(ops: Admin, make_client, oauth) -> None:
    user = _user(ops)
    reg = make_client()
    path = f"/admin/users/{user['id']}/password"
    assert ops.call("PUT", path, {"password": "123"}).status_code == 400
    assert ops.call("PUT", path, {"password": "another long passphrase"}).status_code == 204
    assert oauth.password(reg).status_code == 400
    assert oauth.password(reg, password="another long passphrase").status_code == 200


def test_disable_ends_logins_and_refreshes(ops: Admin, make_client, oauth) -> None:
    user = _user(ops)
    reg = make_client()
    refresh = oauth.password(reg).get_json()["refresh_token"]
    reply = ops.post(f"/admin/users/{user['id']}/disable")
    assert reply.status_code == 200 and reply.get_json()["disabled"] is True
    assert oauth.password(reg).status_code == 400
    assert oauth.refresh(reg, refresh).status_code == 400


def test_unlock_lifts_a_lockout(ops: Admin, make_client, oauth) -> None:
    user = _user(ops)
    reg = make_client()
    for _ in range(5):  # BRUTE_FORCE_MAX_FAILURES (default 5): a lockout
        oauth.password(reg, password="wrong password here")
    assert oauth.password(reg).status_code == 400  # locked: the right password refused too
    assert ops.post(f"/admin/users/{user['id']}/unlock").status_code == 204
    assert oauth.password(reg).status_code == 200


def _login(make_client, oauth, client_id: str = "app") -> tuple[Registered, dict]:
    reg = make_client(client_id)
    reply = oauth.password(reg)
    assert reply.status_code == 200
    return reg, reply.get_json()


def _introspect(client, resource: Registered, token: str) -> bool:
    return client.post("/oauth/introspect", data={"token": token}, headers=resource.basic).get_json()["active"]


@pytest.fixture
def resource(make_client) -> Registered:
    return make_client("api", grants=("client_credentials",), scopes="read", first_party=False, introspect=True)


def test_sessions_list_the_families_and_delete_logs_out_everywhere(
    ops: Admin, make_client, oauth, client, resource
) -> None:
    user = _user(ops)
    reg, first = _login(make_client, oauth)
    second = oauth.password(reg).get_json()
    families = ops.get(f"/admin/users/{user['id']}/sessions").get_json()["items"]
    assert len(families) == 2 and all(f["active"] and f["client_id"] == "app" for f in families)
    revoked = ops.delete(f"/admin/users/{user['id']}/sessions")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_refresh_tokens"] == 2
    assert oauth.refresh(reg, first["refresh_token"]).status_code == 400
    assert oauth.refresh(reg, second["refresh_token"]).status_code == 400
    assert not _introspect(client, resource, first["access_token"])
    assert not any(f["active"] for f in ops.get(f"/admin/users/{user['id']}/sessions").get_json()["items"])


def test_revoking_one_family_leaves_the_others(ops: Admin, make_client, oauth, client, resource) -> None:
    user = _user(ops)
    reg, first = _login(make_client, oauth)
    second = oauth.password(reg).get_json()
    family_id = next(
        f["family_id"]
        for f in ops.get(f"/admin/users/{user['id']}/sessions").get_json()["items"]
        if f["started_at"]
        == min(x["started_at"] for x in ops.get(f"/admin/users/{user['id']}/sessions").get_json()["items"])
    )
    target = first if _family_of(client, resource, first) == family_id else second
    other = second if target is first else first
    reply = ops.post(f"/admin/tokens/families/{_family_of(client, resource, target)}/revoke")
    assert reply.status_code == 200 and reply.get_json()["revoked_refresh_tokens"] == 1
    assert oauth.refresh(reg, target["refresh_token"]).status_code == 400
    assert not _introspect(client, resource, target["access_token"])
    assert oauth.refresh(reg, other["refresh_token"]).status_code == 200
    assert ops.post("/admin/tokens/families/no-such-family/revoke").status_code == 404


def _family_of(client, resource: Registered, tokens: dict) -> str:
    import base64
    import json

    payload = tokens["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sid"]


def test_revoke_before_for_a_client_ends_earlier_families_and_access_tokens(
    ops: Admin, make_client, oauth, client, resource, clock
) -> None:
    _user(ops)
    reg, early = _login(make_client, oauth)
    clock.advance(10)
    rotated = oauth.refresh(reg, early["refresh_token"]).get_json()  # rotated after, began before
    cutoff = clock.now()
    clock.advance(10)
    late = oauth.password(reg).get_json()
    reply = ops.post("/admin/tokens/revoke-before", {"client_id": "app", "before": cutoff})
    assert reply.status_code == 200
    assert reply.get_json() == {"revoked_refresh_tokens": 2, "not_before": cutoff}  # the used parent too
    assert oauth.refresh(reg, rotated["refresh_token"]).status_code == 400
    assert not _introspect(client, resource, early["access_token"])
    assert _introspect(client, resource, late["access_token"])
    assert oauth.refresh(reg, late["refresh_token"]).status_code == 200


def test_revoke_before_for_a_user(ops: Admin, make_client, oauth, client, resource, clock) -> None:
    user = _user(ops)
    reg, early = _login(make_client, oauth)
    clock.advance(10)
    cutoff = clock.now()
    clock.advance(10)
    late = oauth.password(reg).get_json()
    reply = ops.post("/admin/tokens/revoke-before", {"user_id": user["id"], "before": cutoff})
    assert reply.get_json()["revoked_refresh_tokens"] == 1
    assert oauth.refresh(reg, early["refresh_token"]).status_code == 400
    assert not _introspect(client, resource, early["access_token"])
    assert _introspect(client, resource, late["access_token"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"client_id": "app", "user_id": "x"},
        {"client_id": "app", "before": "soon"},
        {"client_id": "app", "before": 2**40},
    ],
)
def test_revoke_before_refuses_bad_requests(ops: Admin, make_client, body) -> None:
    make_client()
    assert ops.post("/admin/tokens/revoke-before", body).status_code == 400


def test_consents_are_listed_and_withdrawn(ops: Admin, app) -> None:
    user = _user(ops)
    from authserver.store import stores_of

    with app.app_context():
        ops.post(
            "/admin/clients",
            {"name": "tp", "client_id": "tp", "grant_types": ["client_credentials"], "scopes": ["read"]},
        )
        stores_of(app).consents.grant(user["id"], "tp", ["read"], 1000)
    listed = ops.get(f"/admin/users/{user['id']}/consents").get_json()["items"]
    assert [(c["client_id"], c["scopes"]) for c in listed] == [("tp", ["read"])]
    assert ops.delete(f"/admin/users/{user['id']}/consents/tp").status_code == 200
    assert ops.get(f"/admin/users/{user['id']}/consents").get_json()["items"] == []
    assert ops.delete(f"/admin/users/{user['id']}/consents/tp").status_code == 400
