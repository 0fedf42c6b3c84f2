"""Configuration: documented defaults, ``AUTHSERVER_*`` environment loading, start-up validation.

Every setting is read once, in :func:`load_config`, when the app is created; nothing is read at
import time. Durations carry their unit in the name (``_TTL`` values are seconds).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production")

#: Development-only pepper. Using it logs a loud warning; production refuses to start with it.
DEV_PEPPER = "authserver-development-pepper-do-not-use-in-production"

#: Shortest keys passphrase production accepts: it is all that protects the signing keys at rest.
KEYS_PASSPHRASE_MIN_LENGTH = 16

#: name -> (default, type, documentation). The README's settings table is generated from this.
SETTINGS: dict[str, tuple[Any, type, str]] = {
    "ENV": ("development", str, "`development` or `production`. Production refuses unsafe set-ups."),
    "ISSUER": (None, str, "The `iss` of every token and the base of the metadata URLs. "
               "Development default: `http://127.0.0.1:8000`; required in production."),
    "DATABASE_URL": (None, str, "SQLAlchemy URL. Default: SQLite file `instance/authserver.db`. "
                     "`postgresql://` URLs use psycopg 3."),
    "KEYS_DIR": ("keys", str, "Directory of signing keys (PEM files plus `manifest.json`)."),
    "ACCESS_TOKEN_TTL": (600, int, "Access-token lifetime in seconds (per-client override)."),
    "ACCESS_TOKEN_MAX_TTL": (3600, int, "Longest access-token lifetime any client may be given; retired keys "
                             "stay published this long (plus leeway)."),
    "REFRESH_TOKEN_TTL": (14 * 86400, int, "Refresh-token idle lifetime in seconds (per-client override)."),
    "REFRESH_TOKEN_MAX_LIFETIME": (30 * 86400, int, "Absolute lifetime of a refresh-token family, seconds from "
                                   "the login; rotation never extends it (per-client override)."),
    "REFRESH_GRACE_SECONDS": (0, int, "Single-successor grace window, seconds; 0 = strict single use. See "
                              "docs/refresh-tokens.md."),
    "DEFAULT_AUDIENCE": (None, str, "`aud` of access tokens for clients without their own audience. "
                         "Default: the issuer."),
    "SECRET_PEPPER": (None, str, "Server secret keying the HMAC of client secrets. Required in production; "
                      "development falls back to a fixed pepper with a warning."),
    "SCOPES": ("read write", str, "Space-separated scopes this server knows (`scopes_supported`); "
               "each client gets a subset."),
    "KEYS_PASSPHRASE": (None, str, "Passphrase encrypting private keys at rest (PKCS#8). Required in production, "
                        f"at least {KEYS_PASSPHRASE_MIN_LENGTH} characters."),
    "KEYS_RELOAD_INTERVAL": (10, int, "How often each server process checks the keys directory for changes, "
                             "seconds (no file reads in between)."),
    "KEY_ROTATION_PERIOD": (30 * 86400, int, "Scheduled rotation period for `authserver keys rotate --if-due`, "
                            "seconds; 0 disables the schedule."),
    "CLIENT_CACHE_SECONDS": (5, int, "How long each process keeps a client's registration in memory; a secret "
                             "rotated or a client deleted elsewhere takes effect within this time. 0 = no cache."),
    "JWKS_MAX_AGE": (300, int, "`Cache-Control: max-age` of the JWKS document, seconds."),
    "ARGON2_TIME_COST": (2, int, "argon2id iterations (OWASP minimum: 2 with 19 MiB)."),
    "ARGON2_MEMORY_KIB": (19456, int, "argon2id memory in KiB (19 MiB)."),
    "ARGON2_PARALLELISM": (1, int, "argon2id lanes."),
    "ARGON2_MAX_CONCURRENT": (None, int, "Host-wide cap on argon2 verifies running at once, across every server "
                              "process on the machine. Default: the number of CPUs this process may use; "
                              "0 = no cap."),
    "ARGON2_SLOTS_DIR": (None, str, "Private directory (mode 0700) of the lock files behind that cap. Default: "
                         "`authserver-<uid>-argon2` under `$XDG_RUNTIME_DIR`, else the temporary directory."),
    "REDIS_URL": (None, str, "Redis for failed-login counters (e.g. `redis://127.0.0.1:6379/0`); "
                  "default: the database."),
    "BRUTE_FORCE_MAX_FAILURES": (5, int, "Failed logins per username within the window before a lockout."),
    "BRUTE_FORCE_WINDOW": (900, int, "Window for counting a username's failures, seconds."),
    "BRUTE_FORCE_WAIT_INCREMENT": (60, int, "Lockout wait added per lockout, seconds (60, 120, 180, ...)."),
    "BRUTE_FORCE_MAX_WAIT": (900, int, "Longest temporary lockout, seconds."),
    "BRUTE_FORCE_PERMANENT_AFTER": (0, int, "Lockouts (within a day) after which the lock is permanent "
                                    "until `authserver users unlock`; 0 = never."),
    "IP_MAX_FAILURES": (20, int, "Failed logins per client IP within IP_WINDOW before 429."),
    "IP_WINDOW": (300, int, "Window of the per-IP failure count, seconds."),
    "GLOBAL_MAX_FAILURES": (1000, int, "Failed logins per minute, all users and IPs, before every password "
                            "attempt gets 429."),
    "TRUSTED_PROXY_HOPS": (0, int, "Reverse proxies in front of the server whose X-Forwarded-For is trusted; "
                           "0 = use the socket's address."),
    "PASSWORD_MIN_LENGTH": (8, int, "Minimum password length for `users create` / `set-password`."),
    "MAX_REQUEST_BYTES": (16384, int, "Largest accepted request body, bytes."),
    "METRICS": (0, int, "1 serves Prometheus metrics at `/metrics` (event counters, key age, next key step); "
                "keep it off the public network."),
    "LOG_LEVEL": ("INFO", str, "Log level of the `authserver` loggers (JSON lines on stderr)."),
}


class ConfigError(Exception):
    """The configuration is unusable; the message says which setting and why."""


def _convert(name: str, raw: str, kind: type) -> Any:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"AUTHSERVER_{name} must be an integer, got {raw!r}") from None
    return raw


def load_config(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the settings dict: defaults, then ``AUTHSERVER_*`` variables, then ``overrides``."""
    env = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for name, (default, kind, _doc) in SETTINGS.items():
        raw = env.get(f"AUTHSERVER_{name}")
        config[name] = default if raw in (None, "") else _convert(name, raw, kind)
    config.update(overrides or {})
    return config


