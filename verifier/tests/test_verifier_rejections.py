"""The verifier's catalogue: one test per way an access token is refused, then what is accepted.

Tokens are built here with joserfc/cryptography and the keys served by a stand-in issuer on
127.0.0.1 (authserver_verifier.testing.LocalIssuer). Every rejection asserts the reason, so a token
refused for the wrong reason fails the test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from joserfc import jwe
from joserfc import jws
from joserfc.jwk import RSAKey

from authserver_verifier import InsufficientScopeError
from authserver_verifier import InvalidTokenError
from authserver_verifier import Verifier
from authserver_verifier import verify_access_token
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.testing import b64url
from authserver_verifier.testing import compact

AUD = "https://api.test"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


@pytest.fixture
def verifier(issuer: LocalIssuer) -> Verifier:
    return Verifier(issuer.url, AUD, leeway=5)


def rejected(verifier: Verifier, token: str, reason: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(token)
    exc = info.value
    assert reason in exc.detail, f"refused for {exc.detail!r}, expected {reason!r}"
    assert exc.status == 401
    assert exc.www_authenticate.startswith('Bearer error="invalid_token"')
    return exc


def good_header(issuer: LocalIssuer, **extra: object) -> dict:
    return {"alg": "RS256", "typ": "at+jwt", "kid": issuer.active_kid, **extra}


# ---------------------------------------------------------------- time


def test_expired_token_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(exp=int(time.time()) - 6), "expired")


def test_expiry_within_leeway_is_accepted(issuer, verifier):
    assert verifier.verify(issuer.token(exp=int(time.time()) - 2))["sub"] == "user-1"


def test_iat_in_the_future_beyond_leeway_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(iat=int(time.time()) + 60), "iat in the future")


def test_nbf_in_the_future_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(nbf=int(time.time()) + 60), "nbf")


# ---------------------------------------------------------------- claims


def test_wrong_issuer_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(iss="https://evil.test"), "iss")


def test_wrong_audience_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(aud="https://other-api.test"), "wrong aud")
    rejected(verifier, issuer.token(aud=["https://other-api.test", "https://third.test"]), "wrong aud")


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"])
def test_missing_required_claim_is_rejected(issuer, verifier, claim):
    reason = {"iss": "iss", "aud": "aud"}.get(claim, claim)
    rejected(verifier, issuer.token(**{claim: None}), reason)


@pytest.mark.parametrize(("claim", "value"), [("sub", ""), ("aud", ""), ("aud", []), ("client_id", "")])
def test_empty_claim_is_rejected(issuer, verifier, claim, value):
    rejected(verifier, issuer.token(**{claim: value}), "aud" if claim == "aud" else claim)


def test_non_numeric_exp_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(exp=str(int(time.time()) + 300)), "exp")
    rejected(verifier, issuer.token(exp=True), "exp")


def test_payload_that_is_not_an_object_is_rejected(issuer, verifier):
    rejected(verifier, issuer.sign(good_header(issuer), b'["a"]'), "not a JSON object")


# ---------------------------------------------------------------- header


def test_missing_typ_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(header={"typ": None}), "typ")


def test_typ_jwt_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(header={"typ": "JWT"}), "typ")


def test_alg_none_with_empty_signature_is_rejected(issuer, verifier):
    token = compact({"alg": "none", "typ": "at+jwt", "kid": issuer.active_kid}, issuer.claims())
    assert token.endswith(".")
    rejected(verifier, token, "alg 'none' not allowed")


def _public_forms(issuer: LocalIssuer) -> dict[str, bytes]:
    key = issuer.keys[issuer.active_kid][0]
    return {
        "pem": key.as_pem(private=False),
        "der": key.as_der(private=False),
        "jwk": json.dumps(issuer.public_jwk(issuer.active_kid)).encode(),
    }


@pytest.mark.parametrize("form", ["pem", "der", "jwk"])
def test_hs256_signed_with_the_rsa_public_key_is_rejected(issuer, verifier, form):
    secret = _public_forms(issuer)[form]
    unsigned = compact({"alg": "HS256", "typ": "at+jwt", "kid": issuer.active_kid}, issuer.claims()).rsplit(".", 1)[0]
    token = f"{unsigned}.{b64url(hmac.new(secret, unsigned.encode(), hashlib.sha256).digest())}"
    rejected(verifier, token, "alg 'HS256' not allowed")


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], ["RS256", "HS512"], []])
def test_symmetric_or_none_algorithms_cannot_be_configured(issuer, algorithms):
    with pytest.raises(ValueError, match="unsupported algorithms"):
        Verifier(issuer.url, AUD, algorithms=algorithms)


def test_algorithm_not_bound_to_the_key_is_rejected(issuer):
    """PS256 over the RS256 key: the issuer allows both, the JWK says RS256 (RFC 8725 §3.1)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    verifier = Verifier(issuer.url, AUD, algorithms=["RS256", "PS256"])
    unsigned = compact({"alg": "PS256", "typ": "at+jwt", "kid": issuer.active_kid}, issuer.claims()).rsplit(".", 1)[0]
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = issuer.keys[issuer.active_kid][0].get_op_key("sign").sign(unsigned.encode(), pss, hashes.SHA256())
    rejected(verifier, f"{unsigned}.{b64url(signature)}", "does not match key")


