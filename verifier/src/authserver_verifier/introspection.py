"""Online mode: RFC 7662 introspection, for resources that must see revocations before ``exp``.

The token is first verified offline (so garbage never costs a request); then the issuer is asked
whether it is still active. Answers are cached for ``cache_ttl`` seconds (never past the token's
``exp``), keyed by the token's signature segment. The resource server authenticates as a
confidential client created with ``authserver clients create --name rs --introspect``.
Unreachable endpoint or refused credentials fail closed (503), without caching.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.parse
from typing import TYPE_CHECKING
from typing import Any

from authserver_verifier import fetch
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import VerifierUnavailableError

if TYPE_CHECKING:
    from authserver_verifier.jwks import JWKSCache

log = logging.getLogger("authserver.verifier")


def basic_credentials(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: form-encode both parts, then Base64."""
    raw = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


class Introspection:
    """Asks the issuer's introspection endpoint whether a token is active, with a short cache."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        endpoint: str | None = None,
        cache_ttl: float = 10.0,
        max_entries: int = 10_000,
        timeout: float = 3.0,
        transport: fetch.Transport = fetch.urllib_transport,
    ) -> None:
        self.authorization = basic_credentials(client_id, client_secret)
        self.endpoint = endpoint
        self.cache_ttl = cache_ttl
        self.max_entries = max_entries
        self.timeout = timeout
        self.transport = transport
        self._keys: JWKSCache | None = None
        self._cache: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()
        self.requests = 0

    def bind(self, keys: JWKSCache) -> None:
        """Called by the :class:`~authserver_verifier.Verifier`: the endpoint comes from its issuer's metadata."""
        self._keys = keys

    def check(self, token: str, claims: dict[str, Any], now: float) -> None:
        """:class:`InvalidTokenError` unless the issuer says the (offline-valid) token is active."""
        signature = token[token.rindex(".") + 1 :]
        hit = self._cache.get(signature)
        if hit is not None and now < hit[1]:
            active = hit[0]
        else:
            active = self._ask(token, claims)
            self._store(signature, active, min(now + self.cache_ttl, float(claims["exp"])), now)
        if not active:
            raise InvalidTokenError("token is not active (revoked or logged out)")

    def _store(self, signature: str, active: bool, until: float, now: float) -> None:
        with self._lock:
            if len(self._cache) >= self.max_entries:
                for key in [k for k, (_a, exp) in self._cache.items() if exp <= now]:
                    del self._cache[key]
                if len(self._cache) >= self.max_entries:  # all fresh: drop the oldest half
                    for key in list(self._cache)[: self.max_entries // 2]:
                        del self._cache[key]
            self._cache[signature] = (active, until)

    def _endpoint(self) -> str:
        if self.endpoint is None and self._keys is not None:
            try:
                self.endpoint = self._keys.introspection_endpoint()
            except fetch.FetchError as exc:
                raise VerifierUnavailableError(f"cannot discover the introspection endpoint: {exc}") from None
        if self.endpoint is None:
            raise VerifierUnavailableError("the issuer publishes no introspection_endpoint")
        return self.endpoint

    def _ask(self, token: str, claims: dict[str, Any]) -> bool:
        endpoint = self._endpoint()
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        headers = {
            "Authorization": self.authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self.requests += 1
        try:
            reply = self.transport("POST", endpoint, headers, body, self.timeout)
            answer = reply.json() if reply.status == 200 else None
        except fetch.FetchError as exc:
            raise VerifierUnavailableError(f"introspection failed: {exc}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            log.error("introspection answered HTTP %s", reply.status, extra={"event": "introspection.failed"})
            raise VerifierUnavailableError(f"introspection answered HTTP {reply.status}")
        if not answer["active"]:
            return False
        # The answer must be about this very token (RFC 7662 §2.2 members, when present).
        return all(
            answer.get(name, claims[name]) == claims[name]
            for name in ("sub", "client_id", "iss", "jti")
            if name in claims
        )
