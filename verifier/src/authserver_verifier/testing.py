"""A stand-in issuer for resource-server tests: RFC 8414 metadata and a JWKS on 127.0.0.1.

It signs RFC 9068 tokens with its own keys, counts every request by path (so a test can prove a
URL was never fetched), honours ``If-None-Match`` with ``304``, and can be told to fail. Test code
only: nothing in the verifier imports this module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any] | bytes, signature: bytes = b"") -> str:
    """A compact JWS from raw parts, for crafting tokens no honest library would produce."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64url(json.dumps(header).encode())}.{b64url(body)}.{b64url(signature)}"


class ManualClock:
    """A clock for ``Verifier(clock=...)`` that moves only when told to: Unix seconds."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LocalIssuer:
    """A tiny authorization server double; use as a context manager."""

    def __init__(
        self, *, max_age: int = 300, algorithms: tuple[str, ...] = ("RS256",), audience: str = "https://api.test"
    ) -> None:
        self.max_age = max_age
        self.algorithms = list(algorithms)
        self.audience = audience
        self.hits: Counter[str] = Counter()
        self.not_modified = 0
        #: When set, every request is answered with this status (an outage).
        self.fail_status: int | None = None
        self.extra_metadata: dict[str, Any] = {}
        #: Introspection (RFC 7662): the resource server's Basic credentials, and the revoked jtis.
        self.introspection_auth = "Basic " + base64.b64encode(b"rs:rs-secret").decode()
        self.revoked: set[str] = set()
        self.keys: dict[str, tuple[RSAKey | ECKey, str]] = {}
        self.active_kid = self.add_key(algorithms[0])
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LocalIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ keys

    def add_key(self, alg: str = "RS256") -> str:
        """Publish a new key (not yet signing); returns its kid."""
        key = ECKey.generate_key("P-256", private=True) if alg == "ES256" else RSAKey.generate_key(2048, private=True)
        kid = key.thumbprint()
        self.keys[kid] = (key, alg)
        return kid

    def remove_key(self, kid: str) -> None:
        del self.keys[kid]

    def public_jwk(self, kid: str) -> dict[str, Any]:
        key, alg = self.keys[kid]
        return {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}

    def jwks_body(self) -> bytes:
        return json.dumps({"keys": [self.public_jwk(kid) for kid in self.keys]}, sort_keys=True).encode()

    # ------------------------------------------------------------------ tokens

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": "user-1",
            "aud": self.audience,
            "exp": now + 300,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "client_id": "app",
            "scope": "read write",
            "sid": "family-1",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        claims: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """An RFC 9068 token signed by joserfc with ``kid`` (default: the active key)."""
        kid = kid or self.active_kid
        key, alg = self.keys[kid]
        fields = {"alg": alg, "typ": "at+jwt", "kid": kid, **(header or {})}
        fields = {k: v for k, v in fields.items() if v is not None}
        return jwt.encode(fields, claims if claims is not None else self.claims(**overrides), key, algorithms=[alg])

    def sign(self, header: dict[str, Any], payload: dict[str, Any] | bytes, kid: str | None = None) -> str:
        """Any header and payload, RS256-signed by hand with a published key (for hostile tokens)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric import rsa

        unsigned = compact(header, payload).rsplit(".", 1)[0]
        key = self.keys[kid or self.active_kid][0].get_op_key("sign")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("sign() signs RS256 with an RSA key; this kid is not one")
        return f"{unsigned}.{b64url(key.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256()))}"

    # ------------------------------------------------------------------ HTTP

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/.well-known/jwks.json",
            "introspection_endpoint": f"{self.url}/oauth/introspect",
            "access_token_signing_alg_values_supported": self.algorithms,
            **self.extra_metadata,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if issuer.fail_status is not None:
                    return self._send(issuer.fail_status, b"{}")
                if self.path == "/.well-known/oauth-authorization-server":
                    return self._send(200, json.dumps(issuer.metadata()).encode(), {"Cache-Control": "max-age=3600"})
                if self.path == "/.well-known/jwks.json":
                    body = issuer.jwks_body()
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    headers = {"Cache-Control": f"public, max-age={issuer.max_age}", "ETag": etag}
                    if self.headers.get("If-None-Match") == etag:
                        issuer.not_modified += 1
                        return self._send(304, b"", headers)
                    return self._send(200, body, {**headers, "Content-Type": "application/jwk-set+json"})
                return self._send(404, b"{}")

            def do_POST(self) -> None:
                issuer.hits[self.path] += 1
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                if self.path != "/oauth/introspect" or issuer.fail_status is not None:
                    return self._send(issuer.fail_status or 404, b"{}")
                if self.headers.get("Authorization") != issuer.introspection_auth:
                    return self._send(401, b'{"error": "invalid_client"}')
                token = form.get("token", [""])[0]
                claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
                answer = {"active": False} if claims["jti"] in issuer.revoked else {"active": True, **claims}
                return self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler
