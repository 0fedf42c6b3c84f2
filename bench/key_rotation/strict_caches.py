"""``--activate-at edge``: a pool of strict caches watching every token of a newly activated key."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import jwt

from bench.key_rotation.load import Load
from bench.key_rotation.settings import AUDIENCE
from bench.key_rotation.verifiers import CountingJWKClient


class StrictCachePool:
    """``--activate-at edge``: a population of resource services, one strict PyJWKClient each.

    A new client fetches the JWKS every 40 ms and keeps it for the max-age (cooldown = max-age, so an
    unknown kid never refetches early), so at any moment some caches were filled just before a worker
    reloaded. After an activation every token of the new key is verified through every client whose
    cache is still fresh; with a publish delay that holds, none fails.
    """

    def __init__(self, load: Load) -> None:
        self.load = load
        self.clients: list[tuple[float, CountingJWKClient]] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.load.stop.is_set():
            client = CountingJWKClient(
                self.load.jwks_uri,
                cache_jwk_set=True,
                lifespan=self.load.max_age,
                cooldown_duration=self.load.max_age,
                timeout=10,
            )
            with contextlib.suppress(jwt.PyJWTError):
                client.get_jwk_set()
                with self.lock:
                    self.clients.append((client.fetches[-1]["at"], client))
                    self.clients = [(f, c) for f, c in self.clients if f > time.time() - 2 * self.load.max_age]
            time.sleep(0.04)

    def check_new_key(self, kid: str, activated_at: float) -> dict[str, Any]:
        with self.lock:
            fresh = [(f, c) for f, c in self.clients if f + self.load.max_age > activated_at]
        stale = [
            (f, c)
            for f, c in fresh
            if c.jwk_set_cache
            and kid not in {k.key_id for k in c.jwk_set_cache.jwk_set_with_timestamp.get_jwk_set().keys}
        ]  # type: ignore[union-attr]
        checks = failures = 0
        seen: set[int] = set()
        first_failure: float | None = None
        end = time.time() + self.load.max_age + 0.5
        while time.time() < end:
            with self.load.lock:
                new = [t for t in self.load.tokens if t.kid == kid and t.seq not in seen]
            for token in new:
                seen.add(token.seq)
                for fetched, client in fresh:
                    if time.time() >= fetched + self.load.max_age:
                        continue
                    checks += 1
                    try:
                        key = client.get_signing_key_from_jwt(token.token)
                        jwt.decode(token.token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.load.base_url)
                    except jwt.PyJWTError:
                        failures += 1
                        first_failure = first_failure or time.time() - activated_at
            time.sleep(0.02)
        return {
            "fresh_at_activation": len(fresh),
            "lacking_the_key": len(stale),
            "checks": checks,
            "failures": failures,
            "first_failure_after_activation_s": first_failure and round(first_failure, 3),
        }
