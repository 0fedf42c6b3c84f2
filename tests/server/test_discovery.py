"""Discovery documents: the JWKS (RFC 7517) and authorization server metadata (RFC 8414)."""

from __future__ import annotations

import json
import re

ISSUER = "https://auth.test"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_jwks_is_served_as_jwk_set_json_with_public_cache_control(client):
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/jwk-set+json"
    cache = resp.headers["Cache-Control"]
    assert "public" in cache
    assert re.search(r"max-age=\d+", cache), cache
    assert "no-store" not in cache


def test_jwks_max_age_follows_config(app, client):
    resp = client.get("/.well-known/jwks.json")
    assert f"max-age={app.config['JWKS_MAX_AGE']}" in resp.headers["Cache-Control"]


def test_jwks_keys_are_public_signing_keys(client):
    keys = json.loads(client.get("/.well-known/jwks.json").data)["keys"]
    assert keys
    for key in keys:
        assert key["kty"]
        assert key["use"] == "sig"
        assert key["alg"] in {"RS256", "PS256", "ES256"}
        assert key["kid"]
        assert not PRIVATE_MEMBERS & set(key), key
    assert len({k["kid"] for k in keys}) == len(keys)


def test_jwks_rsa_keys_carry_modulus_and_exponent(client):
    keys = json.loads(client.get("/.well-known/jwks.json").data)["keys"]
    for key in keys:
        if key["kty"] == "RSA":
            assert key["n"] and key["e"]


def test_jwks_etag_with_if_none_match_gives_304(client):
    first = client.get("/.well-known/jwks.json")
    etag = first.headers["ETag"]
    assert etag
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_jwks_weak_or_listed_etag_in_if_none_match_gives_304(client):
    """If-None-Match uses the weak comparison and may list several tags (RFC 9110 §13.1.2)."""
    etag = client.get("/.well-known/jwks.json").headers["ETag"]
    for value in (f"W/{etag}", f'"other", {etag}', "*"):
        resp = client.get("/.well-known/jwks.json", headers={"If-None-Match": value})
        assert resp.status_code == 304, value


def test_jwks_stale_etag_gives_full_document(client):
    first = client.get("/.well-known/jwks.json")
    resp = client.get("/.well-known/jwks.json", headers={"If-None-Match": '"stale-etag"'})
    assert resp.status_code == 200
    assert resp.data == first.data


def test_metadata_has_required_members_and_configured_issuer(client):
    resp = client.get("/.well-known/oauth-authorization-server")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    doc = json.loads(resp.data)
    for member in (
        "issuer",
        "token_endpoint",
        "jwks_uri",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "scopes_supported",
        "response_types_supported",
    ):
        assert member in doc, member
    assert doc["issuer"] == ISSUER


def test_metadata_urls_and_capabilities_match_the_server(client):
    doc = json.loads(client.get("/.well-known/oauth-authorization-server").data)
    assert doc["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert doc["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert {"authorization_code", "password", "refresh_token"} <= set(doc["grant_types_supported"])
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none"}
    assert doc["scopes_supported"] == ["read", "write", "openid", "profile", "email"]
    assert doc["response_types_supported"] == ["code"]


def test_metadata_signing_algorithms_match_jwks(client):
    doc = json.loads(client.get("/.well-known/oauth-authorization-server").data)
    keys = json.loads(client.get("/.well-known/jwks.json").data)["keys"]
    assert set(doc["access_token_signing_alg_values_supported"]) == {k["alg"] for k in keys}


def test_metadata_paths_are_served_by_this_app(client):
    doc = json.loads(client.get("/.well-known/oauth-authorization-server").data)
    assert client.get(doc["jwks_uri"].removeprefix(ISSUER)).status_code == 200
    assert client.get(doc["token_endpoint"].removeprefix(ISSUER)).status_code == 405
