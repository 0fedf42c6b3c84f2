"""``/admin/clients``: every operation through the admin app, the versions (ETag/If-Match), pages, the secret's
rotation with an overlap, and the audit event of every call."""

from __future__ import annotations

import pytest
from admin_api_calls import Admin
from admin_api_calls import basic


@pytest.fixture
def config_overrides() -> dict[str, object]:
    # Two apps (public and admin) are two processes' worth of client caches: 0 shows each change at once.
    return {"CLIENT_CACHE_SECONDS": 0}


@pytest.fixture
def ops(app, client, admin_client) -> Admin:
    return Admin(app, client, admin_client)


SERVICE = {"name": "Billing", "grant_types": ["client_credentials"], "scopes": ["read"], "client_id": "billing"}


def _create(ops: Admin, **changes: object) -> dict:
    reply = ops.post("/admin/clients", {**SERVICE, **changes})
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def _token(client, client_id: str, secret: str):
    return client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))


def test_created_client_gets_tokens_and_its_secret_is_shown_only_at_creation(ops: Admin, client) -> None:
    created = _create(ops)
    assert created["client_id"] == "billing" and created["client_secret"]
    assert _token(client, "billing", created["client_secret"]).status_code == 200
    read = ops.get("/admin/clients/billing")
    assert read.status_code == 200
    assert "client_secret" not in read.get_json()
    assert read.get_json() == {k: v for k, v in created.items() if k != "client_secret"}


def test_creation_answers_location_and_the_etag_of_the_read(ops: Admin) -> None:
    reply = ops.post("/admin/clients", SERVICE)
    assert reply.headers["Location"].endswith("/admin/clients/billing")
    assert reply.headers["ETag"] == ops.get("/admin/clients/billing").headers["ETag"]


def test_a_duplicate_client_id_is_a_conflict(ops: Admin) -> None:
    _create(ops)
    reply = ops.post("/admin/clients", SERVICE)
    assert reply.status_code == 409
    assert reply.get_json()["error"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "grant_types": ["nope"]},
        {"name": "x", "scopes": "read"},
        {"name": "x", "access_token_ttl": "60"},
        {"name": "x", "public": "yes"},
        {"name": "x", "colour": "blue"},
        {"grant_types": ["client_credentials"]},
        ["not", "an", "object"],
    ],
)
def test_bad_bodies_are_400_with_the_reason_and_create_nothing(ops: Admin, body) -> None:
    reply = ops.post("/admin/clients", body)
    assert reply.status_code == 400
    error = reply.get_json()
    assert error["error"] == "invalid_request" and error["error_description"]
    assert len(ops.get("/admin/clients").get_json()["items"]) == 1


def test_a_body_that_is_not_json_is_400(ops: Admin) -> None:
    reply = ops.call("POST", "/admin/clients", headers={"Content-Type": "text/plain"})
    assert reply.status_code == 400


def test_an_unknown_client_is_404(ops: Admin) -> None:
    reply = ops.get("/admin/clients/nobody")
    assert reply.status_code == 404
    assert reply.get_json() == {"error": "not_found", "error_description": "no client 'nobody'"}


def test_update_needs_if_match(ops: Admin) -> None:
    _create(ops)
    reply = ops.patch("/admin/clients/billing", {"name": "Billing 2"})
    assert reply.status_code == 428
    assert reply.get_json()["error"] == "precondition_required"
    assert ops.get("/admin/clients/billing").get_json()["name"] == "Billing"


def test_update_with_the_current_etag_changes_the_client_and_its_etag(ops: Admin) -> None:
    _create(ops)
    etag = ops.get("/admin/clients/billing").headers["ETag"]
    reply = ops.patch("/admin/clients/billing", {"name": "Billing 2", "access_token_ttl": 120}, etag=etag)
    assert reply.status_code == 200
    assert reply.get_json()["name"] == "Billing 2" and reply.get_json()["access_token_ttl"] == 120
    assert reply.headers["ETag"] != etag
    assert reply.headers["ETag"] == ops.get("/admin/clients/billing").headers["ETag"]


def test_update_with_a_stale_etag_is_412_and_changes_nothing(ops: Admin) -> None:
    _create(ops)
    stale = ops.get("/admin/clients/billing").headers["ETag"]
    first = ops.patch("/admin/clients/billing", {"name": "First"}, etag=stale)
    assert first.status_code == 200
    second = ops.patch("/admin/clients/billing", {"name": "Second"}, etag=stale)
    assert second.status_code == 412
    assert second.get_json()["error"] == "precondition_failed"
    assert ops.get("/admin/clients/billing").get_json()["name"] == "First"


