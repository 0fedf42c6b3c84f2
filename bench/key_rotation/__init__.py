"""Signing-key rotation under load: no valid access token may fail verification.

Starts authserver as gunicorn (3 workers) on PostgreSQL with short timings (JWKS max-age 3 s, keys
reload 1 s, access tokens 5 s), issues client_credentials tokens continuously, and verifies every
token twice (at once, and again one second before it expires) with two independent verifiers that
honour the JWKS cache headers:

* PyJWT: ``jwt.PyJWKClient(jwks_uri, cache_jwk_set=True, lifespan=<max-age>)`` + ``jwt.decode``;
* panva/jose (node, ``verify_loop.mjs``): ``createRemoteJWKSet(..., {cacheMaxAge: <max-age>})`` +
  ``jwtVerify``.

Both are configured with the max-age the server sends and a refetch-on-unknown-kid cooldown equal
to it, so neither fetches the JWKS per token, nor early when a kid is unknown: a token signed with a
key their cached set lacks fails. That is the strict client the publish delay exists for.

Phase 1 (rotation): ``--rotations`` rotations through the CLI, each activated at the earliest moment
the CLI allows (``keys generate``, then ``keys activate KID`` retried from one second before the
publish delay ends until it is accepted; or ``keys rotate`` steps with ``--mode rotate``), a
``keys prune`` after each (which must remove nothing early), and ``keys prune`` again once removals
are due if ``--duration`` leaves time. Every failure of a valid token is counted; the figure must be 0.

Phase 2 (emergency): ``keys revoke <active kid> --yes`` while the load runs. A token signed by the
revoked key is re-verified every ``--probe-interval`` seconds through each verifier's cached JWKS;
the time from the revocation (the manifest write) until each verifier rejects it is the revoke
propagation, documented to be at most JWKS_MAX_AGE + KEYS_RELOAD_INTERVAL. Tokens signed by the
replacement key fail on these strict verifiers until their caches refresh (documented in
docs/keys.md); they are counted separately, as is everything signed by the revoked key.

Modules: :mod:`.settings` (timings, options), :mod:`.verifiers` (PyJWT, jose), :mod:`.deployment`
(database, keys, CLI, gunicorn through :mod:`authserver.testing`), :mod:`.load` (issuing and
checking tokens), :mod:`.phases` (rotations, prunes, the revoke), :mod:`.report` (figures, checks,
text) and :mod:`.run` (the command line). Timing rules (publish delay, activation eligibility,
removal due, revoke bound) come from :mod:`authserver.keys.lifecycle`, never re-derived here.

Run: ``.venv/bin/python bench/key_rotation/key_rotation_under_load.py`` or ``.venv/bin/python -m bench.key_rotation``
from the repository root (see README.md beside this file). Exit status 0 when every check holds, 1 otherwise.
"""
