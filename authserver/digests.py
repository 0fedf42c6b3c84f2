"""Digests of secrets at rest: SHA-256 for refresh tokens, HMAC-SHA-256 for client secrets.

Both inputs are high-entropy values we generated ourselves, so a fast keyed or plain hash is
safe; a slow password hash would only cost CPU on every token request (RFC 9700 §2.5).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def token_digest(token: str) -> str:
    """SHA-256 of a refresh token, hex: what the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def secret_digest(pepper: str, secret: str) -> str:
    """HMAC-SHA-256 of a client secret under the server pepper, hex."""
    return hmac.new(pepper.encode(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_token(nbytes: int = 32) -> str:
    """A fresh URL-safe random token (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)
