"""Settings: one frozen :class:`Settings`, built and validated once from ``AUTHSERVER_*`` when the app is created.

Each component takes its own sub-object (fosite's narrow config interfaces): the token code
:class:`TokenLifetimes`, the throttle :class:`ThrottleLimits`, the key lifecycle :class:`KeySettings`,
the password hasher :class:`Argon2Settings`. Nothing reads the environment at import time or after
start-up. Durations carry their unit in the name (``_TTL`` values are seconds).

Every setting is declared once, on the field that holds it, with its default and its documentation;
the README's settings table is generated from these declarations (``python -m authserver.settings
--markdown``) and tests/test_docs.py fails when the README's copy differs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar
from typing import get_type_hints

from flask import Flask
from flask import current_app

ENVIRONMENTS = ("development", "production")

#: Development-only pepper. Using it logs a loud warning; production refuses to start with it.
DEV_PEPPER = "authserver-development-pepper-do-not-use-in-production"

#: Shortest keys passphrase production accepts: it is all that protects the signing keys at rest.
KEYS_PASSPHRASE_MIN_LENGTH = 16

#: A relative ``KEYS_DIR`` is relative to the checkout (the directory holding the package).
_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """The configuration is unusable; the message says which setting and why."""


@dataclass(frozen=True)
class Setting:
    """One ``AUTHSERVER_*`` variable: its type, default and the README's documentation of it."""

    name: str  # without the prefix
    kind: type  # int or str
    default: Any
    doc: str
    shown_default: str | None = None  # the README's default column, where the bare default would mislead

    @property
    def variable(self) -> str:
        return f"AUTHSERVER_{self.name}"

    @property
    def shown(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        return "none" if self.default is None else f"`{self.default}`"


def _setting(name: str, kind: type, default: Any, doc: str, shown: str | None = None, *, secret: bool = False) -> Any:
    # A secret stays out of repr(), so a logged or printed Settings never shows it.
    return field(repr=not secret, metadata={"setting": Setting(name, kind, default, doc, shown)})


@dataclass(frozen=True)
class TokenLifetimes:
    """Token lifetimes, seconds (oauth/tokens.py); a client's own lifetimes override the defaults."""

    access_token_ttl: int = _setting("ACCESS_TOKEN_TTL", int, 600,
                                     "access-token lifetime, seconds (per-client override).")
    access_token_max_ttl: int = _setting("ACCESS_TOKEN_MAX_TTL", int, 3600,
                                         "longest access-token lifetime a client may be given; retired keys stay "
                                         "published this long plus leeway.")
    refresh_token_ttl: int = _setting("REFRESH_TOKEN_TTL", int, 14 * 86400,
                                      "refresh-token idle lifetime: each token expires this long after it was issued "
                                      "(per-client override).", "`1209600` (14 days)")
    refresh_token_max_lifetime: int = _setting("REFRESH_TOKEN_MAX_LIFETIME", int, 30 * 86400,
                                               "absolute lifetime of a family, counted from the login; rotation never "
                                               "extends it (per-client override).", "`2592000` (30 days)")
    refresh_grace_seconds: int = _setting("REFRESH_GRACE_SECONDS", int, 0,
                                          "single-successor grace window (0\u2013300 s); 0 = strict single use. See "
                                          "[docs/refresh-tokens.md](docs/refresh-tokens.md).")


@dataclass(frozen=True)
class KeySettings:
    """The signing keys' directory and the timing of their lifecycle (keys/lifecycle.py ``Policy``)."""

    keys_dir: str = _setting("KEYS_DIR", str, "keys", "signing keys, see [keys/README.md](keys/README.md).")
    passphrase: str | None = _setting("KEYS_PASSPHRASE", str, None,
                                      "encrypts private keys at rest (PKCS#8); required in production, at least "
                                      f"{KEYS_PASSPHRASE_MIN_LENGTH} characters (e.g. `openssl rand -hex 32`).",
                                      "none (dev only)", secret=True)
    jwks_max_age: int = _setting("JWKS_MAX_AGE", int, 300,
                                 "upper bound of the JWKS `Cache-Control: max-age`, seconds; a new key signs only "
                                 "after it has been published this long plus the reload interval.")
    reload_interval: int = _setting("KEYS_RELOAD_INTERVAL", int, 10,
                                    "every server process checks the keys directory this often (seconds) and "
                                    "reloads on change; no file reads in between.")
    rotation_period: int = _setting("KEY_ROTATION_PERIOD", int, 30 * 86400,
                                    "schedule of `authserver keys rotate --if-due`; 0 disables it.",
                                    "`2592000` (30 days)")
    #: ``ACCESS_TOKEN_MAX_TTL``: a retired key stays published until every token it signed has expired.
    token_lifetime: int
    #: Production: never write an unencrypted key.
    require_encryption: bool


@dataclass(frozen=True)
class Argon2Settings:
    """argon2id parameters and the host-wide cap on concurrent hashing (passwords/)."""

    time_cost: int = _setting("ARGON2_TIME_COST", int, 2, "argon2id iterations.")
    memory_kib: int = _setting("ARGON2_MEMORY_KIB", int, 19456,
                               "argon2id memory, KiB (OWASP minimum: 19 MiB with 2 iterations). Measured cost with "
                               "the defaults on the 2-core bench machine: 18.8 ms of CPU per verify alone, 19.5 ms "
                               "with 2 at once, 23.0 ms with 4 at once (`bench/run` prints it every run).")
    parallelism: int = _setting("ARGON2_PARALLELISM", int, 1, "argon2id lanes.")
    max_concurrent: int = _setting("ARGON2_MAX_CONCURRENT", int, None,
                                   "host-wide cap on argon2 hashes/verifies running at once, across all server "
                                   "processes on the machine (an exclusive `flock` on one of N slot files; a killed "
                                   "process frees its slot); the rest wait, sleeping. More verifies at once than "
                                   "cores only evict each other's caches: each gets slower, none finishes sooner. "
                                   "0 = no cap.", "CPUs available")
    slots_dir: str = _setting("ARGON2_SLOTS_DIR", str, None,
                              "the slots' directory; created 0700; if it exists and is not this user's private "
                              "directory the cap is off (logged), since anyone able to write there could hold the "
                              "slots. Processes sharing it share the cap.",
                              "`$XDG_RUNTIME_DIR` or `/tmp`, `/authserver-<uid>-argon2`")


@dataclass(frozen=True)
class ThrottleLimits:
    """Failed-login limits (throttle/policy.py): per username, per client IP, and for everyone."""

    max_failures: int = _setting("BRUTE_FORCE_MAX_FAILURES", int, 5,
                                 "failed logins per username within the window before a lockout.")
    window: int = _setting("BRUTE_FORCE_WINDOW", int, 900, "window of a username's failure count, seconds.")
    wait_increment: int = _setting("BRUTE_FORCE_WAIT_INCREMENT", int, 60,
                                   "lockout wait added per lockout (60 s, 120 s, 180 s, …).")
    max_wait: int = _setting("BRUTE_FORCE_MAX_WAIT", int, 900, "longest temporary lockout, seconds.")
    permanent_after: int = _setting("BRUTE_FORCE_PERMANENT_AFTER", int, 0,
                                    "lockouts within a day after which the lock is permanent until `users unlock`; "
                                    "0 = never.")
    ip_max_failures: int = _setting("IP_MAX_FAILURES", int, 20,
                                    "failed logins per client IP within `IP_WINDOW` before `429`.")
    ip_window: int = _setting("IP_WINDOW", int, 300, "window of the per-IP count, seconds.")
    global_max_failures: int = _setting("GLOBAL_MAX_FAILURES", int, 1000,
                                        "failed logins per minute across everyone before every password attempt "
                                        "gets `429`.")


@dataclass(frozen=True)
class Settings:
    """Everything the server was configured with, validated; derived defaults filled in."""

    env: str = _setting("ENV", str, "development",
                        "`development` or `production`. Production refuses to start without an https `ISSUER`, a "
                        f"`SECRET_PEPPER`, a `KEYS_PASSPHRASE` of {KEYS_PASSPHRASE_MIN_LENGTH}+ characters, or "
                        "keys, and refuses the `demo` commands; development generates a key and uses a public dev "
                        "pepper with a loud warning. `make run` sets `development` explicitly.",
                        "`development` (the Docker image: `production`)")
    issuer: str = _setting("ISSUER", str, None, "`iss` of every token; base of the metadata URLs.",
                           "`http://127.0.0.1:8000` (dev)")
    database_url: str = _setting("DATABASE_URL", str, None, "`sqlite:///…` or `postgresql://…` (psycopg 3).",
                                 "SQLite `instance/authserver.db`")
    default_audience: str = _setting("DEFAULT_AUDIENCE", str, None, "`aud` for clients without their own audience.",
                                     "the issuer")
    secret_pepper: str = _setting("SECRET_PEPPER", str, None,
                                  "32+ characters keying the HMAC-SHA-256 of client secrets.", "dev pepper (dev only)",
                                  secret=True)
    scopes: str = _setting("SCOPES", str, "read write",
                           "scopes the server knows (`scopes_supported`); clients get a subset.")
    client_cache_seconds: int = _setting("CLIENT_CACHE_SECONDS", int, 5,
                                         "how long each process keeps a client's registration in memory (saves a "
                                         "database round trip per token request); a secret rotated or a client "
                                         "deleted through another process takes effect within this time. "
                                         "0 = no cache.")
    password_min_length: int = _setting("PASSWORD_MIN_LENGTH", int, 8,
                                        "minimum length for `users create` / `set-password` (plus a shipped list of "
                                        "common passwords, refused).")
    redis_url: str | None = _setting("REDIS_URL", str, None,
                                     "Redis for failed-login counters, e.g. `redis://127.0.0.1:6379/0`; default: "
                                     "the database.")
    trusted_proxy_hops: int = _setting("TRUSTED_PROXY_HOPS", int, 0,
                                       "reverse proxies whose `X-Forwarded-For` is trusted (werkzeug ProxyFix); "
                                       "0 = the socket address. Set it behind any proxy: see [Behind a reverse "
                                       "proxy](#behind-a-reverse-proxy).")
    max_request_bytes: int = _setting("MAX_REQUEST_BYTES", int, 16384, "largest accepted request body.")
    metrics: int = _setting("METRICS", int, 0,
                            "`1` serves Prometheus metrics at `/metrics`: event counters "
                            "(`authserver_login_failed_total`, `authserver_refresh_token_reused_total`, …) and key "
                            "gauges (`authserver_active_key_age_seconds`, `authserver_next_key_step_in_seconds`, "
                            "`authserver_key_reload_healthy`: 0 while a changed keys directory fails to load). Keep "
                            "it off the public network.")
    log_level: str = _setting("LOG_LEVEL", str, "INFO", "level of the JSON logs on stderr.")
    tokens: TokenLifetimes
    keys: KeySettings
    argon2: Argon2Settings
    throttle: ThrottleLimits
    #: What start-up logs once (development fallbacks), not a setting.
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
             instance_path: str | Path | None = None) -> Settings:
        """Defaults, then ``AUTHSERVER_*`` variables of ``environ`` (default: the process's), then
        ``overrides`` (keyed by setting name, other keys ignored); validated.

        ``instance_path`` (default: the checkout's ``instance/``) holds the default SQLite database.
        Raises :class:`ConfigError` naming the setting.
        """
        values = load_values(overrides, environ)
        warnings = _validate(values, _ROOT / "instance" if instance_path is None else Path(instance_path))
        return _build(cls, values, warnings=tuple(warnings), tokens=_build(TokenLifetimes, values),
                      keys=_build(KeySettings, values, token_lifetime=values["ACCESS_TOKEN_MAX_TTL"],
                                  require_encryption=values["ENV"] == "production"),
                      argon2=_build(Argon2Settings, values), throttle=_build(ThrottleLimits, values))

    def as_config(self) -> dict[str, Any]:
        """The validated values keyed by setting name: the compatibility mirror in ``app.config``."""
        return dict(_values_of(self))


