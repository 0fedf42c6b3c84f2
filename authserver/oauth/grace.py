"""Sealing a successor refresh token for the single-successor grace window.

Within the window, a replay of the immediately preceding token gets the *same* successor back
instead of a second branch. The successor is kept only as AES-256-GCM ciphertext under a key
derived from the server pepper (HKDF-SHA-256), bound to the parent token's digest as associated
data, and erased when the window has passed. The database alone never yields a usable token.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_INFO = b"authserver refresh-token grace window v1"


def _aead() -> AESGCM:
    cached = current_app.extensions.get("authserver.grace_aead")
    if cached is None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            current_app.config["SECRET_PEPPER"].encode())
        cached = current_app.extensions["authserver.grace_aead"] = AESGCM(key)
    return cached


def seal(successor: str, parent_digest: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + _aead().encrypt(nonce, successor.encode(), parent_digest.encode())


def unseal(sealed: bytes, parent_digest: str) -> str | None:
    try:
        return _aead().decrypt(sealed[:12], sealed[12:], parent_digest.encode()).decode()
    except (InvalidTag, ValueError):
        return None
