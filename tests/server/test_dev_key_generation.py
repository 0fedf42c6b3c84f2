"""Development key generation under concurrent start-up, and refusal of inconsistent keystores."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from authserver.keys.keystore import MANIFEST
from authserver.keys.keystore import Keystore
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import generate_private_key

WORKERS = 4
RFC_7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
    "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJ"
    "ZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIq"
    "bw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
NOW = 1_800_000_000

# Each process imports everything first, then waits for the go-file, so all four race on the lock.
RACER = """
import sys, time
from pathlib import Path
from authserver.keys.keystore import ensure_development_key
keys_dir, go = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
record = ensure_development_key(keys_dir, int(sys.argv[3]))
print(record.kid if record else "none", flush=True)
"""


def _b64u(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint_of(n: int, e: int) -> str:
    """RFC 7638 by hand: SHA-256 of the canonical JSON of the required members, base64url unpadded."""
    canonical = json.dumps({"e": _b64u(e), "kty": "RSA", "n": _b64u(n)}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def rfc7638_thumbprint(pem: bytes) -> str:
    """Computed from the PEM's public numbers, independent of joserfc."""
    numbers = load_pem_private_key(pem, password=None).public_key().public_numbers()
    return thumbprint_of(numbers.n, numbers.e)


def test_concurrent_starts_create_exactly_one_active_key(tmp_path):
    keys_dir, go = tmp_path / "keys", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(keys_dir), str(go), str(NOW)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        go.touch()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [p.returncode for p in procs] == [0] * WORKERS, [err for _out, err in outputs]
    results = [out.strip() for out, _err in outputs]
    created = [r for r in results if r != "none"]
    assert len(created) == 1, results
    assert results.count("none") == WORKERS - 1

    manifest = json.loads((keys_dir / MANIFEST).read_text())
    assert len(manifest["keys"]) == 1
    entry = manifest["keys"][0]
    assert entry["kid"] == created[0]
    assert entry["state"] == "active"
    assert entry["alg"] == "RS256"
    assert entry["created_at"] == NOW

    pems = list(keys_dir.glob("*.pem"))
    assert pems == [keys_dir / f"{entry['kid']}.pem"]
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    assert entry["kid"] == rfc7638_thumbprint(pems[0].read_bytes())
    assert not list(keys_dir.glob(".tmp-*")), "temporary files left behind"

    keystore = Keystore.load(keys_dir)
    assert keystore.signing.record.kid == entry["kid"]


def _write_keystore(keys_dir: Path, entries: list[tuple[str, str, bytes]]) -> None:
    """entries: (kid, state, pem)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for kid, state, pem in entries:
        (keys_dir / f"{kid}.pem").write_bytes(pem)
        records.append(
            {
                "kid": kid,
                "alg": "RS256",
                "state": state,
                "created_at": NOW,
                "activated_at": NOW if state == "active" else None,
                "retired_at": None,
            }
        )
    (keys_dir / MANIFEST).write_text(json.dumps({"keys": records}))


@pytest.fixture(scope="module")
def two_keys() -> list[tuple[str, bytes]]:
    keys = [generate_private_key("RS256") for _ in range(2)]
    return [(k.thumbprint(), k.as_pem(private=True)) for k in keys]


def test_keystore_with_well_formed_manifest_loads(tmp_path, two_keys):
    (kid_a, pem_a), (kid_b, pem_b) = two_keys
    _write_keystore(tmp_path, [(kid_a, "active", pem_a), (kid_b, "next", pem_b)])
    keystore = Keystore.load(tmp_path)
    assert keystore.signing.record.kid == kid_a
    assert {k["kid"] for k in json.loads(keystore.jwks_body)["keys"]} == {kid_a, kid_b}


def test_keystore_without_active_key_is_refused(tmp_path, two_keys):
    (kid_a, pem_a), (kid_b, pem_b) = two_keys
    _write_keystore(tmp_path, [(kid_a, "next", pem_a), (kid_b, "retired", pem_b)])
    with pytest.raises(KeystoreError, match="exactly one active key is required, found 0"):
        Keystore.load(tmp_path)


def test_keystore_with_two_active_keys_is_refused(tmp_path, two_keys):
    (kid_a, pem_a), (kid_b, pem_b) = two_keys
    _write_keystore(tmp_path, [(kid_a, "active", pem_a), (kid_b, "active", pem_b)])
    with pytest.raises(KeystoreError, match="exactly one active key is required, found 2"):
        Keystore.load(tmp_path)


def test_keystore_whose_pem_does_not_match_its_kid_is_refused(tmp_path, two_keys):
    (kid_a, _pem_a), (kid_b, pem_b) = two_keys
    _write_keystore(tmp_path, [(kid_a, "active", pem_b)])
    with pytest.raises(KeystoreError) as excinfo:
        Keystore.load(tmp_path)
    message = str(excinfo.value)
    assert "does not match its kid" in message
    assert kid_a in message and kid_b in message


def test_keystore_with_empty_manifest_is_refused(tmp_path):
    _write_keystore(tmp_path, [])
    with pytest.raises(KeystoreError, match="no signing keys"):
        Keystore.load(tmp_path)


def test_keystore_with_missing_pem_is_refused(tmp_path, two_keys):
    (kid_a, pem_a), _ = two_keys
    _write_keystore(tmp_path, [(kid_a, "active", pem_a)])
    (tmp_path / f"{kid_a}.pem").unlink()
    with pytest.raises(KeystoreError, match="cannot read key file"):
        Keystore.load(tmp_path)


def test_corrupt_manifest_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(KeystoreError, match="not a valid key manifest"):
        Keystore.load(tmp_path)


def test_thumbprint_helper_reproduces_the_rfc_7638_example():
    """Guards the hand-written computation above with the RFC's own example (RFC 7638 §3.1)."""
    n = int.from_bytes(base64.urlsafe_b64decode(RFC_7638_N + "=" * (-len(RFC_7638_N) % 4)), "big")
    assert thumbprint_of(n, 65537) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
