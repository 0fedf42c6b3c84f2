"""A verifier over a fixed JWK Set (``Verifier.from_jwks``): what the authorization server uses to check
its own access tokens (introspection, revocation, log out everywhere) against the keys it publishes.

The same strict checks as against a fetched JWKS, but no request ever; ``ANY_AUDIENCE`` (the issuer
accepts its tokens for every resource) only there; ``now=`` to check the times at a given moment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from authserver_verifier import ANY_AUDIENCE
from authserver_verifier import InvalidTokenError
from authserver_verifier import Verifier
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.testing import compact

AUD = "https://api.test"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


def fixed(issuer: LocalIssuer, audience: object = ANY_AUDIENCE, **options: object) -> Verifier:
    return Verifier.from_jwks(
        json.loads(issuer.jwks_body()), issuer=issuer.url, audience=audience, algorithms=["RS256"], **options
    )


def rejected(verifier: Verifier, token: str, reason: str, **options: object) -> None:
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(token, **options)
    assert reason in info.value.detail, f"refused for {info.value.detail!r}, expected {reason!r}"


def test_fixed_key_set_verifies_without_any_request(issuer):
    before = sum(issuer.hits.values())
    verifier = fixed(issuer, AUD)
    assert verifier.verify(issuer.token(sub="user-9"))["sub"] == "user-9"
    assert sum(issuer.hits.values()) == before


def test_unknown_kid_is_refused_at_once_without_a_refetch(issuer):
    verifier = fixed(issuer)
    new_kid = issuer.add_key()
    try:
        before = sum(issuer.hits.values())
        rejected(verifier, issuer.token(kid=new_kid), "no published key")
        assert sum(issuer.hits.values()) == before
    finally:
        issuer.remove_key(new_kid)


def test_any_audience_accepts_a_token_for_any_resource(issuer):
    verifier = fixed(issuer)
    assert verifier.verify(issuer.token(aud="https://other-api.test"))["aud"] == "https://other-api.test"
    assert verifier.verify(issuer.token(aud=["https://a.test", "https://b.test"]))["aud"][0] == "https://a.test"


@pytest.mark.parametrize(
    ("aud", "reason"),
    [
        (None, "missing or empty aud"),
        ("", "empty aud"),
        ([], "missing or empty aud"),
        (["https://a.test", ""], "empty aud"),
        (["https://a.test", 7], "not a list of strings"),
        (42, "missing or empty aud"),
    ],
)
def test_any_audience_still_requires_a_well_formed_aud(issuer, aud, reason):
    rejected(fixed(issuer), issuer.token(aud=aud), reason)


def test_a_named_audience_is_checked_as_always(issuer):
    rejected(fixed(issuer, AUD), issuer.token(aud="https://other-api.test"), "wrong aud")


def test_any_audience_is_refused_for_a_verifier_that_fetches_keys(issuer):
    with pytest.raises(ValueError, match="ANY_AUDIENCE"):
        Verifier(issuer.url, ANY_AUDIENCE)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"typ": "JWT"}, "typ"),
        ({"typ": None}, "typ"),
        ({"kid": None}, "missing kid"),
        ({"jku": "https://x.test/"}, "jku"),
    ],
)
def test_fixed_key_set_keeps_the_strict_header_checks(issuer, header, reason):
    rejected(fixed(issuer), issuer.token(header=header), reason)


def test_fixed_key_set_refuses_alg_none_unknown_crit_and_a_wrong_issuer(issuer):
    verifier = fixed(issuer)
    crit = {"alg": "RS256", "typ": "at+jwt", "kid": issuer.active_kid, "crit": ["x-ext"], "x-ext": 1}
    rejected(verifier, issuer.sign(crit, issuer.claims()), "crit")
    rejected(
        verifier,
        compact({"alg": "none", "typ": "at+jwt", "kid": issuer.active_kid}, issuer.claims()),
        "alg 'none' not allowed",
    )
    rejected(verifier, issuer.token(iss="https://evil.test"), "iss")


def test_now_sets_the_moment_the_times_are_checked_at(issuer):
    now = int(time.time())
    verifier = fixed(issuer, leeway=0)
    token = issuer.token(iat=now, exp=now + 60)
    assert verifier.verify(token, now=now + 59)["exp"] == now + 60
    rejected(verifier, token, "expired", now=now + 60)  # RFC 7519 §4.1.4: not on or after exp
    rejected(verifier, token, "iat in the future", now=now - 1)


def test_introspection_needs_the_issuers_metadata_not_a_fixed_key_set(issuer):
    from authserver_verifier import Introspection
    from authserver_verifier.jwks import StaticKeys

    with pytest.raises(ValueError, match="introspection"):
        Verifier(
            issuer.url,
            AUD,
            keys=StaticKeys(json.loads(issuer.jwks_body()), ["RS256"]),
            introspection=Introspection("rs", "rs-secret"),
        )


def test_asgi_middleware_over_a_fixed_key_set_verifies_inline(issuer):
    import asyncio

    from authserver_verifier.asgi import BearerMiddleware

    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"]["token_claims"]["sub"].encode()})

    sent: list[dict] = []
    scope = {"type": "http", "path": "/", "headers": [(b"authorization", f"Bearer {issuer.token(sub='u-5')}".encode())]}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(BearerMiddleware(inner, fixed(issuer, AUD))(scope, receive, send))
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"u-5")
