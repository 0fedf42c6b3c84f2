"""Sealing a successor refresh token for the single-successor grace window.

Within the window, a replay of the immediately preceding token gets the *same* successor back
instead of a second branch. The successor is kept only as AES-256-GCM ciphertext on the parent's
row, under a key derived (HKDF-SHA-256) from the parent token itself together with the server
pepper, and bound to the parent's digest as associated data. The database stores only the parent's
SHA-256 digest, never the parent: a dump of the database, even with the pepper, cannot open a sealed
successor. Only the holder of the parent token can, which is exactly who the grace replay serves.
The ciphertext is erased once the window has passed (see :mod:`authserver.store.refresh_token_sql`).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authserver.digests import token_digest
from authserver.settings import current_settings

_INFO = b"authserver refresh-token grace window v2: key from the parent token and the pepper"


def _aead(parent_token: str) -> AESGCM:
    """The sealing key of one parent: HKDF with the pepper as salt and the parent token as key material."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=current_settings().secret_pepper.encode(), info=_INFO).derive(
        parent_token.encode("utf-8", "surrogatepass")
    )
    return AESGCM(key)


def seal(successor: str, parent_token: str) -> bytes:
    """The successor, sealed for whoever presents ``parent_token`` again."""
    nonce = os.urandom(12)
    return nonce + _aead(parent_token).encrypt(nonce, successor.encode(), token_digest(parent_token).encode())


def unseal(sealed: bytes, parent_token: str) -> str | None:
    """The successor sealed under ``parent_token``, or ``None`` if that is not the token it was sealed for."""
    sealed = bytes(sealed)  # PostgreSQL hands back a memoryview
    try:
        return _aead(parent_token).decrypt(sealed[:12], sealed[12:], token_digest(parent_token).encode()).decode()
    except (InvalidTag, ValueError):
        return None
