"""The issuer's signing keys: RFC 8414 discovery, then the JWKS, cached the way the server says.

Bounds (all in :class:`CachePolicy`):

* fresh for the JWKS ``Cache-Control: max-age``, clamped to ``[min_ttl, max_ttl]``; after that one
  conditional request (``If-None-Match``, a ``304`` keeps the parsed keys);
* an unknown ``kid`` triggers one refetch, and only if the keys are older than ``kid_miss_cooldown``:
  a flood of random kids costs at most one request per cool-down;
* an unreachable issuer: the expired keys stay usable for ``stale_if_error`` more seconds, with one
  retry per ``error_retry`` seconds; after that verification fails closed (503);
* warm and fresh, :meth:`JWKSCache.snapshot` is one clock read and one comparison: no lock, no I/O.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

from authserver_verifier import fetch
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import VerifierUnavailableError
from authserver_verifier.keys import SUPPORTED_ALGORITHMS
from authserver_verifier.keys import VerificationKey
from authserver_verifier.keys import parse_jwks

log = logging.getLogger("authserver.verifier")

DEFAULT_ALGORITHMS = ("RS256",)


@dataclass(frozen=True)
class CachePolicy:
    """How long keys and metadata are trusted; seconds."""

    min_ttl: float = 10.0
    default_ttl: float = 300.0
    max_ttl: float = 86400.0
    kid_miss_cooldown: float = 30.0
    stale_if_error: float = 600.0
    error_retry: float = 5.0
    timeout: float = 3.0


@dataclass
class KeySnapshot:
    """One JWKS as fetched: parsed keys plus a cache of already-checked JWS headers (per snapshot)."""

    keys: dict[str, VerificationKey]
    algorithms: frozenset[str]
    fresh_until: float
    fetched_at: float
    etag: str | None = None
    headers: dict[bytes, tuple[VerificationKey, str]] = field(default_factory=dict)


class KeySource(Protocol):
    """Where a :class:`~authserver_verifier.Verifier` gets its keys: the issuer's JWKS, or a fixed set."""

    def snapshot(self, now: float) -> KeySnapshot: ...

    def key(self, kid: str, now: float) -> tuple[VerificationKey, KeySnapshot]: ...

    def is_fresh(self, now: float) -> bool:
        """Whether :meth:`snapshot` would answer without any I/O (the ASGI adapter then verifies inline)."""
        ...


class StaticKeys:
    """A fixed JWK Set, never fetched: the issuer checking its own tokens against the keys it publishes.

    An unknown ``kid`` is refused at once (there is nothing to refetch); build a new one when the
    set changes.
    """

    def __init__(self, document: Any, algorithms: Iterable[str]) -> None:
        allowed = frozenset(algorithms)
        self._snapshot = KeySnapshot(parse_jwks(document, allowed), allowed, fresh_until=math.inf, fetched_at=0.0)

    def snapshot(self, now: float) -> KeySnapshot:
        return self._snapshot

    def is_fresh(self, now: float) -> bool:
        return True  # never fetched: always answered without I/O

    def key(self, kid: str, now: float) -> tuple[VerificationKey, KeySnapshot]:
        key = self._snapshot.keys.get(kid)
        if key is None:
            raise InvalidTokenError(f"no published key with kid {kid[:64]!r}")
        return key, self._snapshot