def test_a_weak_etag_never_matches(ops: Admin) -> None:
    _create(ops)
    etag = ops.get("/admin/clients/billing").headers["ETag"]
    assert ops.patch("/admin/clients/billing", {"name": "x"}, etag="W/" + etag).status_code == 412


def test_update_keeps_the_registration_rules(ops: Admin) -> None:
    _create(ops)
    etag = ops.get("/admin/clients/billing").headers["ETag"]
    for change in ({"grant_types": ["password"]}, {"scopes": ["admin:keys:read"]}, {"grace_seconds": 9999}):
        reply = ops.patch("/admin/clients/billing", change, etag=etag)
        assert reply.status_code == 400, change
    assert ops.get("/admin/clients/billing").headers["ETag"] == etag


def test_delete_needs_the_current_version_and_ends_the_client(ops: Admin, client) -> None:
    created = _create(ops)
    assert ops.delete("/admin/clients/billing").status_code == 428
    assert ops.delete("/admin/clients/billing", etag='"0"').status_code == 412
    etag = ops.get("/admin/clients/billing").headers["ETag"]
    assert ops.delete("/admin/clients/billing", etag=etag).status_code == 204
    assert ops.get("/admin/clients/billing").status_code == 404
    assert _token(client, "billing", created["client_secret"]).status_code == 401


def test_list_is_paged_with_a_cursor_and_a_next_link(ops: Admin) -> None:
    for n in range(5):
        _create(ops, client_id=f"svc-{n}", name=f"svc {n}")
    seen: list[str] = []
    url = "/admin/clients?limit=2"
    pages = 0
    while url:
        reply = ops.get(url)
        assert reply.status_code == 200
        page = reply.get_json()
        assert len(page["items"]) <= 2
        seen += [c["client_id"] for c in page["items"]]
        pages += 1
        if page["next"] is not None:
            assert reply.headers["Link"] == f'<{page["next"]}>; rel="next"'
            url = page["next"].removeprefix("http://localhost")
        else:
            assert page["next_cursor"] is None and "Link" not in reply.headers
            url = ""
    assert seen == sorted([ops.client_id, *(f"svc-{n}" for n in range(5))])
    assert pages == 3


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=" + "A" * 401])
def test_bad_page_parameters_are_400(ops: Admin, query: str) -> None:
    assert ops.get(f"/admin/clients?{query}").status_code == 400


def test_rotation_without_overlap_ends_the_old_secret_at_once(ops: Admin, client) -> None:
    old = _create(ops)["client_secret"]
    reply = ops.post("/admin/clients/billing/rotate-secret")
    assert reply.status_code == 200
    new = reply.get_json()["client_secret"]
    assert new != old
    assert _token(client, "billing", old).status_code == 401
    assert _token(client, "billing", new).status_code == 200


def test_the_old_secret_works_until_the_overlap_ends_then_not(ops: Admin, client, clock) -> None:
    old = _create(ops)["client_secret"]
    reply = ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": 600})
    assert reply.status_code == 200
    new = reply.get_json()["client_secret"]
    assert reply.get_json()["previous_secret_expires_at"] == clock.now() + 600
    assert _token(client, "billing", old).status_code == 200
    assert _token(client, "billing", new).status_code == 200
    clock.advance(599)
    assert _token(client, "billing", old).status_code == 200
    clock.advance(1)
    assert _token(client, "billing", old).status_code == 401
    assert _token(client, "billing", new).status_code == 200


def test_a_second_rotation_keeps_only_the_secret_it_replaced(ops: Admin, client) -> None:
    first = _create(ops)["client_secret"]
    second = ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": 600}).get_json()["client_secret"]
    third = ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": 600}).get_json()["client_secret"]
    assert _token(client, "billing", first).status_code == 401
    assert _token(client, "billing", second).status_code == 200
    assert _token(client, "billing", third).status_code == 200


@pytest.mark.parametrize("overlap", [-1, 7 * 24 * 3600 + 1, "60"])
def test_an_overlap_out_of_range_is_refused_and_the_secret_kept(ops: Admin, client, overlap) -> None:
    old = _create(ops)["client_secret"]
    assert ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": overlap}).status_code == 400
    assert _token(client, "billing", old).status_code == 200


