"""Verifying RFC 9068 access tokens offline against the issuer's published keys.

Order matters (RFC 8725): the size is bounded before anything is parsed; only compact JWS is
accepted (three base64url segments: no JWE, no JSON serialisation); header and payload are parsed as
strict, bounded JSON (:mod:`strict_json`: UTF-8, nesting depth, no duplicate names, finite numbers);
the header must name an allowed algorithm, ``typ`` ``at+jwt``, a ``kid`` (each a string) and nothing
we would have to follow or understand (``jku``, ``jwk``, ``x5u``, ``x5c``, ``crit``); the signature
is checked before the payload is even decoded. Whatever the input, the only exception is
:class:`TokenError`.

A header already seen with the current key set is looked up in a small per-snapshot cache, so the
hot path is: one dict look-up, one signature check, one JSON parse, a few compares.
"""

from __future__ import annotations

import binascii
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import Final

from authserver_verifier import fetch
from authserver_verifier import strict_json
from authserver_verifier.claims import check_claims
from authserver_verifier.claims import require_scopes
from authserver_verifier.claims import require_user_token
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import TokenError
from authserver_verifier.introspection import Introspection
from authserver_verifier.jwks import CachePolicy
from authserver_verifier.jwks import JWKSCache
from authserver_verifier.jwks import KeySnapshot
from authserver_verifier.jwks import KeySource
from authserver_verifier.jwks import StaticKeys
from authserver_verifier.keys import SUPPORTED_ALGORITHMS
from authserver_verifier.keys import VerificationKey

#: Our server refuses tokens over 8 KiB too; a bearer token has no business being larger.
MAX_TOKEN_BYTES = 8192
#: Seconds of clock skew tolerated on exp, iat and nbf.
DEFAULT_LEEWAY = 10.0
TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4; media type names are case-insensitive
#: Header parameters that would make us fetch or trust a key the token brings along, or that we do
#: not understand (RFC 7515 §4.1.11: unknown crit MUST be rejected, and we implement no extension).
REFUSED_HEADERS = ("jku", "jwk", "x5u", "x5c", "crit")
#: Header parameters we read: each, when present, must be a string (RFC 7515 §4.1, RFC 7519 §5).
STRING_HEADERS = ("alg", "typ", "kid", "cty")
HEADER_CACHE_SIZE = 64


class _AnyAudience:
    def __repr__(self) -> str:
        return "ANY_AUDIENCE"


