"""The directory key store (PEM files plus ``manifest.json`` in ``KEYS_DIR``) and the loaded keys.

:class:`DirectoryStore` is the :class:`~authserver.keys.storage.KeyStore` of ``AUTHSERVER_KEYS_STORE=directory``:
one host, or hosts sharing the directory on one volume; every change holds the directory's ``flock``.
:class:`Keystore` is what a server process uses, whichever store it came from: the keystore hands the
token issuer only the active key (joserfc would pick a random key if given a whole set), and the public
JWKS is a separate document built once per load. What a key is (records, states, opening a PEM) is in
:mod:`authserver.keys.records`.
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
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from authserver.keys.records import ALGORITHMS
from authserver.keys.records import STATES
from authserver.keys.records import KeyRecord
from authserver.keys.records import KeystoreError
from authserver.keys.records import LoadedKey
from authserver.keys.records import generate_private_key
from authserver.keys.records import is_encrypted
from authserver.keys.records import open_key
from authserver.keys.records import require_passphrase

MANIFEST = "manifest.json"
LOCK = ".lock"

__all__ = [
    "ALGORITHMS",
    "LOCK",
    "MANIFEST",
    "STATES",
    "Change",
    "DirectoryStore",
    "KeyRecord",
    "Keystore",
    "KeystoreError",
    "LoadedKey",
    "changing",
    "ensure_development_key",
    "generate_private_key",
    "is_encrypted",
    "read_manifest",
    "write_manifest",
]


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

    def put(self, loaded: LoadedKey) -> KeyRecord:
        """List a key exactly as recorded elsewhere (an import): its state and times are kept."""
        record = KeyRecord(**asdict(loaded.record))
        if any(r.kid == record.kid for r in self.records):
            raise KeystoreError(f"key {record.kid} already exists")
        _write_atomic(self.keys_dir / record.filename, loaded.key.as_pem(private=True, password=self.passphrase))
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
    require_passphrase(passphrase, require_encryption)
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
    return open_key(record, pem, passphrase, f"key file {path}")


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


def _manifest_signature(keys_dir: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(keys_dir / MANIFEST)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class DirectoryStore:
    """The keys directory as a :class:`~authserver.keys.storage.KeyStore`."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir

    def describe(self) -> str:
        return f"the keys directory {self.keys_dir}"

    def records(self) -> list[KeyRecord]:
        return read_manifest(self.keys_dir)

    def load(self, passphrase: str | None) -> Keystore:
        return Keystore.load(self.keys_dir, passphrase)

    def version(self) -> tuple[int, int, int] | None:
        """The manifest's inode, mtime and size: it is replaced atomically on every change."""
        return _manifest_signature(self.keys_dir)

    def changing(
        self, passphrase: str | None, require_encryption: bool = False
    ) -> contextlib.AbstractContextManager[Change]:
        return changing(self.keys_dir, passphrase, require_encryption)