def test_the_overlap_holds_across_a_cached_snapshot(app, client, admin_client, clock) -> None:
    """With the client cache on, the public app's snapshot predates the rotation: the new secret still works at
    once (one fresh read after a failed check), and the old one until the overlap ends."""
    app.extensions["authserver.stores"].clients.cache.ttl = 60
    ops = Admin(app, client, admin_client)
    old = _create(ops)["client_secret"]
    assert _token(client, "billing", old).status_code == 200  # cached now
    new = ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": 30}).get_json()["client_secret"]
    assert _token(client, "billing", new).status_code == 200
    assert _token(client, "billing", old).status_code == 200
    clock.advance(30)
    assert _token(client, "billing", old).status_code == 401


def test_rotation_with_a_stale_if_match_is_refused(ops: Admin, client) -> None:
    old = _create(ops)["client_secret"]
    reply = ops.call("POST", "/admin/clients/billing/rotate-secret", headers={"If-Match": '"stale"'})
    assert reply.status_code == 412
    assert _token(client, "billing", old).status_code == 200


def test_origins_are_added_and_removed(ops: Admin) -> None:
    _create(ops, grant_types=["password", "refresh_token"], first_party=True, client_id="spa", public=True)
    added = ops.post("/admin/clients/spa/origins", {"origin": "https://App.Example"})
    assert added.status_code == 200
    assert added.get_json()["origins"] == ["https://app.example"]
    assert ops.post("/admin/clients/spa/origins", {"origin": "http://evil.example"}).status_code == 400
    removed = ops.call("DELETE", "/admin/clients/spa/origins?origin=https://app.example")
    assert removed.status_code == 200 and removed.get_json()["origins"] == []
    assert ops.call("DELETE", "/admin/clients/spa/origins?origin=https://app.example").status_code == 400


def test_an_origin_of_another_client_is_a_conflict(ops: Admin) -> None:
    _create(ops, client_id="a", grant_types=["password"], first_party=True, origins=["https://a.example"])
    _create(ops, client_id="b", grant_types=["password"], first_party=True)
    assert ops.post("/admin/clients/b/origins", {"origin": "https://a.example"}).status_code == 409


def test_redirect_uris_are_added_and_removed(ops: Admin) -> None:
    _create(
        ops,
        client_id="web",
        grant_types=["authorization_code"],
        scopes=["openid"],
        redirect_uris=["https://web.example/cb"],
    )
    added = ops.post("/admin/clients/web/redirect-uris", {"uri": "https://web.example/cb2"})
    assert added.get_json()["redirect_uris"] == ["https://web.example/cb", "https://web.example/cb2"]
    logout = ops.post("/admin/clients/web/redirect-uris", {"uri": "https://web.example/", "post_logout": True})
    assert logout.get_json()["post_logout_redirect_uris"] == ["https://web.example/"]
    removed = ops.call("DELETE", "/admin/clients/web/redirect-uris?uri=https://web.example/cb")
    assert removed.get_json()["redirect_uris"] == ["https://web.example/cb2"]
    last = ops.call("DELETE", "/admin/clients/web/redirect-uris?uri=https://web.example/cb2")
    assert last.status_code == 400  # the code flow needs one
    gone = ops.call("DELETE", "/admin/clients/web/redirect-uris?uri=https://web.example/&post_logout=true")
    assert gone.get_json()["post_logout_redirect_uris"] == []


def test_every_call_is_an_audit_event_naming_the_admin_client_and_no_secret(ops: Admin, events) -> None:
    created = _create(ops)
    ops.get("/admin/clients/billing")
    ops.post("/admin/clients/billing/rotate-secret", {"overlap_seconds": 60})
    ops.patch("/admin/clients/billing", {"name": "y"})  # refused: no If-Match
    audited = [r for r in events if r.getMessage().startswith("admin.")]
    assert [r.getMessage() for r in audited] == [
        "admin.client_created",
        "admin.client_read",
        "admin.client_secret_rotated",
        "admin.client_updated",
    ]
    assert all(r.admin_client == ops.client_id for r in audited)
    assert [r.outcome for r in audited] == ["done", "done", "done", "refused"]
    assert audited[0].client_id == "billing" and audited[2].overlap_seconds == 60
    assert audited[3].status == 428
    for record in audited:
        assert created["client_secret"] not in str(vars(record))


def test_a_refused_call_without_a_token_is_audited_too(ops: Admin, admin_client, events) -> None:
    admin_client.get("/admin/clients")
    (record,) = [r for r in events if r.getMessage().startswith("admin.")]
    assert record.getMessage() == "admin.clients_listed"
    assert record.admin_client is None and record.status == 401 and record.outcome == "refused"