def test_unknown_kid_is_rejected(issuer, verifier):
    stranger = RSAKey.generate_key(2048, private=True)
    token = issuer.sign(good_header(issuer, kid=stranger.thumbprint()), issuer.claims())
    rejected(verifier, token, "no published key")


def test_missing_kid_is_rejected(issuer, verifier):
    rejected(verifier, issuer.token(header={"kid": None}), "missing kid")


def test_tampered_payload_is_rejected(issuer, verifier):
    header, _payload, signature = issuer.token(scope="read").split(".")
    forged = b64url(json.dumps(issuer.claims(scope="read write admin")).encode())
    rejected(verifier, f"{header}.{forged}.{signature}", "bad signature")


def test_signature_of_another_published_key_is_rejected(issuer, verifier):
    other = issuer.add_key()
    try:
        header, payload, _sig = issuer.token().split(".")
        _h, _p, other_signature = issuer.token(kid=other).split(".")
        rejected(verifier, f"{header}.{payload}.{other_signature}", "bad signature")
    finally:
        issuer.remove_key(other)


def test_unknown_crit_is_rejected(issuer, verifier):
    token = issuer.sign(good_header(issuer, crit=["exp-ext"], **{"exp-ext": 1}), issuer.claims())
    rejected(verifier, token, "crit")


def test_injected_jwk_header_is_rejected(issuer, verifier):
    attacker = RSAKey.generate_key(2048, private=True)
    jwk = {**attacker.as_dict(private=False), "kid": attacker.thumbprint(), "alg": "RS256"}
    token = jws.serialize_compact(
        {"alg": "RS256", "typ": "at+jwt", "kid": attacker.thumbprint(), "jwk": jwk},
        json.dumps(issuer.claims()),
        attacker,
        algorithms=["RS256"],
    )
    rejected(verifier, token, "jwk")


@pytest.mark.parametrize("signer", ["attacker", "issuer"])
def test_jku_header_is_rejected_and_never_fetched(issuer, verifier, signer):
    """Even when the signature is the issuer's own, the token is refused and jku is never requested."""
    with LocalIssuer(audience=AUD) as attacker:
        jku = f"{attacker.url}/.well-known/jwks.json"
        if signer == "attacker":
            token = attacker.token(issuer.claims(), header={"jku": jku})
        else:
            token = issuer.sign(good_header(issuer, jku=jku), issuer.claims())
        rejected(verifier, token, "jku")
        verifier.warm()
        rejected(verifier, token, "jku")
        assert sum(attacker.hits.values()) == 0


def test_x5u_header_is_rejected_and_never_fetched(issuer, verifier):
    with LocalIssuer(audience=AUD) as attacker:
        token = issuer.sign(good_header(issuer, x5u=f"{attacker.url}/cert.pem"), issuer.claims())
        rejected(verifier, token, "x5u")
        assert sum(attacker.hits.values()) == 0


# ---------------------------------------------------------------- shape and size


