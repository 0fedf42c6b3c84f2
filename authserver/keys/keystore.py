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


def is_encrypted(pem: bytes) -> bool:
    """Whether a PEM private key is encrypted (PKCS#8 ``ENCRYPTED PRIVATE KEY`` or legacy ``Proc-Type``)."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def _encrypted_files(keys_dir: Path) -> list[Path]:
    """Every encrypted PEM file in the directory, listed in the manifest or not."""
    found = []
    for path in sorted(keys_dir.glob("*.pem")):
        with contextlib.suppress(OSError):
            if is_encrypted(path.read_bytes()):
                found.append(path)
    return found


class Change:
    """The records of the keys directory while :func:`changing` holds its lock; every write goes through here."""

    def __init__(self, keys_dir: Path, passphrase: str | None, records: list[KeyRecord]) -> None:
        self.keys_dir = keys_dir
        self.passphrase = passphrase
        self.records = records
        #: Files of removed keys, deleted only once the changed directory has been proven to load.
        self.doomed: list[Path] = []

    def add(self, key: RSAKey | ECKey, alg: str, state: str, now: int) -> KeyRecord:
        """Write ``key`` as PEM (PKCS#8, encrypted with the passphrase) and list it in the manifest."""
        record = KeyRecord(
            kid=key.thumbprint(), alg=alg, state=state, created_at=now, activated_at=now if state == "active" else None
        )
        if any(r.kid == record.kid for r in self.records):
            raise KeystoreError(f"key {record.kid} already exists")
        if self.passphrase is None and _encrypted_files(self.keys_dir):
            raise KeystoreError(
                f"{self.keys_dir} holds encrypted keys: refusing to write an unencrypted key "
                "beside them (missing passphrase: set AUTHSERVER_KEYS_PASSPHRASE)"
            )
        _write_atomic(self.keys_dir / record.filename, key.as_pem(private=True, password=self.passphrase))
        self.records.append(record)
        self.save()
        return record

    def save(self) -> None:
        write_manifest(self.keys_dir, self.records)

    def remove(self, kids: list[str]) -> None:
        """Unpublish ``kids`` now; their files are deleted when the change is over."""
        self.records = [r for r in self.records if r.kid not in kids]
        self.save()
        self.doomed += [self.keys_dir / f"{kid}.pem" for kid in kids]


def _check_writable(keys_dir: Path, records: list[KeyRecord], passphrase: str | None, require_encryption: bool) -> None:
    """Refuse before anything is written: the passphrase must open every listed key, and an
    unencrypted key may never join encrypted ones (nor be written at all where encryption is required)."""
    if passphrase is None and require_encryption:
        raise KeystoreError(
            "missing passphrase: production never writes an unencrypted key (set AUTHSERVER_KEYS_PASSPHRASE)"
        )
    for record in records:
        _load_key(keys_dir, record, passphrase)
    if passphrase is None:
        encrypted = _encrypted_files(keys_dir)
        if encrypted:
            raise KeystoreError(
                f"missing passphrase: {encrypted[0]} is encrypted; refusing to write an unencrypted "
                "key beside encrypted ones (set AUTHSERVER_KEYS_PASSPHRASE)"
            )


def _restore(keys_dir: Path, manifest: bytes | None, names: set[str]) -> None:
    """Put the manifest back as it was and delete key files written since."""
    path = keys_dir / MANIFEST
    current = path.read_bytes() if path.exists() else None
    if current != manifest:
        if manifest is None:
            path.unlink()
        else:
            _write_atomic(path, manifest, mode=0o644)
    for new in sorted(set(os.listdir(keys_dir)) - names):
        if new.endswith(".pem") or new.startswith(".tmp-"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(keys_dir / new)


@contextlib.contextmanager
def changing(keys_dir: Path, passphrase: str | None, require_encryption: bool = False) -> Iterator[Change]:
    """Change the keys directory all or nothing, under its lock.

    Before anything is written, every listed key must load with ``passphrase``: a wrong or missing
    one fails here and the directory is untouched. After the change the directory must load as a
    server loads it (:meth:`Keystore.load`); if it does not, or the change raises, the manifest is
    put back and new key files removed. Files of removed keys are deleted only after that check.
    """
    passphrase = passphrase or None
    with locked(keys_dir):
        records = read_manifest(keys_dir)
        _check_writable(keys_dir, records, passphrase, require_encryption)
        path = keys_dir / MANIFEST
        before = path.read_bytes() if path.exists() else None
        names = set(os.listdir(keys_dir))
        change = Change(keys_dir, passphrase, records)
        try:
            yield change
            if (path.read_bytes() if path.exists() else None) != before:
                try:
                    Keystore.load(keys_dir, passphrase)
                except KeystoreError as exc:
                    raise KeystoreError(
                        f"the changed keys directory would not load, so the change was undone: {exc}"
                    ) from None
        except BaseException:
            _restore(keys_dir, before, names)
            raise
        for doomed in change.doomed:
            with contextlib.suppress(FileNotFoundError):
                doomed.unlink()


def ensure_development_key(keys_dir: Path, now: int, passphrase: str | None = None) -> KeyRecord | None:
    """Create one active RS256 key if the directory has none; safe when many workers start at once."""
    with changing(keys_dir, passphrase) as change:
        if change.records:
            return None
        return change.add(generate_private_key("RS256"), "RS256", "active", now)


def _load_key(keys_dir: Path, record: KeyRecord, passphrase: str | None) -> LoadedKey:
    path = keys_dir / record.filename
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeystoreError(f"cannot read key file {path}: {exc.strerror}") from None
    if record.alg not in ALGORITHMS:
        raise KeystoreError(f"key {record.kid}: unsupported alg {record.alg!r}")
    key_cls = ECKey if ALGORITHMS[record.alg] == "EC" else RSAKey
    encrypted = is_encrypted(pem)
    if encrypted and not passphrase:
        raise KeystoreError(
            f"cannot load key file {path}: it is encrypted and no passphrase is given "
            "(missing passphrase: set AUTHSERVER_KEYS_PASSPHRASE)"
        )
    if not encrypted and passphrase:
        raise KeystoreError(
            f"cannot load key file {path}: it is not encrypted but a passphrase is given "
            "(AUTHSERVER_KEYS_PASSPHRASE); a keys directory holds encrypted keys only, or in "
            "development unencrypted keys only"
        )
    try:
        key = key_cls.import_key(pem, parameters=None, password=passphrase or None)
    except Exception as exc:  # joserfc/cryptography raise several types for bad PEM or passphrase
        reason = "wrong passphrase (AUTHSERVER_KEYS_PASSPHRASE)" if encrypted else "not a PEM private key"
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
            raise KeystoreError(
                f"exactly one active key is required, found {len(active)}; see docs/keys.md (`authserver keys list`)"
            )
        self.keys = keys
        self.signing = active[0]
        self.signing_header: dict[str, Any] = {
            "alg": self.signing.record.alg,
            "typ": "at+jwt",
            "kid": self.signing.record.kid,
        }
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
            raise KeystoreError(
                f"no signing keys in {keys_dir}: run `authserver keys generate --activate` "
                "(development generates one automatically)"
            )
        return cls([_load_key(keys_dir, r, passphrase) for r in records])
