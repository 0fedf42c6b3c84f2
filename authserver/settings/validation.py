"""Start-up validation of the settings' values: fail fast, naming the ``AUTHSERVER_*`` setting and why.

It works on the flat values keyed by setting name (defaults, then the environment, then overrides),
fills the derived defaults in place and returns the warnings start-up logs once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

ENVIRONMENTS = ("development", "production")

#: Development-only pepper. Using it logs a loud warning; production refuses to start with it.
DEV_PEPPER = "authserver-development-pepper-do-not-use-in-production"

#: Shortest keys passphrase production accepts: it is all that protects the signing keys at rest.
KEYS_PASSPHRASE_MIN_LENGTH = 16

#: A relative ``KEYS_DIR`` is relative to the checkout (the directory holding the package).
ROOT = Path(__file__).resolve().parents[2]


class ConfigError(Exception):
    """The configuration is unusable; the message says which setting and why."""


def _check_operations(values: dict[str, Any]) -> None:
    """The log format and the tracing endpoint (authserver.telemetry)."""
    if values["LOG_FORMAT"] not in ("auto", "json", "console"):
        raise ConfigError(f"AUTHSERVER_LOG_FORMAT must be auto, json or console, got {values['LOG_FORMAT']!r}")
    endpoint = values["OTEL_ENDPOINT"]
    if endpoint:
        if not str(endpoint).startswith(("http://", "https://")) or any(c in str(endpoint) for c in "?# "):
            raise ConfigError(f"AUTHSERVER_OTEL_ENDPOINT must be an http(s) URL without query, got {endpoint!r}")
        try:
            import opentelemetry.sdk.trace  # noqa: F401 (only checks the extra is installed)
        except ImportError:
            raise ConfigError(
                "AUTHSERVER_OTEL_ENDPOINT is set but OpenTelemetry is not installed: pip install 'authserver[otel]'"
            ) from None


def validate(values: dict[str, Any], instance_path: Path) -> list[str]:
    """Check ``values`` in place, fill derived defaults and return the warnings to log."""
    _check_environment(values)
    warnings = _check_secrets(values)
    _check_numbers(values)
    _check_operations(values)
    _fill_defaults(values, instance_path)
    if values["ENV"] == "production" and values["DATABASE_URL"].startswith("sqlite"):
        warnings.append("SQLite in production: fine for one host, not for several.")
    return warnings


def _check_environment(values: dict[str, Any]) -> None:
    env = values["ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"AUTHSERVER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"
    if not values["ISSUER"]:
        if production:
            raise ConfigError("AUTHSERVER_ISSUER is required in production (e.g. https://auth.example.com)")
        values["ISSUER"] = "http://127.0.0.1:8000"
    issuer = values["ISSUER"]
    if not issuer.startswith(("https://", "http://")) or issuer.endswith("/") or "?" in issuer or "#" in issuer:
        raise ConfigError(
            f"AUTHSERVER_ISSUER must be an http(s) URL without trailing slash, query or fragment: {issuer!r}"
        )
    if production and not issuer.startswith("https://"):
        raise ConfigError("AUTHSERVER_ISSUER must use https in production (RFC 8414 §2)")


def _check_secrets(values: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    production = values["ENV"] == "production"
    if not values["SECRET_PEPPER"]:
        if production:
            raise ConfigError("AUTHSERVER_SECRET_PEPPER is required in production (32+ random bytes)")
        values["SECRET_PEPPER"] = DEV_PEPPER
        warnings.append(
            "AUTHSERVER_SECRET_PEPPER is not set: using the PUBLIC DEVELOPMENT PEPPER. "
            "Client secrets hashed now will not verify under a real pepper."
        )
    elif len(values["SECRET_PEPPER"]) < 32:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER must be at least 32 characters")
    elif production and values["SECRET_PEPPER"] == DEV_PEPPER:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER is the public development pepper")
    if production and not values["KEYS_PASSPHRASE"]:
        raise ConfigError("AUTHSERVER_KEYS_PASSPHRASE is required in production: private keys are encrypted at rest")
    if production and len(values["KEYS_PASSPHRASE"]) < KEYS_PASSPHRASE_MIN_LENGTH:
        raise ConfigError(
            f"AUTHSERVER_KEYS_PASSPHRASE must be at least {KEYS_PASSPHRASE_MIN_LENGTH} characters in production"
        )
    if not values["KEYS_PASSPHRASE"]:
        values["KEYS_PASSPHRASE"] = None
        warnings.append("AUTHSERVER_KEYS_PASSPHRASE is not set: private keys are stored unencrypted (development).")
    return warnings


_NON_NEGATIVE = (
    "BRUTE_FORCE_PERMANENT_AFTER",
    "TRUSTED_PROXY_HOPS",
    "CLIENT_CACHE_SECONDS",
    "ARGON2_MAX_CONCURRENT",
    "INTROSPECTION_CACHE_SECONDS",
)
_POSITIVE = (
    "PASSWORD_MIN_LENGTH",
    "BRUTE_FORCE_MAX_FAILURES",
    "BRUTE_FORCE_WINDOW",
    "BRUTE_FORCE_WAIT_INCREMENT",
    "BRUTE_FORCE_MAX_WAIT",
    "IP_MAX_FAILURES",
    "IP_WINDOW",
    "GLOBAL_MAX_FAILURES",
    "ACCESS_TOKEN_TTL",
    "ACCESS_TOKEN_MAX_TTL",
    "KEYS_RELOAD_INTERVAL",
    "REFRESH_TOKEN_TTL",
    "JWKS_MAX_AGE",
    "ARGON2_TIME_COST",
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "MAX_REQUEST_BYTES",
    "LOGIN_SESSION_IDLE_SECONDS",
    "LOGIN_SESSION_MAX_SECONDS",
)


def _check_numbers(values: dict[str, Any]) -> None:
    if not isinstance(values["KEY_ROTATION_PERIOD"], int) or values["KEY_ROTATION_PERIOD"] < 0:
        raise ConfigError("AUTHSERVER_KEY_ROTATION_PERIOD must be a non-negative integer (0 disables the schedule)")
    if values["ARGON2_MAX_CONCURRENT"] is None:
        values["ARGON2_MAX_CONCURRENT"] = (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        )
    for name in _NON_NEGATIVE:
        if not isinstance(values[name], int) or values[name] < 0:
            raise ConfigError(f"AUTHSERVER_{name} must be a non-negative integer")
    for name in _POSITIVE:
        if not isinstance(values[name], int) or values[name] <= 0:
            raise ConfigError(f"AUTHSERVER_{name} must be a positive integer, got {values[name]!r}")
    if not isinstance(values["REFRESH_GRACE_SECONDS"], int) or not 0 <= values["REFRESH_GRACE_SECONDS"] <= 300:
        raise ConfigError("AUTHSERVER_REFRESH_GRACE_SECONDS must be an integer from 0 to 300")
    if not isinstance(values["REFRESH_TOKEN_MAX_LIFETIME"], int) or values["REFRESH_TOKEN_MAX_LIFETIME"] <= 0:
        raise ConfigError("AUTHSERVER_REFRESH_TOKEN_MAX_LIFETIME must be a positive integer")
    if not isinstance(values["AUTHORIZATION_CODE_SECONDS"], int) or not 1 <= values["AUTHORIZATION_CODE_SECONDS"] <= 60:
        raise ConfigError("AUTHSERVER_AUTHORIZATION_CODE_SECONDS must be an integer from 1 to 60")
    if values["LOGIN_SESSION_IDLE_SECONDS"] > values["LOGIN_SESSION_MAX_SECONDS"]:
        raise ConfigError("AUTHSERVER_LOGIN_SESSION_IDLE_SECONDS exceeds AUTHSERVER_LOGIN_SESSION_MAX_SECONDS")
    if values["ACCESS_TOKEN_TTL"] > values["ACCESS_TOKEN_MAX_TTL"]:
        raise ConfigError("AUTHSERVER_ACCESS_TOKEN_TTL exceeds AUTHSERVER_ACCESS_TOKEN_MAX_TTL")
    if values["COOKIE_SAME_SITE"] not in ("Strict", "Lax"):
        raise ConfigError("AUTHSERVER_COOKIE_SAME_SITE must be Strict or Lax")
    if not str(values["COOKIE_PATH"]).startswith("/") or any(c in values["COOKIE_PATH"] for c in ";, \t"):
        raise ConfigError("AUTHSERVER_COOKIE_PATH must be a path starting with /")
    if values["KEYS_STORE"] not in ("directory", "database"):
        raise ConfigError(f"AUTHSERVER_KEYS_STORE must be directory or database, got {values['KEYS_STORE']!r}")
    rotation = values["KEY_ROTATION_PERIOD"]
    if rotation and rotation < 2 * (values["JWKS_MAX_AGE"] + values["KEYS_RELOAD_INTERVAL"]):
        raise ConfigError("AUTHSERVER_KEY_ROTATION_PERIOD must be at least twice JWKS_MAX_AGE + KEYS_RELOAD_INTERVAL")


def _fill_defaults(values: dict[str, Any], instance_path: Path) -> None:
    if not values["ARGON2_SLOTS_DIR"]:
        base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        values["ARGON2_SLOTS_DIR"] = str(Path(base) / f"authserver-{os.geteuid()}-argon2")
    if not values["DEFAULT_AUDIENCE"]:
        values["DEFAULT_AUDIENCE"] = values["ISSUER"]
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = "sqlite:///" + str(instance_path / "authserver.db")
    values["DATABASE_URL"] = normalize_database_url(values["DATABASE_URL"])
    values["KEYS_DIR"] = str(ROOT / values["KEYS_DIR"])  # an absolute KEYS_DIR stays as it is
    if not values["REDIS_URL"]:
        values["REDIS_URL"] = None


def normalize_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver; libpq's multi-host form
    (``postgresql://user@h1:5432,h2:5432/db?target_session_attrs=read-write``, docs/faults.md) becomes the
    ``?host=h1:5432&host=h2:5432`` form SQLAlchemy parses (it reads a host list as one host with a bad port)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg://"):
        return _multi_host(url)
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(
            f"AUTHSERVER_DATABASE_URL must be a sqlite: or postgresql: URL, got scheme {url.split(':')[0]!r}"
        )
    return url


def _multi_host(url: str) -> str:
    """``…//user@h1:p1,h2:p2/db?q`` as ``…//user@/db?host=h1:p1&host=h2:p2&q``; any other URL unchanged."""
    scheme, rest = url.split("://", 1)
    authority, _slash, tail = rest.partition("/")
    userinfo, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    path, _question, query = tail.partition("?")
    params = "&".join(f"host={quote(host, safe=':[]')}" for host in hosts.split(",") if host)
    return f"{scheme}://{userinfo}{at}/{path}?{params}{'&' + query if query else ''}"
