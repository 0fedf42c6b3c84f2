"""Settings: one frozen :class:`Settings`, built and validated once from ``AUTHSERVER_*`` when the app is created.

Each component takes its own sub-object (fosite's narrow config interfaces): the token code
:class:`TokenLifetimes`, the throttle :class:`ThrottleLimits`, the key lifecycle :class:`KeySettings`,
the password hasher :class:`Argon2Settings`. Nothing reads the environment at import time or after
start-up. Durations carry their unit in the name (``_TTL`` values are seconds).

Every setting is declared once, on the field that holds it, with its default and its documentation;
the README's settings table is generated from these declarations (``python -m authserver.settings
--markdown``) and tests/server/test_docs.py fails when the README's copy differs. How a declaration works is
in :mod:`.declaration`, the checks and their messages in :mod:`.validation`.

The app keeps its settings in ``app.extensions`` (:func:`current_settings`). ``app.config`` also
holds a mirror of the validated values, keyed by setting name, for code not yet reading them typed;
the package's components read :func:`current_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from flask import Flask
from flask import current_app

from authserver.settings.declaration import Setting
from authserver.settings.declaration import build
from authserver.settings.declaration import declared_settings
from authserver.settings.declaration import setting
from authserver.settings.declaration import values_of
from authserver.settings.validation import DEV_PEPPER
from authserver.settings.validation import KEYS_PASSPHRASE_MIN_LENGTH
from authserver.settings.validation import ROOT
from authserver.settings.validation import ConfigError
from authserver.settings.validation import normalize_database_url
from authserver.settings.validation import validate


@dataclass(frozen=True, kw_only=True)
class TokenLifetimes:
    """Token lifetimes, seconds (oauth/tokens.py); a client's own lifetimes override the defaults."""

    access_token_ttl: int = setting(
        "ACCESS_TOKEN_TTL", int, 600, "access-token lifetime, seconds (per-client override)."
    )
    access_token_max_ttl: int = setting(
        "ACCESS_TOKEN_MAX_TTL",
        int,
        3600,
        "longest access-token lifetime a client may be given; retired keys stay published this long plus leeway.",
    )
    refresh_token_ttl: int = setting(
        "REFRESH_TOKEN_TTL",
        int,
        14 * 86400,
        "refresh-token idle lifetime: each token expires this long after it was issued (per-client override).",
        "`1209600` (14 days)",
    )
    refresh_token_max_lifetime: int = setting(
        "REFRESH_TOKEN_MAX_LIFETIME",
        int,
        30 * 86400,
        "absolute lifetime of a family, counted from the login; rotation never extends it (per-client override).",
        "`2592000` (30 days)",
    )
    refresh_grace_seconds: int = setting(
        "REFRESH_GRACE_SECONDS",
        int,
        10,
        "single-successor grace window (0\u2013300 s): a client whose refresh answer was lost (a killed "
        "worker, a server restart, a flaky network) retries with the same token and gets the same successor; "
        "0 = strict single use. Default from bench/faults; see [docs/refresh-tokens.md](docs/refresh-tokens.md).",
    )


@dataclass(frozen=True, kw_only=True)
class LoginSettings:
    """The authorization endpoint's login sessions and codes (store/login_sessions.py, oauth/codes.py)."""

    session_idle_seconds: int = setting(
        "LOGIN_SESSION_IDLE_SECONDS",
        int,
        1800,
        "a login session (the sign-in page's cookie) ends after this long without an authorization request, "
        "seconds (Keycloak's SSO Session Idle). See [docs/authorization-code.md](docs/authorization-code.md).",
    )
    session_max_seconds: int = setting(
        "LOGIN_SESSION_MAX_SECONDS",
        int,
        36000,
        "a login session ends this long after the sign-in whatever the activity, seconds (Keycloak's SSO "
        "Session Max); families started under it cannot outlive the refresh-token absolute lifetime counted "
        "from the sign-in.",
        "`36000` (10 hours)",
    )
    authorization_code_seconds: int = setting(
        "AUTHORIZATION_CODE_SECONDS",
        int,
        60,
        "lifetime of an authorization code, seconds (1\u201360; RFC 6749 \u00a74.1.2 asks for a short one).",
    )


