"""A process-wide count of revocations written through this process's stores.

Every store write that can make an access token inactive (a revoked ``jti``, a revoked family, a user disabled
or logged out everywhere) calls :func:`changed`. What caches an "active" answer
(:mod:`authserver.oauth.active_tokens`) records :func:`generation` when it looked, and trusts the answer only
while the generation is unchanged: a revocation in this process is seen by the next request at once, one in
another process within the cache's lifetime.
"""

from __future__ import annotations

import itertools

_counter = itertools.count(1)
_generation = 0


def changed() -> None:
    """Something may have become inactive: every cached "active" answer in this process is void."""
    global _generation
    _generation = next(_counter)  # itertools.count is atomic under the GIL: no lock needed


def generation() -> int:
    return _generation
