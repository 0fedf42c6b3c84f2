"""Assertions on token-endpoint answers shared by the grant tests."""

from __future__ import annotations

import jwt


def claims(token: str) -> dict:
    """The access token's claims; the signature is verified in test_access_token_claims.py."""
    return jwt.decode(token, options={"verify_signature": False})


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.data
    assert resp.mimetype == "application/json"
    assert resp.json["error"] == code, resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    assert "access_token" not in resp.json