_D = TypeVar("_D")


def _declared(cls: type) -> Iterator[tuple[str, Setting | type]]:
    """``(field name, its Setting or its sub-settings class)``, in declaration order."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        if "setting" in f.metadata:
            yield f.name, f.metadata["setting"]
        elif is_dataclass(hints[f.name]):
            yield f.name, hints[f.name]


def _all_settings(cls: type) -> Iterator[Setting]:
    for _name, item in _declared(cls):
        yield from _all_settings(item) if isinstance(item, type) else (item,)


#: Every setting by name (without the prefix), in the README's order.
SETTINGS: dict[str, Setting] = {s.name: s for s in _all_settings(Settings)}


def _values_of(obj: Any) -> Iterator[tuple[str, Any]]:
    for name, item in _declared(type(obj)):
        value = getattr(obj, name)
        yield from _values_of(value) if isinstance(item, type) else ((item.name, value),)


def _build(cls: type[_D], values: Mapping[str, Any], **derived: Any) -> _D:
    """``cls`` with each declared field from ``values`` and the rest from ``derived``."""
    kwargs = {f.name: values[f.metadata["setting"].name] if "setting" in f.metadata else derived[f.name]
              for f in fields(cls) if "setting" in f.metadata or f.name in derived}  # type: ignore[arg-type]
    return cls(**kwargs)


def _convert(setting: Setting, raw: str) -> Any:
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{setting.variable} must be an integer, got {raw!r}") from None
    return raw


def load_values(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then ``AUTHSERVER_*`` variables, then ``overrides``, unvalidated (what an HTTP client reads)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS.values():
        raw = env.get(setting.variable)
        values[setting.name] = setting.default if raw in (None, "") else _convert(setting, raw)
    values.update(overrides or {})
    return values


def _validate(values: dict[str, Any], instance_path: Path) -> list[str]:
    """Check ``values`` in place, fill derived defaults and return the warnings to log."""
    _check_environment(values)
    warnings = _check_secrets(values)
    _check_numbers(values)
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
        raise ConfigError("AUTHSERVER_ISSUER must be an http(s) URL without trailing slash, query or fragment: "
                          f"{issuer!r}")
    if production and not issuer.startswith("https://"):
        raise ConfigError("AUTHSERVER_ISSUER must use https in production (RFC 8414 §2)")


def _check_secrets(values: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    production = values["ENV"] == "production"
    if not values["SECRET_PEPPER"]:
        if production:
            raise ConfigError("AUTHSERVER_SECRET_PEPPER is required in production (32+ random bytes)")
        values["SECRET_PEPPER"] = DEV_PEPPER
        warnings.append("AUTHSERVER_SECRET_PEPPER is not set: using the PUBLIC DEVELOPMENT PEPPER. "
                        "Client secrets hashed now will not verify under a real pepper.")
    elif len(values["SECRET_PEPPER"]) < 32:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER must be at least 32 characters")
    elif production and values["SECRET_PEPPER"] == DEV_PEPPER:
        raise ConfigError("AUTHSERVER_SECRET_PEPPER is the public development pepper")
    if production and not values["KEYS_PASSPHRASE"]:
        raise ConfigError("AUTHSERVER_KEYS_PASSPHRASE is required in production: private keys are encrypted at rest")
    if production and len(values["KEYS_PASSPHRASE"]) < KEYS_PASSPHRASE_MIN_LENGTH:
        raise ConfigError(f"AUTHSERVER_KEYS_PASSPHRASE must be at least {KEYS_PASSPHRASE_MIN_LENGTH} characters "
                          "in production")
    if not values["KEYS_PASSPHRASE"]:
        values["KEYS_PASSPHRASE"] = None
        warnings.append("AUTHSERVER_KEYS_PASSPHRASE is not set: private keys are stored unencrypted (development).")
    return warnings


_NON_NEGATIVE = ("BRUTE_FORCE_PERMANENT_AFTER", "TRUSTED_PROXY_HOPS", "CLIENT_CACHE_SECONDS", "ARGON2_MAX_CONCURRENT")
_POSITIVE = ("PASSWORD_MIN_LENGTH", "BRUTE_FORCE_MAX_FAILURES", "BRUTE_FORCE_WINDOW", "BRUTE_FORCE_WAIT_INCREMENT",
             "BRUTE_FORCE_MAX_WAIT", "IP_MAX_FAILURES", "IP_WINDOW", "GLOBAL_MAX_FAILURES", "ACCESS_TOKEN_TTL",
             "ACCESS_TOKEN_MAX_TTL", "KEYS_RELOAD_INTERVAL", "REFRESH_TOKEN_TTL", "JWKS_MAX_AGE", "ARGON2_TIME_COST",
             "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM", "MAX_REQUEST_BYTES")


def _check_numbers(values: dict[str, Any]) -> None:
    if not isinstance(values["KEY_ROTATION_PERIOD"], int) or values["KEY_ROTATION_PERIOD"] < 0:
        raise ConfigError("AUTHSERVER_KEY_ROTATION_PERIOD must be a non-negative integer (0 disables the schedule)")
    if values["ARGON2_MAX_CONCURRENT"] is None:
        values["ARGON2_MAX_CONCURRENT"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
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
    if values["ACCESS_TOKEN_TTL"] > values["ACCESS_TOKEN_MAX_TTL"]:
        raise ConfigError("AUTHSERVER_ACCESS_TOKEN_TTL exceeds AUTHSERVER_ACCESS_TOKEN_MAX_TTL")
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
    values["KEYS_DIR"] = str(_ROOT / values["KEYS_DIR"])  # an absolute KEYS_DIR stays as it is
    if not values["REDIS_URL"]:
        values["REDIS_URL"] = None


def normalize_database_url(url: str) -> str:
    """Point plain ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError("AUTHSERVER_DATABASE_URL must be a sqlite: or postgresql: URL, "
                          f"got scheme {url.split(':')[0]!r}")
    return url


def markdown_table() -> str:
    """The README's settings table, from the declarations above."""
    rows = [f"| `{s.variable}` | {s.shown} | {s.doc} |" for s in SETTINGS.values()]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows]) + "\n"


def init_app(app: Flask, settings: Settings) -> None:
    """Store ``settings`` on ``app``; mirror the values into ``app.config`` for code not yet reading them typed."""
    app.extensions["authserver.settings"] = settings
    app.config.update(settings.as_config())


def current_settings(app: Flask | None = None) -> Settings:
    """The settings of ``app``, else of the current app."""
    return (current_app if app is None else app).extensions["authserver.settings"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m authserver.settings --markdown")
    sys.stdout.write(markdown_table())