@dataclass(frozen=True, kw_only=True)
class KeySettings:
    """The signing keys' directory and the timing of their lifecycle (keys/lifecycle.py ``Policy``)."""

    keys_dir: str = setting(
        "KEYS_DIR",
        str,
        "keys",
        "the directory store's signing keys (and what `keys import-directory` reads), see "
        "[docs/keys.md](docs/keys.md).",
    )
    # key-store (issue 17 part 3): where the keys are kept.
    store: str = setting(
        "KEYS_STORE",
        str,
        "directory",
        "where the signing keys are kept: `directory` (`KEYS_DIR`: one host, or a shared volume) or "
        "`database` (the `signing_keys` table: several hosts share nothing but the database). See "
        "[docs/keys.md](docs/keys.md#two-key-stores).",
    )
    passphrase: str | None = setting(
        "KEYS_PASSPHRASE",
        str,
        None,
        "encrypts private keys at rest (PKCS#8); required in production, at least "
        f"{KEYS_PASSPHRASE_MIN_LENGTH} characters (e.g. `openssl rand -hex 32`).",
        "none (dev only)",
        secret=True,
    )
    jwks_max_age: int = setting(
        "JWKS_MAX_AGE",
        int,
        300,
        "upper bound of the JWKS `Cache-Control: max-age`, seconds; a new key signs only "
        "after it has been published this long plus the reload interval.",
    )
    reload_interval: int = setting(
        "KEYS_RELOAD_INTERVAL",
        int,
        10,
        "every server process checks the keys directory this often (seconds) and "
        "reloads on change; no file reads in between.",
    )
    rotation_period: int = setting(
        "KEY_ROTATION_PERIOD",
        int,
        30 * 86400,
        "schedule of `authserver keys rotate --if-due`; 0 disables it.",
        "`2592000` (30 days)",
    )
    #: ``ACCESS_TOKEN_MAX_TTL``: a retired key stays published until every token it signed has expired.
    token_lifetime: int
    #: Production: never write an unencrypted key.
    require_encryption: bool


@dataclass(frozen=True, kw_only=True)
class Argon2Settings:
    """argon2id parameters and the host-wide cap on concurrent hashing (passwords/)."""

    time_cost: int = setting("ARGON2_TIME_COST", int, 2, "argon2id iterations.")
    memory_kib: int = setting(
        "ARGON2_MEMORY_KIB",
        int,
        19456,
        "argon2id memory, KiB (OWASP minimum: 19 MiB with 2 iterations). Measured cost with "
        "the defaults on the 2-core bench machine: 18.8 ms of CPU per verify alone, 19.5 ms "
        "with 2 at once, 23.0 ms with 4 at once (`bench/run` prints it every run).",
    )
    parallelism: int = setting("ARGON2_PARALLELISM", int, 1, "argon2id lanes.")
    max_concurrent: int = setting(
        "ARGON2_MAX_CONCURRENT",
        int,
        None,
        "host-wide cap on argon2 hashes/verifies running at once, across all server "
        "processes on the machine (an exclusive `flock` on one of N slot files; a killed "
        "process frees its slot); the rest wait, sleeping. More verifies at once than "
        "cores only evict each other's caches: each gets slower, none finishes sooner. "
        "0 = no cap.",
        "CPUs available",
    )
    slots_dir: str = setting(
        "ARGON2_SLOTS_DIR",
        str,
        None,
        "the slots' directory; created 0700; if it exists and is not this user's private "
        "directory the cap is off (logged), since anyone able to write there could hold the "
        "slots. Processes sharing it share the cap.",
        "`$XDG_RUNTIME_DIR` or `/tmp`, `/authserver-<uid>-argon2`",
    )


