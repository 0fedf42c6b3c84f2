"""OpenID Provider metadata (OpenID Connect Discovery 1.0) beside the RFC 8414 document, and the two agreeing."""

from __future__ import annotations

import json

ISSUER = "https://auth.test"
RFC8414 = "/.well-known/oauth-authorization-server"
OPENID = "/.well-known/openid-configuration"

#: Discovery 1.0 §3: REQUIRED members.
OPENID_REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)


def _doc(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    return json.loads(resp.data)


def test_openid_configuration_has_the_required_members_and_our_endpoints(client):
    doc = _doc(client, OPENID)
    for member in OPENID_REQUIRED:
        assert member in doc, member
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/oauth/userinfo"
    assert doc["end_session_endpoint"] == f"{ISSUER}/oauth/logout"
    assert doc["subject_types_supported"] == ["public"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]  # Discovery §3: MUST include RS256


def test_openid_configuration_advertises_the_code_flow_with_s256_pkce_only(client):
    doc = _doc(client, OPENID)
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "authorization_code" in doc["grant_types_supported"]
    assert set(doc["prompt_values_supported"]) == {"none", "login", "consent"}
    assert doc["request_uri_parameter_supported"] is False  # its default is true


def test_openid_configuration_lists_the_standard_scopes_and_their_claims(client):
    doc = _doc(client, OPENID)
    assert {"openid", "profile", "email", "read", "write"} == set(doc["scopes_supported"])
    assert {
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "sid",
        "amr",
        "name",
        "preferred_username",
        "email",
        "email_verified",
    } == set(doc["claims_supported"])


def test_both_discovery_documents_agree_member_by_member(client):
    """One document at both addresses: every member of one is in the other with the same value (RFC 8414
    §7.1.2 registers the OpenID members as OAuth metadata, and Discovery §3 allows the OAuth ones)."""
    oauth, openid = _doc(client, RFC8414), _doc(client, OPENID)
    only_oauth, only_openid = set(oauth) - set(openid), set(openid) - set(oauth)
    assert not only_oauth and not only_openid, (only_oauth, only_openid)
    for member in oauth:
        assert oauth[member] == openid[member], member


def test_id_token_algorithms_are_those_of_the_published_keys(client):
    doc = _doc(client, OPENID)
    keys = json.loads(client.get("/.well-known/jwks.json").data)["keys"]
    assert set(doc["id_token_signing_alg_values_supported"]) == {k["alg"] for k in keys}


def test_openid_configuration_is_cacheable_like_the_rfc8414_document(client):
    resp = client.get(OPENID)
    assert resp.headers["Cache-Control"] == client.get(RFC8414).headers["Cache-Control"]
    assert "public" in resp.headers["Cache-Control"]


def test_advertised_endpoints_are_routes_of_this_app(client):
    doc = _doc(client, OPENID)
    for member in ("authorization_endpoint", "userinfo_endpoint", "end_session_endpoint", "jwks_uri", "token_endpoint"):
        path = doc[member].removeprefix(ISSUER)
        assert client.get(path).status_code != 404, member
