"""Signing-key rotation under load, end to end (the ``bench.key_rotation`` package, bench/key_rotation/).

gunicorn with 3 workers, short timings (JWKS max-age 3 s, keys reload 1 s, access tokens 5 s),
client_credentials tokens issued continuously, each verified at once and again 2 s before it expires
by PyJWT's ``PyJWKClient`` and by jose's ``createRemoteJWKSet`` (node), both caching the JWKS for
the max-age the server sends and never refetching early for an unknown kid. Three rotations through
the CLI, each key activated at the first moment ``keys activate`` accepts it; then ``keys revoke``
of the active key, timing how long each verifier keeps accepting a token the revoked key signed.

PostgreSQL only: the server runs as several processes beside the CLI processes, as deployed. Node
and npm are required (the test fails without them); ``npm ci`` runs when bench/key_rotation/node_modules
is missing or does not match package-lock.json. About 60 s on 2 cores.

This harness found a real bug, since fixed (bench/key_rotation/README.md): ``keys activate`` could accept
a key up to ~1 s before it had been published for the full publish delay. A failure with
``no_matching_key`` on a new key's first tokens here means that guarantee broke again.
"""

from __future__ import annotations

import shutil
import time

import pytest
from conftest import Database

from bench.key_rotation.report import problems
from bench.key_rotation.report import render
from bench.key_rotation.run import run
from bench.key_rotation.settings import PROPAGATION_SLACK
from bench.key_rotation.settings import Options

pytestmark = pytest.mark.live


def test_three_rotations_under_load_fail_no_valid_token_and_revoke_propagates_in_time(database: Database) -> None:
    if database.backend != "postgresql":
        pytest.skip("multi-process check (gunicorn -w 3 beside CLI processes): runs on the PostgreSQL backend only")
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required for the jose verifier (install Node.js 20+ with npm)", pytrace=False)
    started = time.monotonic()
    result = run(Options(database_url=database.url, rotations=3, duration=0, rate=30.0))
    elapsed = time.monotonic() - started
    print(render(result))
    print(f"wall time {elapsed:.1f} s")

    timeline = "\n".join(f"  {e['at']:.3f} {e['event']} {e['kid'][:12]}" for e in result["events"])
    assert result["rotations_done"] == 3, timeline
    activated = [r["kid"] for r in result["rotations"]]
    assert len(set(activated)) == 3
    assert all(r["activate_refusals"] < 20 for r in result["rotations"])
    assert result["issue_errors"] == 0, result["issue_error_samples"]
    assert result["early_prunes"] == []
    assert result["tokens_issued"]["rotation"] >= 300, result["tokens_issued"]
    assert len(result["kids_issued"]) == 5  # the first key, three rotated in, the revoke's replacement

    max_age = result["timings"]["jwks_max_age_sent_s"]
    assert max_age == 3
    for name in ("pyjwt", "jose"):
        v = result["verifiers"][name]
        assert v["valid_tokens_failed"] == 0, (
            f"{name}: {v['valid_tokens_failed']} valid tokens failed verification during rotation:\n"
            f"{v['failures'][:5]}\nrotations: {result['rotations']}\ntimeline:\n{timeline}"
        )
        assert len(v["kids_verified"]) >= 2, v["kids_verified"]
        assert v["checks_ok"] >= 600, v
        # Both checks of (almost) every token ran while it was valid: the load did not outrun the verifiers.
        assert v["late_expired_checks"] <= 0.05 * v["checks"], v
        # The JWKS cache works: a fetch per max-age (plus at most one unknown-kid refetch per cooldown),
        # never one per token.
        assert 2 <= v["jwks_fetches"] <= 2 * result["load_seconds"] / max_age + 5, v["jwks_fetches"]

    revoke = result["revoke"]
    bound = result["timings"]["JWKS_MAX_AGE"] + result["timings"]["KEYS_RELOAD_INTERVAL"]
    assert revoke["bound_s"] == bound == 4
    for name in ("pyjwt", "jose"):
        took = revoke["propagation_s"][name]
        assert took is not None, f"{name} still accepts the revoked key's token {revoke['probes']} probes later"
        assert took <= bound + PROPAGATION_SLACK, f"{name}: revoke took {took:.2f} s, documented bound {bound} s"
        assert revoke["accepted_after_rejection"][name] == 0
        assert revoke["other_probe_errors"][name] == []
        # The replacement key signs before the caches have it (documented); strict caches catch up in time.
        assert result["verifiers"][name]["replacement_window_s"] <= bound + PROPAGATION_SLACK
    assert problems(result, 3) == []