class JWKSCache:
    """Thread-safe cache of one issuer's published keys."""

    def __init__(
        self,
        issuer: str,
        *,
        jwks_uri: str | None = None,
        algorithms: Iterable[str] | None = None,
        policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.time,
        transport: fetch.Transport = fetch.urllib_transport,
    ) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.explicit_algorithms = None if algorithms is None else frozenset(algorithms)
        self.policy = policy or CachePolicy()
        self.clock = clock
        self.transport = transport
        self.metadata: dict[str, Any] | None = None
        self._metadata_until = 0.0
        self._snapshot: KeySnapshot | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._kid_miss_at = 0.0
        #: Requests made, by kind, for monitoring and tests.
        self.stats = {"metadata": 0, "jwks": 0, "not_modified": 0, "errors": 0}

    # ------------------------------------------------------------------ the hot path

    def snapshot(self, now: float) -> KeySnapshot:
        """The keys to verify with at ``now``; fetches only when they are missing or expired."""
        snap = self._snapshot
        if snap is not None and now < snap.fresh_until:
            return snap
        return self._refresh_expired(now)

    def is_fresh(self, now: float) -> bool:
        """Whether :meth:`snapshot` would answer without any I/O."""
        snap = self._snapshot
        return snap is not None and now < snap.fresh_until

    def key(self, kid: str, now: float) -> tuple[VerificationKey, KeySnapshot]:
        """The key named ``kid``; an unknown kid refetches at most once per cool-down."""
        snap = self.snapshot(now)
        key = snap.keys.get(kid)
        if key is None and self._kid_miss_allowed(snap, now):
            with self._lock:
                snap = self._snapshot or snap
                if kid not in snap.keys and self._kid_miss_allowed(snap, now):
                    self._kid_miss_at = now
                    self._try_fetch(now)
                    snap = self._snapshot or snap
            key = snap.keys.get(kid)
        if key is None:
            raise InvalidTokenError(f"no published key with kid {kid[:64]!r}")
        return key, snap

    def _kid_miss_allowed(self, snap: KeySnapshot, now: float) -> bool:
        last = max(snap.fetched_at, self._kid_miss_at)
        return now >= last + self.policy.kid_miss_cooldown

    # ------------------------------------------------------------------ refreshing

    def _refresh_expired(self, now: float) -> KeySnapshot:
        snap = self._snapshot
        if snap is not None and not self._lock.acquire(blocking=False):
            # Another thread is refreshing: keep verifying with the keys we have, within the stale bound.
            if now < snap.fresh_until + self.policy.stale_if_error:
                return snap
            self._lock.acquire()
        elif snap is None:
            self._lock.acquire()
        try:
            current = self._snapshot
            if current is None or now >= current.fresh_until:
                self._try_fetch(now)
        finally:
            self._lock.release()
        return self._usable(now)

    def _usable(self, now: float) -> KeySnapshot:
        snap = self._snapshot
        if snap is None or now >= snap.fresh_until + self.policy.stale_if_error:
            raise VerifierUnavailableError("the issuer's keys cannot be fetched and no usable copy is cached")
        return snap

    def _try_fetch(self, now: float) -> None:
        """Refresh under the lock; a failure is logged and retried no sooner than ``error_retry``."""
        if now < self._retry_at:
            return
        try:
            self.refresh(now)
        except fetch.FetchError as exc:
            self.stats["errors"] += 1
            self._retry_at = now + self.policy.error_retry
            log.warning("cannot refresh the issuer's keys: %s", exc, extra={"event": "jwks.fetch_failed"})

    def refresh(self, now: float) -> KeySnapshot:
        """Fetch (or revalidate) the JWKS now. Raises :class:`~fetch.FetchError`. Call with the lock held."""
        uri = self._jwks_uri(now)
        old = self._snapshot
        headers = {"Accept": "application/jwk-set+json, application/json"}
        if old is not None and old.etag and old.algorithms == self._algorithms():
            headers["If-None-Match"] = old.etag
        self.stats["jwks"] += 1
        reply = self.transport("GET", uri, headers, None, self.policy.timeout)
        fresh_until = now + self._ttl(reply.headers)
        if reply.status == 304 and old is not None and "If-None-Match" in headers:
            self.stats["not_modified"] += 1
            snap = KeySnapshot(old.keys, old.algorithms, fresh_until, now, old.etag, old.headers)
        elif reply.status == 200:
            algorithms = self._algorithms()
            try:
                keys = parse_jwks(reply.json(), algorithms)
            except ValueError as exc:
                raise fetch.FetchError(f"{uri}: {exc}") from None
            snap = KeySnapshot(keys, algorithms, fresh_until, now, fetch.header(reply.headers, "ETag"))
        else:
            raise fetch.FetchError(f"GET {uri}: HTTP {reply.status}")
        self._snapshot = snap
        self._retry_at = 0.0
        return snap

    def _ttl(self, headers: dict[str, str] | Any) -> float:
        age = fetch.max_age(headers)
        ttl = self.policy.default_ttl if age is None else float(age)
        return min(max(ttl, self.policy.min_ttl), self.policy.max_ttl)

    # ------------------------------------------------------------------ discovery (RFC 8414)

    def _jwks_uri(self, now: float) -> str:
        if self.jwks_uri is not None:
            return self.jwks_uri
        if self.metadata is None or now >= self._metadata_until:
            try:
                self.discover(now)
            except fetch.FetchError:
                if self.metadata is None:
                    raise
                log.warning(
                    "cannot refresh the issuer's metadata; keeping the old copy",
                    extra={"event": "metadata.fetch_failed"},
                )
        assert self.metadata is not None
        uri: str = self.metadata["jwks_uri"]
        return uri

    def discover(self, now: float) -> dict[str, Any]:
        """Fetch and check the issuer's RFC 8414 metadata. Raises :class:`~fetch.FetchError`."""
        url = fetch.well_known_url(self.issuer)
        self.stats["metadata"] += 1
        reply = self.transport("GET", url, {"Accept": "application/json"}, None, self.policy.timeout)
        if reply.status != 200:
            raise fetch.FetchError(f"GET {url}: HTTP {reply.status}")
        doc = reply.json()
        # RFC 8414 §3.3: the issuer in the document MUST equal the one we asked about.
        if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
            raise fetch.FetchError(f"{url}: metadata issuer does not match {self.issuer!r}")
        jwks_uri = doc.get("jwks_uri")
        scheme = self.issuer.split(":", 1)[0]
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", f"{scheme}://")):
            raise fetch.FetchError(f"{url}: missing or insecure jwks_uri")
        self.metadata = doc
        self._metadata_until = now + max(self._ttl(reply.headers), self.policy.default_ttl)
        return doc

    def _algorithms(self) -> frozenset[str]:
        """Explicit algorithms, else those the issuer says it signs access tokens with, else RS256."""
        if self.explicit_algorithms is not None:
            return self.explicit_algorithms
        published = (self.metadata or {}).get("access_token_signing_alg_values_supported")
        if isinstance(published, list):
            usable = frozenset(a for a in published if isinstance(a, str)) & SUPPORTED_ALGORITHMS
            if usable:
                return usable
        return frozenset(DEFAULT_ALGORITHMS)

    def introspection_endpoint(self) -> str | None:
        """From the metadata (discovered on first use)."""
        with self._lock:
            if self.metadata is None:
                self.discover(self.clock())
        endpoint = (self.metadata or {}).get("introspection_endpoint")
        return endpoint if isinstance(endpoint, str) else None
