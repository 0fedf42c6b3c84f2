"""``/admin/keys``: the signing-key lifecycle through the admin app, with the CLI's safety rules (a refused step
is 409 and changes nothing). Each test has its own keys directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_api_calls import Admin

from authserver.testing.apps import development_keys


@pytest.fixture
def config_overrides(tmp_path: Path) -> dict[str, object]:
    return {"KEYS_DIR": str(development_keys(tmp_path / "keys"))}


@pytest.fixture
def ops(app, client, admin_client) -> Admin:
    return Admin(app, client, admin_client)


def _states(ops: Admin) -> dict[str, str]:
    return {k["kid"]: k["state"] for k in ops.get("/admin/keys").get_json()["items"]}


def test_keys_are_listed_with_states_and_times(ops: Admin) -> None:
    reply = ops.get("/admin/keys")
    assert reply.status_code == 200 and reply.headers["ETag"]
    (key,) = reply.get_json()["items"]
    assert key["state"] == "active" and key["created_at"] and key["activated_at"]
    assert "removal_due_at" in key


def test_generate_then_activate_before_the_publish_delay_is_refused_unless_forced(ops: Admin) -> None:
    (active,) = _states(ops)
    generated = ops.post("/admin/keys", {"alg": "ES256"})
    assert generated.status_code == 201
    kid = generated.get_json()["kid"]
    assert generated.get_json()["state"] == "next"
    refused = ops.post(f"/admin/keys/{kid}/activate")
    assert refused.status_code == 409 and refused.get_json()["error"] == "conflict"
    assert _states(ops) == {active: "active", kid: "next"}
    forced = ops.post(f"/admin/keys/{kid}/activate", {"force": True})
    assert forced.status_code == 200
    assert forced.get_json()["activated"] == [kid] and forced.get_json()["retired"] == [active]
    assert _states(ops) == {active: "retired", kid: "active"}


def test_a_next_key_is_retired_and_a_compromised_one_revoked(ops: Admin) -> None:
    (active,) = _states(ops)
    kid = ops.post("/admin/keys", {}).get_json()["kid"]
    assert ops.post(f"/admin/keys/{kid}/retire").get_json()["retired"] == [kid]
    other = ops.post("/admin/keys").get_json()["kid"]
    assert ops.post(f"/admin/keys/{other}/revoke").get_json()["removed"] == [other]
    assert other not in _states(ops)
    assert ops.post("/admin/keys/no-such-kid/revoke").status_code == 409
    assert _states(ops)[active] == "active"
    emergency = ops.post(f"/admin/keys/{active}/revoke").get_json()  # the active key: a new one signs at once
    assert emergency["removed"] == [active] and emergency["activated"] == emergency["generated"]
    states = _states(ops)
    assert active not in states and list(states.values()).count("active") == 1


@pytest.mark.parametrize("body", [{"alg": "HS256"}, {"size": 1024}, {"size": "2048"}, {"activate": "yes"}, {"x": 1}])
def test_bad_generate_requests_are_400_and_add_nothing(ops: Admin, body) -> None:
    before = _states(ops)
    assert ops.post("/admin/keys", body).status_code == 400
    assert _states(ops) == before


def test_rotate_runs_one_step(ops: Admin) -> None:
    reply = ops.post("/admin/keys/rotate", {})
    assert reply.status_code == 200
    assert len(reply.get_json()["generated"]) == 1
    assert ops.post("/admin/keys/prune").status_code == 200


def test_keys_need_the_keys_scopes(ops: Admin) -> None:
    token = ops.token("admin:keys:read")
    assert ops.get("/admin/keys", token=token).status_code == 200
    assert ops.post("/admin/keys", {}, token=token).status_code == 403
    assert ops.get("/admin/keys", token=ops.token("admin:clients:write")).status_code == 403