@dataclass(frozen=True, kw_only=True)
class ThrottleLimits:
    """Failed-login limits (throttle/policy.py): per username, per client IP, and for everyone."""

    max_failures: int = setting(
        "BRUTE_FORCE_MAX_FAILURES", int, 5, "failed logins per username within the window before a lockout."
    )
    window: int = setting("BRUTE_FORCE_WINDOW", int, 900, "window of a username's failure count, seconds.")
    wait_increment: int = setting(
        "BRUTE_FORCE_WAIT_INCREMENT", int, 60, "lockout wait added per lockout (60 s, 120 s, 180 s, …)."
    )
    max_wait: int = setting("BRUTE_FORCE_MAX_WAIT", int, 900, "longest temporary lockout, seconds.")
    permanent_after: int = setting(
        "BRUTE_FORCE_PERMANENT_AFTER",
        int,
        0,
        "lockouts within a day after which the lock is permanent until `users unlock`; 0 = never.",
    )
    ip_max_failures: int = setting(
        "IP_MAX_FAILURES", int, 20, "failed logins per client IP within `IP_WINDOW` before `429`."
    )
    ip_window: int = setting("IP_WINDOW", int, 300, "window of the per-IP count, seconds.")
    global_max_failures: int = setting(
        "GLOBAL_MAX_FAILURES",
        int,
        1000,
        "failed logins per minute across everyone before every password attempt gets `429`.",
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the server was configured with, validated; derived defaults filled in."""

    env: str = setting(
        "ENV",
        str,
        "production",
        "`production` (the default wherever the server is deployed) or `development`. Production "
        "refuses to start without an https `ISSUER`, a "
        f"`SECRET_PEPPER`, a `KEYS_PASSPHRASE` of {KEYS_PASSPHRASE_MIN_LENGTH}+ characters, or "
        "keys, and refuses the `demo` commands; development generates a key and uses a public dev "
        "pepper with a loud warning. Development is an explicit opt-in: `make run` sets it, and so "
        "must a shell that runs `authserver` commands against that local server.",
        "`production`",
    )
    issuer: str = setting(
        "ISSUER", str, None, "`iss` of every token; base of the metadata URLs.", "`http://127.0.0.1:8000` (dev)"
    )
    database_url: str = setting(
        "DATABASE_URL", str, None, "`sqlite:///…` or `postgresql://…` (psycopg 3).", "SQLite `instance/authserver.db`"
    )
    default_audience: str = setting(
        "DEFAULT_AUDIENCE", str, None, "`aud` for clients without their own audience.", "the issuer"
    )
    secret_pepper: str = setting(
        "SECRET_PEPPER",
        str,
        None,
        "32+ characters keying the HMAC-SHA-256 of client secrets.",
        "dev pepper (dev only)",
        secret=True,
    )
    scopes: str = setting(
        "SCOPES", str, "read write", "scopes the server knows (`scopes_supported`); clients get a subset."
    )
    client_cache_seconds: int = setting(
        "CLIENT_CACHE_SECONDS",
        int,
        5,
        "how long each process keeps a client's registration in memory (saves a "
        "database round trip per token request); a secret rotated or a client "
        "deleted through another process takes effect within this time. "
        "0 = no cache.",
    )
    introspection_cache_seconds: int = setting(
        "INTROSPECTION_CACHE_SECONDS",
        int,
        2,
        "how long each process trusts that an access token it found active still is (introspection, "
        "userinfo, log out everywhere; saves the revocation look-ups when a resource server asks again); "
        "a revocation through this process voids it at once, one through another process (a worker, "
        "host or CLI run) takes effect within this time. 0 = no cache.",
    )
    password_min_length: int = setting(
        "PASSWORD_MIN_LENGTH",
        int,
        8,
        "minimum length for `users create` / `set-password` (plus a shipped list of common passwords, refused).",
    )
    redis_url: str | None = setting(
        "REDIS_URL",
        str,
        None,
        "Redis for failed-login counters, e.g. `redis://127.0.0.1:6379/0`; default: the database.",
    )
    trusted_proxy_hops: int = setting(
        "TRUSTED_PROXY_HOPS",
        int,
        0,
        "reverse proxies whose `X-Forwarded-For` is trusted (werkzeug ProxyFix); "
        "0 = the socket address. Set it behind any proxy: see [Behind a reverse "
        "proxy](#behind-a-reverse-proxy).",
    )
    max_request_bytes: int = setting("MAX_REQUEST_BYTES", int, 16384, "largest accepted request body.")
    # --- operations (management): logs and traces; the listeners are `authserver serve`'s (its table).
    log_level: str = setting("LOG_LEVEL", str, "INFO", "level of the logs on stderr.")
    log_format: str = setting(
        "LOG_FORMAT",
        str,
        "auto",
        "`json` (one object per line, with `request_id` and, when tracing, `trace_id`), `console` (readable "
        "lines), or `auto`: JSON in production, console in development.",
    )
    otel_endpoint: str | None = setting(
        "OTEL_ENDPOINT",
        str,
        None,
        "OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`): OpenTelemetry traces of each "
        "request, its database statements, argon2 and JWT signing, sent to `<url>/v1/traces`. Unset: no "
        "tracing, nothing of OpenTelemetry imported. Needs the `otel` extra (in the Docker image).",
    )
    cookie_same_site: str = setting(
        "COOKIE_SAME_SITE",
        str,
        "Strict",
        "`SameSite` of the JSON API's refresh cookie: `Strict`, or `Lax`. See [Browser apps](#browser-apps).",
    )
    cookie_path: str = setting(
        "COOKIE_PATH",
        str,
        "/",
        "`Path` of the refresh cookie: `/`, or the prefix the server is mounted under (the cookie is then "
        "`__Secure-` instead of `__Host-`).",
    )
    tokens: TokenLifetimes
    login: LoginSettings
    keys: KeySettings
    argon2: Argon2Settings
    throttle: ThrottleLimits
    #: What start-up logs once (development fallbacks), not a setting.
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        instance_path: str | Path | None = None,
    ) -> Settings:
        """Defaults, then ``AUTHSERVER_*`` variables of ``environ`` (default: the process's), then
        ``overrides`` (keyed by setting name, other keys ignored); validated.

        ``instance_path`` (default: the checkout's ``instance/``) holds the default SQLite database.
        Raises :class:`ConfigError` naming the setting.
        """
        values = load_values(overrides, environ)
        warnings = validate(values, ROOT / "instance" if instance_path is None else Path(instance_path))
        return build(
            cls,
            values,
            warnings=tuple(warnings),
            tokens=build(TokenLifetimes, values),
            login=build(LoginSettings, values),
            keys=build(
                KeySettings,
                values,
                token_lifetime=values["ACCESS_TOKEN_MAX_TTL"],
                require_encryption=values["ENV"] == "production",
            ),
            argon2=build(Argon2Settings, values),
            throttle=build(ThrottleLimits, values),
        )

    def as_config(self) -> dict[str, Any]:
        """The validated values keyed by setting name: the compatibility mirror in ``app.config``."""
        return dict(values_of(self))


#: Every setting by name (without the prefix), in the README's order.
SETTINGS: dict[str, Setting] = {s.name: s for s in declared_settings(Settings)}


def load_values(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then ``AUTHSERVER_*`` variables, then ``overrides``, unvalidated (what an HTTP client reads)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for declared in SETTINGS.values():
        raw = env.get(declared.variable)
        values[declared.name] = declared.default if raw in (None, "") else declared.convert(raw)
    values.update(overrides or {})
    return values


def markdown_table() -> str:
    """The README's settings table, from the declarations."""
    rows = [f"| `{s.variable}` | {s.shown} | {s.doc} |" for s in SETTINGS.values()]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows]) + "\n"


def init_app(app: Flask, settings: Settings) -> None:
    """Store ``settings`` on ``app``; mirror the values into ``app.config`` for code not yet reading them typed."""
    app.extensions["authserver.settings"] = settings
    app.config.update(settings.as_config())


def current_settings(app: Flask | None = None) -> Settings:
    """The settings of ``app``, else of the current app."""
    return (current_app if app is None else app).extensions["authserver.settings"]


__all__ = [
    "DEV_PEPPER",
    "SETTINGS",
    "Argon2Settings",
    "ConfigError",
    "KeySettings",
    "LoginSettings",
    "Setting",
    "Settings",
    "ThrottleLimits",
    "TokenLifetimes",
    "current_settings",
    "init_app",
    "load_values",
    "markdown_table",
    "normalize_database_url",
]
