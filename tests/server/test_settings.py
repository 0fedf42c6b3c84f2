"""Typed settings: built and validated once per app, frozen, and each component takes its own sub-object."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from authserver import create_app
from authserver.keys.keyring import current_keyring
from authserver.keys.lifecycle import Policy
from authserver.passwords.hasher import current_passwords
from authserver.settings import SETTINGS
from authserver.settings import ConfigError
from authserver.settings import Settings
from authserver.settings import current_settings
from authserver.throttle.policy import current_throttle

PEPPER = "s" * 40
PASSPHRASE = "settings test passphrase"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AUTHSERVER_"):
            monkeypatch.delenv(name)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUTHSERVER_BRUTE_FORCE_MAX_FAILURES", "7")
    return create_app(
        {
            "ENV": "development",  # explicit: production is the default
            "ISSUER": "https://auth.settings.test",
            "SECRET_PEPPER": PEPPER,
            "KEYS_PASSPHRASE": PASSPHRASE,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'settings.db'}",
            "KEYS_DIR": str(tmp_path / "keys"),
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_KIB": 1024,
            "REFRESH_GRACE_SECONDS": 30,
        }
    )


def test_app_holds_one_frozen_settings_from_environment_and_overrides(app):
    with app.app_context():
        settings = current_settings()
    assert settings is current_settings(app)
    assert settings.issuer == "https://auth.settings.test"
    assert settings.default_audience == "https://auth.settings.test"
    assert settings.throttle.max_failures == 7  # from AUTHSERVER_BRUTE_FORCE_MAX_FAILURES
    assert settings.tokens.refresh_grace_seconds == 30  # from the overrides
    assert settings.keys.token_lifetime == settings.tokens.access_token_max_ttl
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.issuer = "https://elsewhere.test"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tokens.access_token_ttl = 1  # type: ignore[misc]


def test_components_take_their_sub_settings(app):
    settings = current_settings(app)
    with app.app_context():
        assert current_throttle().limits is settings.throttle
        assert current_keyring().policy == Policy.from_settings(settings.keys)
        hasher = current_passwords().hasher
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (1, 1024, 1)


def test_settings_repr_never_shows_a_secret(app):
    text = repr(current_settings(app))
    assert PEPPER not in text
    assert PASSPHRASE not in text
    assert "https://auth.settings.test" in text


def test_app_config_mirrors_every_validated_setting(app):
    settings = current_settings(app)
    assert set(settings.as_config()) == set(SETTINGS)
    assert {name: app.config[name] for name in SETTINGS} == settings.as_config()
    assert app.config["ARGON2_MAX_CONCURRENT"] == settings.argon2.max_concurrent >= 1  # derived default filled


def test_settings_load_alone_validates_naming_the_setting():
    with pytest.raises(ConfigError, match="AUTHSERVER_IP_WINDOW must be a positive integer"):
        Settings.load(environ={"AUTHSERVER_ENV": "development", "AUTHSERVER_IP_WINDOW": "0"})
    with pytest.raises(ConfigError, match="AUTHSERVER_ISSUER is required in production"):
        Settings.load(environ={"AUTHSERVER_ENV": "production"})
    assert Settings.load(environ={"AUTHSERVER_ENV": "development"}).env == "development"
    with pytest.raises(ConfigError, match="AUTHSERVER_ISSUER is required in production"):
        Settings.load(environ={})  # production is the default


def test_a_multi_host_postgresql_url_follows_the_primary_across_hosts():
    """Issue 18 (bench/faults failover): libpq's multi-host URL, so servers follow a promoted standby without
    a restart. SQLAlchemy read ``h1:5432,h2:5433`` as one host with the port ``5432,h2:5433`` and the app
    could not start; the URL is rewritten into the ``?host=`` form and reaches psycopg as libpq's lists."""
    from sqlalchemy import create_engine

    settings = Settings.load(
        {
            "ENV": "development",
            "DATABASE_URL": "postgresql://app@10.0.0.1:5432,10.0.0.2:5433/auth?target_session_attrs=read-write",
        },
        environ={},
    )
    engine = create_engine(settings.database_url)
    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    assert (kwargs["host"], kwargs["port"], kwargs["dbname"]) == ("10.0.0.1,10.0.0.2", "5432,5433", "auth")
    assert kwargs["target_session_attrs"] == "read-write"
    assert kwargs["user"] == "app"
    single = Settings.load({"ENV": "development", "DATABASE_URL": "postgresql://app@db:5432/auth"}, environ={})
    assert single.database_url == "postgresql+psycopg://app@db:5432/auth"
