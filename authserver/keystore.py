"""Signing keys on disk: PEM files plus ``manifest.json`` in ``KEYS_DIR``.

Each key has a state: ``next`` (published, not signing), ``active`` (exactly one: signs every new
token) or ``retired`` (published so tokens already out still verify, never signs). The kid is the
RFC 7638 thumbprint. The keystore hands the token issuer only the active key (joserfc would pick
a random key if given a whole set), and the public JWKS is a separate document built once per load.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

STATES = ("next", "active", "retired")
MANIFEST = "manifest.json"
LOCK = ".lock"
ALGORITHMS = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}


class KeystoreError(Exception):
    """The keys directory is unusable; the message says what to fix."""


@dataclass
class KeyRecord:
    """One manifest entry. Times are Unix seconds."""

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


@contextlib.contextmanager
def locked(keys_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the keys directory (serialises workers and CLI runs)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    with open(keys_dir / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_manifest(keys_dir: Path) -> list[KeyRecord]:
    path = keys_dir / MANIFEST
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text())
        return [KeyRecord(**entry) for entry in raw["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"{path} is not a valid key manifest: {exc}") from None


def write_manifest(keys_dir: Path, records: list[KeyRecord]) -> None:
    body = json.dumps({"keys": [asdict(r) for r in records]}, indent=2, sort_keys=True) + "\n"
    _write_atomic(keys_dir / MANIFEST, body.encode(), mode=0o644)


def add_key(keys_dir: Path, key: RSAKey | ECKey, alg: str, state: str, now: int,
            passphrase: str | None = None) -> KeyRecord:
    """Write ``key`` as PEM (PKCS#8, encrypted when a passphrase is given) and list it in the manifest.

    The caller holds :func:`locked`.
    """
    record = KeyRecord(kid=key.thumbprint(), alg=alg, state=state, created_at=now,
                       activated_at=now if state == "active" else None)
    _write_atomic(keys_dir / record.filename, key.as_pem(private=True, password=passphrase))
    records = read_manifest(keys_dir)
    if any(r.kid == record.kid for r in records):
        raise KeystoreError(f"key {record.kid} already exists")
    write_manifest(keys_dir, [*records, record])
    return record


def ensure_development_key(keys_dir: Path, now: int, passphrase: str | None = None) -> KeyRecord | None:
    """Create one active RS256 key if the directory has none; safe when many workers start at once."""
    with locked(keys_dir):
        if read_manifest(keys_dir):
            return None
        return add_key(keys_dir, generate_private_key("RS256"), "RS256", "active", now, passphrase)


def _load_key(keys_dir: Path, record: KeyRecord, passphrase: str | None) -> LoadedKey:
    path = keys_dir / record.filename
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc.strerror}") from None
    if record.alg not in ALGORITHMS:
        raise KeystoreError(f"key {record.kid}: unsupported alg {record.alg!r}")
    key_cls = ECKey if ALGORITHMS[record.alg] == "EC" else RSAKey
    try:
        key = key_cls.import_key(pem, parameters=None, password=passphrase)
    except Exception as exc:  # joserfc/cryptography raise several types for bad PEM or passphrase
        reason = "wrong or missing passphrase, or not a PEM private key"
        raise KeystoreError(f"cannot load key file {path}: {reason} ({type(exc).__name__})") from None
    if not key.is_private:
        raise KeystoreError(f"key file {path} holds no private key")
    if key.thumbprint() != record.kid:
        raise KeystoreError(f"key file {path} does not match its kid {record.kid} (thumbprint {key.thumbprint()})")
    return LoadedKey(record, key)


class Keystore:
    """The loaded keys: one signing key and the public JWKS document built from all published keys."""

    def __init__(self, keys: list[LoadedKey]) -> None:
        kids = [k.record.kid for k in keys]
        if len(set(kids)) != len(kids):
            raise KeystoreError("duplicate kids in the key manifest")
        bad_states = [k.record.kid for k in keys if k.record.state not in STATES]
        if bad_states:
            raise KeystoreError(f"keys with an unknown state: {', '.join(bad_states)}")
        active = [k for k in keys if k.record.state == "active"]
        if len(active) != 1:
            raise KeystoreError(f"exactly one active key is required, found {len(active)}; "
                                "see keys/README.md (`authserver keys list`)")
        self.keys = keys
        self.signing = active[0]
        self.signing_header: dict[str, Any] = {"alg": self.signing.record.alg, "typ": "at+jwt",
                                               "kid": self.signing.record.kid}
        jwks = {"keys": [self._public_jwk(k) for k in keys]}
        self.jwks_body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
        self.jwks_etag = '"' + hashlib.sha256(self.jwks_body).hexdigest()[:32] + '"'
        self.algorithms = sorted({k.record.alg for k in keys})
        #: Public keys of every published key, for verifying our own tokens (introspection, revocation).
        self.verification_keys = KeySet([type(k.key).import_key(self._public_jwk(k)) for k in keys])

    @staticmethod
    def _public_jwk(loaded: LoadedKey) -> dict[str, Any]:
        public = loaded.key.as_dict(private=False)
        public.update({"kid": loaded.record.kid, "use": "sig", "alg": loaded.record.alg})
        return dict(public)

    @classmethod
    def load(cls, keys_dir: Path, passphrase: str | None = None) -> Keystore:
        records = read_manifest(keys_dir)
        if not records:
            raise KeystoreError(f"no signing keys in {keys_dir}: run `authserver keys generate --activate` "
                                "(development generates one automatically)")
        return cls([_load_key(keys_dir, r, passphrase) for r in records])