def test_jwe_is_rejected(issuer, verifier):
    public = RSAKey.import_key({**issuer.public_jwk(issuer.active_kid), "use": "enc", "alg": "RSA-OAEP-256"})
    token = jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "at+jwt"},
        json.dumps(issuer.claims()),
        public,
        algorithms=["RSA-OAEP-256", "A256GCM"],
    )
    assert token.count(".") == 4
    rejected(verifier, token, "not a compact JWS")


def test_json_serialisation_is_rejected(issuer, verifier):
    """RFC 7515 §7.2: a correctly signed token, but in the JSON serialisation (flattened and general)."""
    key = issuer.keys[issuer.active_kid][0]
    member = {"protected": {"alg": "RS256", "typ": "at+jwt", "kid": issuer.active_kid}}
    flattened = jws.serialize_json(member, json.dumps(issuer.claims()), key)
    general = jws.serialize_json([member], json.dumps(issuer.claims()), key)
    rejected(verifier, json.dumps(flattened), "compact JWS")
    rejected(verifier, json.dumps(general), "compact JWS")
    # Exactly two dots and no other separators: still refused by the strict base64url decoding.
    dotted = json.dumps(flattened, separators=(".", ":"))
    assert dotted.count(".") == 2
    rejected(verifier, dotted, "")
    with pytest.raises(InvalidTokenError):
        verifier.verify(flattened)  # type: ignore[arg-type]


def test_one_megabyte_token_is_rejected_before_any_parsing_or_fetch(issuer):
    cold = Verifier(issuer.url, AUD)
    before = sum(issuer.hits.values())
    token = issuer.token(padding="x" * (1024 * 1024))
    started = time.perf_counter()
    rejected(cold, token, "acceptable size")
    assert time.perf_counter() - started < 0.05
    assert sum(issuer.hits.values()) == before  # refused before the keys were even looked at


@pytest.mark.parametrize("mangle", ["+", "=", " ", "é"])
def test_non_base64url_characters_are_rejected(issuer, verifier, mangle):
    header, payload, signature = issuer.token().split(".")
    rejected(verifier, f"{header}.{payload}.{signature[:-4]}{mangle}{signature[-4:]}", "")


# ---------------------------------------------------------------- acceptances


def test_valid_token_is_accepted(issuer, verifier):
    claims = verifier.verify(issuer.token(sub="user-42"))
    assert claims["sub"] == "user-42" and claims["iss"] == issuer.url and claims["client_id"] == "app"


def test_audience_list_containing_ours_is_accepted(issuer, verifier):
    assert verifier.verify(issuer.token(aud=["https://other.test", AUD]))["aud"][1] == AUD


def test_required_scope_present_is_accepted_and_missing_is_403(issuer, verifier):
    token = issuer.token(scope="read write")
    assert verifier.verify(token, ("read", "write"))["scope"] == "read write"
    assert verifier.verify(token, "write read")["sub"] == "user-1"  # a string is space-separated scopes
    with pytest.raises(InsufficientScopeError) as info:
        verifier.verify(token, ("read", "admin"))
    assert info.value.status == 403
    assert info.value.www_authenticate == (
        'Bearer error="insufficient_scope", '
        'error_description="the access token lacks a required scope", '
        'scope="read admin"'
    )


def test_token_signed_by_retired_but_published_key_is_accepted(issuer, verifier):
    retired = issuer.active_kid
    old_token = issuer.token()
    issuer.active_kid = issuer.add_key()  # rotation: the old key stays published
    try:
        fresh = Verifier(issuer.url, AUD)
        assert fresh.verify(old_token)["jti"]
        assert fresh.verify(issuer.token())["jti"]
        assert retired in fresh.keys.snapshot(time.time()).keys
    finally:
        issuer.remove_key(issuer.active_kid)
        issuer.active_kid = retired


def test_es256_issuer_is_accepted():
    with LocalIssuer(algorithms=("ES256",), audience=AUD) as es_issuer:
        assert Verifier(es_issuer.url, AUD).verify(es_issuer.token())["sub"] == "user-1"


def test_verify_access_token_function_shares_one_cache(issuer):
    before = issuer.hits["/.well-known/jwks.json"]
    for _ in range(3):
        claims = verify_access_token(issuer.token(), issuer=issuer.url, audience=AUD, required_scopes=("read",))
        assert claims["scope"] == "read write"
    assert issuer.hits["/.well-known/jwks.json"] == before + 1