def finalize_config(config: dict[str, Any], instance_path: str) -> list[str]:
    """Validate ``config`` in place, fill derived defaults and return warnings to log.

    Raises :class:`ConfigError` on anything the server must not start with.
    """
    warnings: list[str] = []
    env = config["ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"AUTHSERVER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"
    if not config["ISSUER"]:
        if production:
            raise ConfigError("AUTHSERVER_ISSUER is required in production (e.g. https://auth.example.com)")
        config["ISSUER"] = "http://127.0.0.1:8000"
    issuer = config["ISSUER"]
    if not issuer.startswith(("https://", "http://")) or issuer.endswith("/") or "?" in issuer or "#" in issuer:
        raise ConfigError("AUTHSERVER_ISSUER must be an http(s) URL without trailing slash, query or fragment: "
                          f"{issuer!r}")
    if production and not issuer.startswith("https://"):
        raise ConfigError("AUTHSERVER_ISSUER must use https in production (RFC 8414 §2)")
    if not config["SECRET_PEPPER"]:
        if production:
            raise ConfigError("AUTHSERVER_SECRET_PEPPER is required in production (32+ random bytes)")
        config["SECRET_PEPPER"] = DEV_PEPPER
        warnings.append("AUTHSERVER_SECRET_PEPPER is not set: using the PUBLIC DEVELOPMENT PEPPER. "
                        "Client secrets hashed now will not verify under a real pepper.")
    elif len(config["SECRET_PEPPER"]) < 32:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER must be at least 32 characters")
    elif production and config["SECRET_PEPPER"] == DEV_PEPPER:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER is the public development pepper")
    if production and not config["KEYS_PASSPHRASE"]:
        raise ConfigError("AUTHSERVER_KEYS_PASSPHRASE is required in production: private keys are encrypted at rest")
    if production and len(config["KEYS_PASSPHRASE"]) < KEYS_PASSPHRASE_MIN_LENGTH:
        raise ConfigError(f"AUTHSERVER_KEYS_PASSPHRASE must be at least {KEYS_PASSPHRASE_MIN_LENGTH} characters "
                          "in production")
    if not config["KEYS_PASSPHRASE"]:
        warnings.append("AUTHSERVER_KEYS_PASSPHRASE is not set: private keys are stored unencrypted (development).")
    if not isinstance(config["KEY_ROTATION_PERIOD"], int) or config["KEY_ROTATION_PERIOD"] < 0:
        raise ConfigError("AUTHSERVER_KEY_ROTATION_PERIOD must be a non-negative integer (0 disables the schedule)")
    if config["ARGON2_MAX_CONCURRENT"] is None:
        config["ARGON2_MAX_CONCURRENT"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    if not config["ARGON2_SLOTS_DIR"]:
        base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        config["ARGON2_SLOTS_DIR"] = str(Path(base) / f"authserver-{os.geteuid()}-argon2")
    for name in ("BRUTE_FORCE_PERMANENT_AFTER", "TRUSTED_PROXY_HOPS", "CLIENT_CACHE_SECONDS", "ARGON2_MAX_CONCURRENT"):
        if not isinstance(config[name], int) or config[name] < 0:
            raise ConfigError(f"AUTHSERVER_{name} must be a non-negative integer")
    for name in ("PASSWORD_MIN_LENGTH", "BRUTE_FORCE_MAX_FAILURES", "BRUTE_FORCE_WINDOW", "BRUTE_FORCE_WAIT_INCREMENT",
                 "BRUTE_FORCE_MAX_WAIT",
                 "IP_MAX_FAILURES", "IP_WINDOW", "GLOBAL_MAX_FAILURES",
                 "ACCESS_TOKEN_TTL", "ACCESS_TOKEN_MAX_TTL", "KEYS_RELOAD_INTERVAL", "REFRESH_TOKEN_TTL",
                 "JWKS_MAX_AGE", "ARGON2_TIME_COST",
                 "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM", "MAX_REQUEST_BYTES"):
        if not isinstance(config[name], int) or config[name] <= 0:
            raise ConfigError(f"AUTHSERVER_{name} must be a positive integer, got {config[name]!r}")
    if not isinstance(config["REFRESH_GRACE_SECONDS"], int) or not 0 <= config["REFRESH_GRACE_SECONDS"] <= 300:
        raise ConfigError("AUTHSERVER_REFRESH_GRACE_SECONDS must be an integer from 0 to 300")
    if config["REFRESH_TOKEN_MAX_LIFETIME"] <= 0 or not isinstance(config["REFRESH_TOKEN_MAX_LIFETIME"], int):
        raise ConfigError("AUTHSERVER_REFRESH_TOKEN_MAX_LIFETIME must be a positive integer")
    if config["ACCESS_TOKEN_TTL"] > config["ACCESS_TOKEN_MAX_TTL"]:
        raise ConfigError("AUTHSERVER_ACCESS_TOKEN_TTL exceeds AUTHSERVER_ACCESS_TOKEN_MAX_TTL")
    rotation = config["KEY_ROTATION_PERIOD"]
    if rotation and rotation < 2 * (config["JWKS_MAX_AGE"] + config["KEYS_RELOAD_INTERVAL"]):
        raise ConfigError("AUTHSERVER_KEY_ROTATION_PERIOD must be at least twice JWKS_MAX_AGE + KEYS_RELOAD_INTERVAL")
    if not config["DEFAULT_AUDIENCE"]:
        config["DEFAULT_AUDIENCE"] = issuer
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "authserver.db")
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    if production and config["DATABASE_URL"].startswith("sqlite"):
        warnings.append("SQLite in production: fine for one host, not for several.")
    return warnings


def normalize_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError("AUTHSERVER_DATABASE_URL must be a sqlite: or postgresql: URL, "
                          f"got scheme {url.split(':')[0]!r}")
    return url
