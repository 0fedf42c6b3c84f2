"""Malformed requests and the JSON error boundary (RFC 6749 §3.2, §5.2)."""

from __future__ import annotations

import json

import pytest

FORM = "application/x-www-form-urlencoded"
PASSWORD = "correct horse battery"
LOGIN = {"grant_type": "password", "username": "alice", "password": PASSWORD}


def assert_error(resp, status: int, code: str) -> dict:
    """The one error shape: JSON {"error", "error_description"}, never cached, never a token."""
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    body = json.loads(resp.data)
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == code, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    assert b"access_token" not in resp.data
    return body


@pytest.fixture
def reg(make_user, make_client):
    make_user()
    return make_client()


def test_get_on_token_endpoint_is_405_json_with_allow(client):
    resp = client.get("/oauth/token")
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_get_with_valid_credentials_in_query_never_issues_token(client, reg):
    resp = client.get("/oauth/token", query_string=LOGIN, headers=reg.basic)
    assert_error(resp, 405, "method_not_allowed")


@pytest.mark.parametrize("name", ["grant_type", "username", "password"])
def test_repeated_parameter_is_invalid_request(client, reg, name):
    data = {k: [v, v] if k == name else v for k, v in LOGIN.items()}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_repeated_parameter_with_different_values_is_invalid_request(client, reg):
    data = {**LOGIN, "username": ["alice", "bob"]}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_repeated_client_id_is_invalid_request(client, make_user, make_client):
    make_user()
    pub = make_client("mobile", public=True)
    data = {**LOGIN, "client_id": [pub.client_id, pub.client_id]}
    assert_error(client.post("/oauth/token", data=data), 400, "invalid_request")


def test_parameters_only_in_query_string_with_empty_body_are_not_honoured(client, reg):
    resp = client.post("/oauth/token", query_string=LOGIN, headers=reg.basic)
    assert_error(resp, 400, "invalid_request")


def test_parameters_only_in_query_string_with_empty_form_body_are_not_honoured(client, reg):
    resp = client.post("/oauth/token", query_string=LOGIN, data="", content_type=FORM, headers=reg.basic)
    assert_error(resp, 400, "invalid_request")


def test_password_only_in_query_string_is_not_honoured(client, reg):
    body = {k: v for k, v in LOGIN.items() if k != "password"}
    resp = client.post("/oauth/token", query_string={"password": PASSWORD}, data=body, headers=reg.basic)
    assert_error(resp, 400, "invalid_request")


def test_json_body_is_invalid_request(client, reg):
    assert_error(client.post("/oauth/token", json=LOGIN, headers=reg.basic), 400, "invalid_request")


def test_multipart_body_is_invalid_request(client, reg):
    resp = client.post("/oauth/token", data=LOGIN, content_type="multipart/form-data", headers=reg.basic)
    assert_error(resp, 400, "invalid_request")


def test_oversized_body_is_413_json(client, reg):
    data = {**LOGIN, "username": "a" * (16 * 1024 + 1)}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 413, "request_too_large")


def test_body_just_under_limit_is_processed(client, reg):
    data = {**LOGIN, **{f"padding{i}": "a" * 3800 for i in range(4)}}  # ~15 KiB, each value within bounds
    resp = client.post("/oauth/token", data=data, headers=reg.basic)
    assert resp.status_code == 200, resp.data


def test_overlong_parameter_value_is_invalid_request(client, reg):
    data = {**LOGIN, "username": "a" * 5000}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_unknown_grant_type_is_unsupported_grant_type(client, reg):
    data = {**LOGIN, "grant_type": "urn:example:unknown-grant"}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "unsupported_grant_type")


def test_authorization_code_grant_of_a_client_without_it_is_unauthorized_client(client, reg):
    data = {"grant_type": "authorization_code", "code": "abc", "redirect_uri": "https://app.example/cb"}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "unauthorized_client")


def test_missing_grant_type_is_invalid_request(client, reg):
    data = {k: v for k, v in LOGIN.items() if k != "grant_type"}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_empty_grant_type_is_invalid_request(client, reg):
    data = {**LOGIN, "grant_type": ""}
    assert_error(client.post("/oauth/token", data=data, headers=reg.basic), 400, "invalid_request")


def test_unknown_url_is_404_json(client):
    assert_error(client.get("/no/such/thing"), 404, "not_found")
    assert_error(client.post("/oauth/nothing", data=LOGIN), 404, "not_found")


def test_unexpected_exception_is_500_server_error_without_traceback(app, client):
    def boom():
        raise RuntimeError("secret internal detail 0xdeadbeef")

    app.add_url_rule("/boom", view_func=boom)
    resp = client.get("/boom")
    assert_error(resp, 500, "server_error")
    assert b"Traceback" not in resp.data
    assert b"deadbeef" not in resp.data
    assert b"RuntimeError" not in resp.data


def test_error_descriptions_do_not_echo_request_input(client, reg):
    marker = "zq-marker-7731"
    resp = client.post("/oauth/token", data={**LOGIN, f"{marker}": ["1", "2"]}, headers=reg.basic)
    assert_error(resp, 400, "invalid_request")
    assert marker.encode() not in resp.data
