"""JWT access tokens (RFC 9068), verified against the JWKS the server publishes."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

ISSUER = "https://auth.test"
API = "https://api.example"


@pytest.fixture
def jwks(client) -> jwt.PyJWKSet:
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    return jwt.PyJWKSet.from_dict(json.loads(resp.data))


def verify(token: str, jwks: jwt.PyJWKSet, audience: str = ISSUER) -> dict:
    """Verify like a resource server: kid from the JWKS, RS256 only, issuer and audience pinned."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=audience,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
    )


def login(make_user, make_client, oauth, **client_kw) -> tuple[str, object, dict]:
    user_id = make_user()
    reg = make_client(**client_kw)
    resp = oauth.password(reg)
    assert resp.status_code == 200, resp.data
    return user_id, reg, resp.json


def test_header_is_rs256_at_jwt_with_published_kid(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth)
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {k.key_id for k in jwks.keys}


def test_signature_verifies_with_published_key(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth)
    assert verify(body["access_token"], jwks)["iss"] == ISSUER


def test_tampered_token_fails_verification(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth)
    head, payload, sig = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{head}.{forged}.{sig}", jwks)


def test_claims_identify_issuer_user_client_and_scope(make_user, make_client, oauth, jwks, clock):
    user_id, reg, body = login(make_user, make_client, oauth, scopes="read write")
    claims = verify(body["access_token"], jwks)
    assert claims["iss"] == ISSUER
    assert claims["sub"] == user_id
    assert claims["client_id"] == reg.client_id
    assert set(claims["scope"].split()) == {"read", "write"}
    assert claims["scope"] == body["scope"]
    assert claims["iat"] == clock.now()
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 600
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert isinstance(claims["sid"], str) and claims["sid"]


def test_audience_defaults_to_issuer(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth)
    assert verify(body["access_token"], jwks, audience=ISSUER)["aud"] == ISSUER
    with pytest.raises(jwt.InvalidAudienceError):
        verify(body["access_token"], jwks, audience=API)


def test_client_audience_is_used_when_registered(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth, audience=API)
    assert verify(body["access_token"], jwks, audience=API)["aud"] == API
    with pytest.raises(jwt.InvalidAudienceError):
        verify(body["access_token"], jwks, audience=ISSUER)


def test_client_access_token_ttl_sets_exp(make_user, make_client, oauth, jwks):
    _, _, body = login(make_user, make_client, oauth, access_token_ttl=120)
    claims = verify(body["access_token"], jwks)
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 120


def test_jti_is_unique_across_tokens(make_user, make_client, oauth, jwks):
    _, reg, first = login(make_user, make_client, oauth)
    second = oauth.password(reg).json
    third = oauth.refresh(reg, first["refresh_token"]).json
    jtis = {verify(t["access_token"], jwks)["jti"] for t in (first, second, third)}
    assert len(jtis) == 3


def test_sid_is_stable_across_refreshes_of_one_login(make_user, make_client, oauth, jwks):
    user_id, reg, first = login(make_user, make_client, oauth)
    second = oauth.refresh(reg, first["refresh_token"]).json
    third = oauth.refresh(reg, second["refresh_token"]).json
    sids = {verify(t["access_token"], jwks)["sid"] for t in (first, second, third)}
    assert len(sids) == 1
    refreshed = verify(third["access_token"], jwks)
    assert refreshed["sub"] == user_id
    assert refreshed["client_id"] == reg.client_id


def test_sid_differs_between_logins(make_user, make_client, oauth, jwks):
    _, reg, first = login(make_user, make_client, oauth)
    second = oauth.password(reg).json
    assert verify(first["access_token"], jwks)["sid"] != verify(second["access_token"], jwks)["sid"]


def test_refreshed_token_keeps_client_audience(make_user, make_client, oauth, jwks):
    _, reg, first = login(make_user, make_client, oauth, audience=API)
    second = oauth.refresh(reg, first["refresh_token"]).json
    assert verify(second["access_token"], jwks, audience=API)["aud"] == API


def test_token_signed_with_hs256_using_public_key_is_rejected(make_user, make_client, oauth, jwks):
    """Pinning algorithms to RS256 is what stops alg-confusion; the server's tokens pass, a forgery does not."""
    _, _, body = login(make_user, make_client, oauth)
    claims = verify(body["access_token"], jwks)
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"})
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(forged, jwks)
