"""A client id with a NUL character is an unknown client, never a server error (found by schemathesis:
PostgreSQL refuses NUL in text)."""

from __future__ import annotations


def test_authorize_with_a_nul_in_the_client_id_is_an_unknown_client(client) -> None:
    resp = client.get("/oauth/authorize?response_type=code&client_id=app%00x&code_challenge_method=S256")
    assert resp.status_code == 400


def test_token_request_with_a_nul_in_the_client_id_is_refused_not_a_server_error(client) -> None:
    resp = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "x"}
    )
    assert resp.status_code in (400, 401) and resp.json["error"] in ("invalid_request", "invalid_client")
