"""Keys at rest: encrypted PKCS#8 with the passphrase, mode 0600, a clear failure on a wrong one;
PS256 and ES256 as options; concurrent operations serialised by the directory lock."""

from __future__ import annotations

import multiprocessing
import stat
import time
from pathlib import Path

import pytest

from authserver.keys import lifecycle
from authserver.keys.keystore import Keystore
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import ensure_development_key
from authserver.keys.keystore import read_manifest

PASS = "correct horse battery staple"


def _policy(**kw) -> lifecycle.Policy:
    return lifecycle.Policy(jwks_max_age=300, reload_interval=10, token_lifetime=3600, passphrase=PASS, **kw)


def test_key_files_are_encrypted_pkcs8_with_mode_0600(tmp_path: Path):
    record = ensure_development_key(tmp_path, int(time.time()), PASS)
    pem = (tmp_path / record.filename).read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE((tmp_path / record.filename).stat().st_mode) == 0o600
    assert Keystore.load(tmp_path, PASS).signing.record.kid == record.kid


@pytest.mark.parametrize(("passphrase", "problem"), [(None, "missing passphrase"), ("wrong", "wrong passphrase")])
def test_wrong_or_missing_passphrase_fails_clearly(tmp_path: Path, passphrase, problem):
    ensure_development_key(tmp_path, int(time.time()), PASS)
    with pytest.raises(KeystoreError, match=problem):
        Keystore.load(tmp_path, passphrase)


def test_a_passphrase_for_unencrypted_keys_fails_clearly(tmp_path: Path):
    ensure_development_key(tmp_path, int(time.time()))
    with pytest.raises(KeystoreError, match="not encrypted but a passphrase is given"):
        Keystore.load(tmp_path, PASS)


def test_production_refuses_to_start_without_a_keys_passphrase(tmp_path: Path):
    from authserver import create_app
    from authserver.settings import ConfigError

    with pytest.raises(ConfigError, match="AUTHSERVER_KEYS_PASSPHRASE"):
        create_app(
            {
                "ENV": "production",
                "ISSUER": "https://auth.example",
                "SECRET_PEPPER": "p" * 40,
                "KEYS_DIR": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path}/db",
            }
        )


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_ps256_and_es256_keys_sign_tokens_that_verify_against_the_jwks(tmp_path: Path, alg):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    now = int(time.time())
    policy = _policy(alg=alg)
    ensure_development_key(tmp_path, now, PASS)
    new = lifecycle.generate(tmp_path, policy, now)
    lifecycle.activate(tmp_path, new.kid, policy, lifecycle.activation_eligible_at(new, policy))
    keystore = Keystore.load(tmp_path, PASS)
    assert keystore.signing_header["alg"] == alg
    token = jwt.encode(keystore.signing_header, {"sub": "x"}, keystore.signing.key, algorithms=[alg])
    import json

    public = KeySet.import_key_set(json.loads(keystore.jwks_body))
    assert jwt.decode(token, public, algorithms=[alg]).claims == {"sub": "x"}


def _generate_many(keys_dir: str, count: int) -> None:
    policy = _policy()
    for _ in range(count):
        lifecycle.generate(Path(keys_dir), policy, int(time.time()))


def test_concurrent_operations_on_one_directory_lose_no_key(tmp_path: Path):
    ensure_development_key(tmp_path, int(time.time()), PASS)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_generate_many, args=(str(tmp_path), 2)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    records = read_manifest(tmp_path)
    assert len(records) == 1 + 4 * 2, "every generate under the lock kept the others' entries"
    assert all((tmp_path / r.filename).exists() for r in records)
