"""What a signing key is, wherever it is stored: its record (kid, alg, state, times), its private key,
and the rules for opening a stored PEM (PKCS#8, encrypted with ``AUTHSERVER_KEYS_PASSPHRASE``).

Each key has a state: ``next`` (published, not signing), ``active`` (exactly one: signs every new
token) or ``retired`` (published so tokens already out still verify, never signs). The kid is the
RFC 7638 thumbprint. Both key stores (:mod:`authserver.keys.keystore`'s directory and
:mod:`authserver.store.signing_keys`' database) hold records and PEMs and open them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

STATES = ("next", "active", "retired")
ALGORITHMS = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}


class KeystoreError(Exception):
    """The key store is unusable or an operation on it is refused; the message says what to fix."""


@dataclass
class KeyRecord:
    """One key's listing. Times are Unix seconds."""

    kid: str
    alg: str
    state: str
    created_at: int
    activated_at: int | None = None
    retired_at: int | None = None

    @property
    def filename(self) -> str:
        return f"{self.kid}.pem"


@dataclass
class LoadedKey:
    record: KeyRecord
    key: RSAKey | ECKey


def generate_private_key(alg: str = "RS256", size: int = 2048) -> RSAKey | ECKey:
    if alg not in ALGORITHMS:
        raise KeystoreError(f"unsupported algorithm {alg!r}; choose one of {', '.join(ALGORITHMS)}")
    if ALGORITHMS[alg] == "EC":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(size, private=True)


def is_encrypted(pem: bytes) -> bool:
    """Whether a PEM private key is encrypted (PKCS#8 ``ENCRYPTED PRIVATE KEY`` or legacy ``Proc-Type``)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def require_passphrase(passphrase: str | None, require_encryption: bool) -> None:
    """Production never writes an unencrypted key, whichever store holds it."""
    if passphrase is None and require_encryption:
        raise KeystoreError(
            "missing passphrase: production never writes an unencrypted key (set AUTHSERVER_KEYS_PASSPHRASE)"
        )


def open_key(record: KeyRecord, pem: bytes, passphrase: str | None, source: str) -> LoadedKey:
    """The private key of ``record`` from its stored ``pem``; ``source`` names it in messages
    (``key file /keys/<kid>.pem``, ``key <kid> in the database``). A store holds encrypted keys only,
    or (development) unencrypted keys only: a passphrase for an unencrypted key is refused too."""
    if record.alg not in ALGORITHMS:
        raise KeystoreError(f"key {record.kid}: unsupported alg {record.alg!r}")
    key_cls = ECKey if ALGORITHMS[record.alg] == "EC" else RSAKey
    encrypted = is_encrypted(pem)
    if encrypted and not passphrase:
        raise KeystoreError(
            f"cannot load {source}: it is encrypted and no passphrase is given "
            "(missing passphrase: set AUTHSERVER_KEYS_PASSPHRASE)"
        )
    if not encrypted and passphrase:
        raise KeystoreError(
            f"cannot load {source}: it is not encrypted but a passphrase is given "
            "(AUTHSERVER_KEYS_PASSPHRASE); a key store holds encrypted keys only, or in "
            "development unencrypted keys only"
        )
    try:
        key = key_cls.import_key(pem, parameters=None, password=passphrase or None)
    except Exception as exc:  # joserfc/cryptography raise several types for bad PEM or passphrase
        reason = "wrong passphrase (AUTHSERVER_KEYS_PASSPHRASE)" if encrypted else "not a PEM private key"
        raise KeystoreError(f"cannot load {source}: {reason} ({type(exc).__name__})") from None
    if not key.is_private:
        raise KeystoreError(f"{source} holds no private key")
    if key.thumbprint() != record.kid:
        raise KeystoreError(f"{source} does not match its kid {record.kid} (thumbprint {key.thumbprint()})")
    return LoadedKey(record, key)
