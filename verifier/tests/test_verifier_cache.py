"""The verifier's key cache against a real local HTTP JWKS, with a controllable clock (no sleeps).

Counts requests on the stand-in issuer: max-age honoured, ETag revalidation (304), one refetch per
cool-down under a flood of unknown kids (also from many threads), stale-if-error within its bound,
rotation picked up without a restart, and online-mode (RFC 7662) answers cached briefly.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from authserver_verifier import CachePolicy
from authserver_verifier import Introspection
from authserver_verifier import InvalidTokenError
from authserver_verifier import Verifier
from authserver_verifier import VerifierUnavailableError
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.testing import ManualClock

AUD = "https://api.test"
JWKS = "/.well-known/jwks.json"
METADATA = "/.well-known/oauth-authorization-server"
POLICY = CachePolicy(
    min_ttl=10, default_ttl=300, max_ttl=3600, kid_miss_cooldown=30, stale_if_error=120, error_retry=5, timeout=2
)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(max_age=60, audience=AUD) as server:
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def verifier(issuer: LocalIssuer, clock: ManualClock) -> Verifier:
    return Verifier(issuer.url, AUD, clock=clock, cache_policy=POLICY)


def long_lived(issuer: LocalIssuer, **kw: object) -> str:
    return issuer.token(exp=int(time.time()) + 7200, **kw)


def random_kid_token(issuer: LocalIssuer) -> str:
    return issuer.token(header={"kid": uuid.uuid4().hex})


def test_warm_cache_makes_no_request(issuer, verifier, clock):
    token = long_lived(issuer)
    verifier.verify(token)
    assert issuer.hits == {METADATA: 1, JWKS: 1}

    def no_network(*args: object) -> None:
        raise AssertionError("network used on the warm path")

    verifier.keys.transport = no_network
    for _ in range(500):
        clock.advance(0.1)  # 50 s in all: still within max-age 60
        verifier.verify(token)
    assert issuer.hits == {METADATA: 1, JWKS: 1}


def test_max_age_is_honoured_then_revalidated_with_etag(issuer, verifier, clock):
    token = long_lived(issuer)
    verifier.verify(token)
    clock.advance(59)
    verifier.verify(token)
    assert issuer.hits[JWKS] == 1
    clock.advance(2)  # past max-age=60: one conditional request, answered 304
    verifier.verify(token)
    assert (issuer.hits[JWKS], issuer.not_modified) == (2, 1)
    assert verifier.keys.stats["not_modified"] == 1
    clock.advance(59)  # the 304's max-age counts from the revalidation
    verifier.verify(token)
    assert issuer.hits[JWKS] == 2


def test_changed_jwks_is_refetched_in_full_after_expiry(issuer, verifier, clock):
    verifier.verify(long_lived(issuer))
    new_kid = issuer.add_key()
    clock.advance(61)
    assert verifier.verify(long_lived(issuer, kid=new_kid))["sub"] == "user-1"
    assert (issuer.hits[JWKS], issuer.not_modified) == (2, 0)


@pytest.mark.parametrize(("max_age", "expected_fetches"), [(0, 1), (100_000, 1)])
def test_max_age_is_clamped(issuer, clock, max_age, expected_fetches):
    issuer.max_age = max_age
    verifier = Verifier(issuer.url, AUD, clock=clock, cache_policy=POLICY)
    token = long_lived(issuer)
    verifier.verify(token)
    clock.advance(9)  # max-age 0 (no-cache) still holds for min_ttl
    verifier.verify(token)
    assert issuer.hits[JWKS] == expected_fetches
    clock.advance(3600)  # a huge max-age is cut to max_ttl
    verifier.verify(token)
    assert issuer.hits[JWKS] == expected_fetches + 1


def test_flood_of_unknown_kids_costs_one_fetch_per_cooldown(issuer, verifier, clock):
    verifier.verify(long_lived(issuer))
    for _ in range(200):  # right after a fetch: within the cool-down, no refetch at all
        with pytest.raises(InvalidTokenError, match="no published key"):
            verifier.verify(random_kid_token(issuer))
    assert issuer.hits[JWKS] == 1
    clock.advance(31)
    for _ in range(200):
        clock.advance(0.1)  # 20 s of flood
        with pytest.raises(InvalidTokenError, match="no published key"):
            verifier.verify(random_kid_token(issuer))
    assert issuer.hits[JWKS] == 2
    clock.advance(31)
    for _ in range(50):
        with pytest.raises(InvalidTokenError):
            verifier.verify(random_kid_token(issuer))
    assert issuer.hits[JWKS] == 3


def test_flood_of_unknown_kids_from_many_threads_costs_one_fetch(issuer, verifier, clock):
    verifier.verify(long_lived(issuer))
    clock.advance(31)
    tokens = [random_kid_token(issuer) for _ in range(40)]
    errors: list[Exception] = []

    def flood() -> None:
        for token in tokens:
            try:
                verifier.verify(token)
            except InvalidTokenError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 8 * 40
    assert issuer.hits[JWKS] == 2


def test_rotation_is_picked_up_on_kid_miss_without_restart(issuer, verifier, clock):
    verifier.verify(long_lived(issuer))
    issuer.active_kid = issuer.add_key()  # emergency: a key published and signing at once
    token = long_lived(issuer)
    with pytest.raises(InvalidTokenError, match="no published key"):
        verifier.verify(token)  # the keys were fetched just now: within the cool-down
    clock.advance(31)
    assert verifier.verify(token)["sub"] == "user-1"
    assert issuer.hits[JWKS] == 2


def test_unpublished_key_stops_verifying_after_expiry(issuer, verifier, clock):
    old_kid = issuer.active_kid
    old_token = long_lived(issuer)
    verifier.verify(old_token)
    issuer.active_kid = issuer.add_key()
    issuer.remove_key(old_kid)  # revoked (authserver keys revoke)
    clock.advance(61)
    with pytest.raises(InvalidTokenError, match="no published key"):
        verifier.verify(old_token)
    assert verifier.verify(long_lived(issuer))["sub"] == "user-1"


def test_stale_keys_serve_while_the_issuer_fails_within_the_bound(issuer, verifier, clock):
    token = long_lived(issuer)
    verifier.verify(token)
    issuer.fail_status = 503
    clock.advance(61)  # expired: one attempt fails, stale keys keep working
    assert verifier.verify(token)["sub"] == "user-1"
    assert issuer.hits[JWKS] == 2
    clock.advance(4)  # within error_retry: no new attempt
    verifier.verify(token)
    assert issuer.hits[JWKS] == 2
    clock.advance(2)
    verifier.verify(token)
    assert issuer.hits[JWKS] == 3
    clock.advance(60 + 120 - 67 + 1)  # past max-age + stale_if_error
    with pytest.raises(VerifierUnavailableError) as info:
        verifier.verify(token)
    assert info.value.status == 503 and info.value.www_authenticate == "Bearer"
    issuer.fail_status = None
    clock.advance(5)
    assert verifier.verify(token)["sub"] == "user-1"  # recovered without a restart


def test_other_threads_keep_verifying_while_one_refreshes(issuer, clock):
    from authserver_verifier.fetch import urllib_transport

    entered, release = threading.Event(), threading.Event()

    def slow_transport(*args):
        if args[1].endswith(JWKS) and issuer.hits[JWKS] >= 1:
            entered.set()
            release.wait(10)
        return urllib_transport(*args)

    verifier = Verifier(issuer.url, AUD, clock=clock, cache_policy=POLICY, transport=slow_transport)
    token = long_lived(issuer)
    verifier.verify(token)
    clock.advance(61)
    refresher = threading.Thread(target=verifier.verify, args=(token,))
    refresher.start()
    assert entered.wait(5)
    started = time.monotonic()
    assert verifier.verify(token)["sub"] == "user-1"  # the expired copy, within the stale bound
    assert time.monotonic() - started < 1 and not release.is_set()
    release.set()
    refresher.join(10)
    assert issuer.hits[JWKS] == 2


def test_stale_keys_serve_when_the_issuer_is_unreachable(clock):
    with LocalIssuer(max_age=60, audience=AUD) as issuer:
        verifier = Verifier(issuer.url, AUD, clock=clock, cache_policy=POLICY)
        token = long_lived(issuer)
        verifier.verify(token)
    clock.advance(100)  # the server is gone: connection refused
    assert verifier.verify(token)["sub"] == "user-1"
    assert verifier.keys.stats["errors"] == 1
    clock.advance(90)
    with pytest.raises(VerifierUnavailableError):
        verifier.verify(token)


def test_cold_start_with_unreachable_issuer_fails_closed_and_retries_sparingly(issuer, clock):
    issuer.fail_status = 500
    verifier = Verifier(issuer.url, AUD, clock=clock, cache_policy=POLICY)
    token = long_lived(issuer)
    for _ in range(20):
        with pytest.raises(VerifierUnavailableError):
            verifier.verify(token)
    assert issuer.hits[METADATA] == 1
    issuer.fail_status = None
    clock.advance(5)
    assert verifier.verify(token)["sub"] == "user-1"


def test_metadata_for_another_issuer_is_refused(issuer, clock):
    issuer.extra_metadata = {"issuer": "https://impostor.test"}
    with pytest.raises(VerifierUnavailableError):
        Verifier(issuer.url, AUD, clock=clock).verify(long_lived(issuer))
    assert issuer.hits[JWKS] == 0


def test_algorithms_follow_the_issuer_metadata(clock):
    with LocalIssuer(algorithms=("ES256",), audience=AUD) as issuer:
        verifier = Verifier(issuer.url, AUD, clock=clock)
        assert verifier.verify(issuer.token())["sub"] == "user-1"
        assert verifier.keys.snapshot(clock()).algorithms == {"ES256"}
        rs_kid = issuer.add_key("RS256")  # published, but RS256 is not what this issuer signs with
        clock.advance(400)
        with pytest.raises(InvalidTokenError, match="alg 'RS256' not allowed"):
            verifier.verify(issuer.token(kid=rs_kid))


def test_introspection_answers_are_cached_briefly(issuer, clock):
    online = Verifier(issuer.url, AUD, clock=clock, introspection=Introspection("rs", "rs-secret", cache_ttl=10))
    token = long_lived(issuer)
    for _ in range(5):
        online.verify(token)
    assert issuer.hits["/oauth/introspect"] == 1
    issuer.revoked.add(online.verify(token)["jti"])
    clock.advance(9)
    online.verify(token)  # still the cached answer
    clock.advance(2)
    with pytest.raises(InvalidTokenError, match="not active"):
        online.verify(token)
    with pytest.raises(InvalidTokenError, match="not active"):
        online.verify(token)  # the negative answer is cached too
    assert issuer.hits["/oauth/introspect"] == 2


def test_introspection_failure_fails_closed(issuer, clock):
    online = Verifier(issuer.url, AUD, clock=clock, introspection=Introspection("rs", "wrong"))
    with pytest.raises(VerifierUnavailableError):
        online.verify(long_lived(issuer))
    garbage = long_lived(issuer)[:-8] + "AAAAAAAA"
    with pytest.raises(InvalidTokenError, match="bad signature"):
        online.verify(garbage)  # checked offline first: no introspection request
    assert issuer.hits["/oauth/introspect"] == 1
