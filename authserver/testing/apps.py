"""The settings an authserver under test runs with: development mode, a fixed pepper, cheap argon2."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from authserver.keys.keystore import ensure_development_key

PEPPER = "test-pepper-" + "x" * 32
ISSUER = "https://auth.test"
#: Cheap argon2 for speed; the timing-equality measurement lives in bench/ with real parameters.
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024}
#: Strict single use of refresh tokens (the server's default window is 10 s): tests of the window set their own.
STRICT_REFRESH = {"REFRESH_GRACE_SECONDS": 0}


def app_config(url: str, keys_dir: Path, **extra: Any) -> dict[str, Any]:
    """``create_app`` settings for a test app on the database at ``url`` with keys in ``keys_dir``."""
    return {
        "ENV": "development",
        "ISSUER": ISSUER,
        "DATABASE_URL": url,
        "KEYS_DIR": str(keys_dir),
        "SECRET_PEPPER": PEPPER,
        **CHEAP_ARGON2,
        **STRICT_REFRESH,
        **extra,
    }


def server_env(url: str, keys_dir: Path, issuer: str) -> dict[str, str]:
    """The same settings as ``AUTHSERVER_*`` variables, for a server process whose issuer is ``issuer``."""
    return {
        "AUTHSERVER_ENV": "development",
        "AUTHSERVER_ISSUER": issuer,
        "AUTHSERVER_DATABASE_URL": url,
        "AUTHSERVER_KEYS_DIR": str(keys_dir),
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        **{f"AUTHSERVER_{name}": str(value) for name, value in {**CHEAP_ARGON2, **STRICT_REFRESH}.items()},
    }


def development_keys(keys_dir: Path) -> Path:
    """``keys_dir`` (created if missing) holding one active development signing key."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    ensure_development_key(keys_dir, int(time.time()))
    return keys_dir