#: ``audience=`` for the issuer itself (:meth:`Verifier.from_jwks` only): its tokens for every resource
#: (RFC 7662 introspection, RFC 7009 revocation). A resource server names its own audience (RFC 9068 §4).
ANY_AUDIENCE: Final = _AnyAudience()

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): any other character, even ``+ / =``, is an error."""
    standard = segment.translate(_TO_STANDARD, b"+/=")
    if len(standard) != len(segment) or len(standard) % 4 == 1:
        raise ValueError("not base64url")
    return binascii.a2b_base64(standard + _PADDING[len(standard) % 4], strict_mode=True)


class Verifier:
    """Verifies access tokens of one issuer for one resource (audience); share one per process."""

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str] | _AnyAudience,
        *,
        algorithms: Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        jwks_uri: str | None = None,
        max_token_bytes: int = MAX_TOKEN_BYTES,
        cache_policy: CachePolicy | None = None,
        clock: Callable[[], float] = time.time,
        transport: fetch.Transport = fetch.urllib_transport,
        introspection: Introspection | None = None,
        realm: str | None = None,
        keys: KeySource | None = None,
    ) -> None:
        if algorithms is not None:
            algorithms = tuple(algorithms)
            unsupported = sorted(set(algorithms) - SUPPORTED_ALGORITHMS)
            if unsupported or not algorithms:
                raise ValueError(f"unsupported algorithms {unsupported}: choose from {sorted(SUPPORTED_ALGORITHMS)}")
        audiences: frozenset[str] | None
        if audience is ANY_AUDIENCE:
            if keys is None:
                raise ValueError(
                    "ANY_AUDIENCE is for the issuer's own key set (Verifier.from_jwks): "
                    "a resource server checks its own audience"
                )
            audiences = None
        else:
            audiences = frozenset([audience] if isinstance(audience, str) else audience)  # type: ignore[arg-type]
            if not audiences or not all(audiences):
                raise ValueError("issuer and audience are required")
        if not issuer:
            raise ValueError("issuer and audience are required")
        self.issuer = issuer
        self.audiences = audiences
        self.leeway = leeway
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        self.realm = realm
        self.introspection = introspection
        if keys is not None:
            if introspection is not None:
                raise ValueError("introspection needs the issuer's metadata: not with a fixed key set")
            self.keys: JWKSCache | KeySource = keys
            return
        cache = JWKSCache(
            issuer, jwks_uri=jwks_uri, algorithms=algorithms, policy=cache_policy, clock=clock, transport=transport
        )
        self.keys = cache
        if introspection is not None:
            introspection.bind(cache)

    @classmethod
    def from_jwks(
        cls,
        jwks: dict[str, Any],
        *,
        issuer: str,
        audience: str | Iterable[str] | _AnyAudience,
        algorithms: Iterable[str],
        leeway: float = DEFAULT_LEEWAY,
        max_token_bytes: int = MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
        realm: str | None = None,
    ) -> Verifier:
        """A verifier of tokens signed by the keys of ``jwks`` (a JWK Set document): no discovery, no fetch.

        Every check of :meth:`verify` but the key cache's: an unknown ``kid`` is refused at once. For
        the issuer checking its own tokens (with ``audience=ANY_AUDIENCE``) and for tests; build a
        new one when the key set changes.
        """
        algorithms = tuple(algorithms)
        return cls(
            issuer,
            audience,
            algorithms=algorithms,
            leeway=leeway,
            max_token_bytes=max_token_bytes,
            clock=clock,
            realm=realm,
            keys=StaticKeys(jwks, algorithms),
        )

    def warm(self) -> None:
        """Fetch the keys now (e.g. at start-up); :class:`VerifierUnavailableError` if they cannot be had."""
        self.keys.snapshot(self.clock())

    def verify(
        self,
        token: str,
        required_scopes: str | tuple[str, ...] | list[str] = (),
        *,
        leeway: float | None = None,
        require_user: bool = False,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The token's claims if it is a valid access token for us with ``required_scopes``.

        ``now``: the time (Unix seconds) to check ``exp``/``iat``/``nbf`` at; default the verifier's clock.

        ``require_user``: the token must have been issued on behalf of a user, not to a client for
        itself (client_credentials); see :func:`~authserver_verifier.claims.is_user_token`.

        Raises :class:`InvalidTokenError` (401), :class:`InsufficientScopeError` (403; its subclass
        :class:`UserTokenRequiredError` for ``require_user``) or :class:`VerifierUnavailableError`
        (503); each carries its ``WWW-Authenticate`` value.
        """
        if isinstance(required_scopes, str):  # "read write" means both, not the letters
            required_scopes = tuple(required_scopes.split())
        try:
            claims = self._verify(
                token, self.leeway if leeway is None else leeway, self.clock() if now is None else now
            )
            if require_user:
                require_user_token(claims)
            require_scopes(claims, required_scopes)
        except TokenError as exc:
            exc.realm = self.realm
            raise
        return claims

    __call__ = verify

    def _verify(self, token: str, leeway: float, now: float) -> dict[str, Any]:
        # Bounded before any parsing; then exactly three segments: JWE has five, JSON serialisation
        # has braces (which no segment may contain: every one is decoded strictly).
        if type(token) is not str or len(token) > self.max_token_bytes or not token.isascii():
            raise InvalidTokenError("not an ASCII token of acceptable size")
        raw = token.encode("ascii")
        if raw.count(b".") != 2:
            raise InvalidTokenError("not a compact JWS")
        snap = self.keys.snapshot(now)
        head = raw.index(b".")
        tail = raw.rindex(b".")
        entry = snap.headers.get(raw[:head])
        if entry is None:
            entry = self._check_header(raw[:head], snap, now)
        key, alg = entry
        try:
            valid = key.verifiers[alg](b64url_decode(raw[tail + 1 :]), raw[:tail])
        except ValueError:
            valid = False
        if not valid:
            raise InvalidTokenError("bad signature")
        try:
            claims: dict[str, Any] = strict_json.loads(b64url_decode(raw[head + 1 : tail]))
        except ValueError as exc:
            raise InvalidTokenError(f"payload is not base64url UTF-8 JSON: {str(exc)[:80]}") from None
        check_claims(claims, issuer=self.issuer, audiences=self.audiences, now=now, leeway=leeway)
        if self.introspection is not None:
            self.introspection.check(token, claims, now)
        return claims

    def _check_header(self, segment: bytes, snap: KeySnapshot, now: float) -> tuple[VerificationKey, str]:
        try:
            header = strict_json.loads(b64url_decode(segment))
        except ValueError as exc:
            raise InvalidTokenError(f"header is not base64url UTF-8 JSON: {str(exc)[:80]}") from None
        if type(header) is not dict:
            raise InvalidTokenError("header is not a JSON object")
        wrong = [name for name in STRING_HEADERS if name in header and type(header[name]) is not str]
        if wrong:
            raise InvalidTokenError(f"{', '.join(wrong)} is not a string")
        alg = header.get("alg")
        if alg not in snap.algorithms:  # pinned: never none, never HMAC, only what the issuer signs with
            raise InvalidTokenError(f"alg {str(alg)[:20]!r} not allowed")
        typ = header.get("typ")
        if type(typ) is not str or typ.lower() not in TYPES:
            raise InvalidTokenError("typ is not at+jwt")
        refused = [name for name in REFUSED_HEADERS if name in header]
        if refused:
            raise InvalidTokenError(f"refused header parameter(s) {', '.join(refused)}")
        kid = header.get("kid")
        if type(kid) is not str or not kid:
            raise InvalidTokenError("missing kid")
        key, snap = self.keys.key(kid, now)
        if alg not in key.verifiers:
            raise InvalidTokenError(f"alg {alg} does not match key {kid}")
        if len(snap.headers) >= HEADER_CACHE_SIZE:
            snap.headers.clear()
        snap.headers[segment] = (key, alg)
        return key, alg


_registry: dict[tuple[Any, ...], Verifier] = {}
_registry_lock = threading.Lock()


def verify_access_token(
    token: str,
    *,
    issuer: str,
    audience: str | Iterable[str],
    required_scopes: tuple[str, ...] | list[str] = (),
    leeway: float = DEFAULT_LEEWAY,
    algorithms: Iterable[str] | None = None,
    jwks_uri: str | None = None,
    require_user: bool = False,
) -> dict[str, Any]:
    """Verify ``token`` with a process-wide :class:`Verifier` per (issuer, audience, algorithms, jwks_uri).

    The verifier, and so its key cache, is shared by every call with the same settings.
    """
    audiences = (audience,) if isinstance(audience, str) else tuple(sorted(audience))
    algs = None if algorithms is None else tuple(sorted(algorithms))
    key = (issuer, audiences, algs, jwks_uri)
    verifier = _registry.get(key)
    if verifier is None:
        with _registry_lock:
            verifier = _registry.get(key)
            if verifier is None:
                verifier = _registry[key] = Verifier(issuer, audiences, algorithms=algs, jwks_uri=jwks_uri)
    return verifier.verify(token, required_scopes, leeway=leeway, require_user=require_user)
