"""Start-up validation: bad settings stop ``create_app`` with a message naming the setting."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from authserver import create_app
from authserver.keys.keystore import KeystoreError
from authserver.keys.keystore import ensure_development_key
from authserver.settings import DEV_PEPPER
from authserver.settings import ConfigError

PEPPER = "p" * 40
PASSPHRASE = "production keys passphrase"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets counts: drop any AUTHSERVER_* the shell exported."""
    for name in list(os.environ):
        if name.startswith("AUTHSERVER_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def encrypted_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("encrypted-keys")
    assert ensure_development_key(path, 1_800_000_000, PASSPHRASE) is not None
    return path


@pytest.fixture
def production(tmp_path: Path, encrypted_keys_dir: Path) -> dict[str, Any]:
    """A valid production configuration; each test breaks one setting."""
    return {
        "ENV": "production",
        "ISSUER": "https://auth.example.test",
        "SECRET_PEPPER": PEPPER,
        "KEYS_PASSPHRASE": PASSPHRASE,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'config.db'}",
        "KEYS_DIR": str(encrypted_keys_dir),
    }


def test_valid_production_configuration_starts(production):
    app = create_app(production)
    assert app.config["ENV"] == "production"
    assert app.config["ISSUER"] == "https://auth.example.test"
    assert app.config["DEFAULT_AUDIENCE"] == "https://auth.example.test"


@pytest.mark.parametrize(
    ("change", "setting", "detail"),
    [
        ({"ENV": "staging"}, "AUTHSERVER_ENV", "staging"),
        ({"ENV": "Production"}, "AUTHSERVER_ENV", "Production"),
        ({"ISSUER": None}, "AUTHSERVER_ISSUER", "required in production"),
        ({"ISSUER": ""}, "AUTHSERVER_ISSUER", "required in production"),
        ({"SECRET_PEPPER": None}, "AUTHSERVER_SECRET_PEPPER", "required in production"),
        ({"KEYS_PASSPHRASE": None}, "AUTHSERVER_KEYS_PASSPHRASE", "required in production"),
        ({"KEYS_PASSPHRASE": "k"}, "AUTHSERVER_KEYS_PASSPHRASE", "at least 16 characters"),
        ({"KEYS_PASSPHRASE": "k" * 15}, "AUTHSERVER_KEYS_PASSPHRASE", "at least 16 characters"),
        ({"ISSUER": "http://auth.example.test"}, "AUTHSERVER_ISSUER", "https"),
        ({"ISSUER": "https://auth.example.test/"}, "AUTHSERVER_ISSUER", "trailing slash"),
        ({"SECRET_PEPPER": "x" * 31}, "AUTHSERVER_SECRET_PEPPER", "at least 32"),
        ({"SECRET_PEPPER": DEV_PEPPER}, "AUTHSERVER_SECRET_PEPPER", "development pepper"),
        ({"DATABASE_URL": "mysql://db.example.test/auth"}, "AUTHSERVER_DATABASE_URL", "mysql"),
        ({"ACCESS_TOKEN_TTL": 0}, "AUTHSERVER_ACCESS_TOKEN_TTL", "positive"),
        ({"AUTHORIZATION_CODE_SECONDS": 61}, "AUTHSERVER_AUTHORIZATION_CODE_SECONDS", "1 to 60"),
        ({"AUTHORIZATION_CODE_SECONDS": 0}, "AUTHSERVER_AUTHORIZATION_CODE_SECONDS", "1 to 60"),
        ({"LOGIN_SESSION_IDLE_SECONDS": 0}, "AUTHSERVER_LOGIN_SESSION_IDLE_SECONDS", "positive"),
        (
            {"LOGIN_SESSION_IDLE_SECONDS": 7200, "LOGIN_SESSION_MAX_SECONDS": 3600},
            "AUTHSERVER_LOGIN_SESSION_IDLE_SECONDS",
            "exceeds",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_setting_raises_config_error_naming_it(production, change, setting, detail):
    with pytest.raises(ConfigError) as excinfo:
        create_app({**production, **change})
    message = str(excinfo.value)
    assert setting in message
    assert detail in message


def test_short_pepper_is_refused_in_development_too(production):
    with pytest.raises(ConfigError, match="AUTHSERVER_SECRET_PEPPER"):
        create_app({**production, "ENV": "development", "SECRET_PEPPER": "short"})


def test_non_integer_ttl_from_environment_raises_config_error(production, monkeypatch):
    monkeypatch.setenv("AUTHSERVER_ACCESS_TOKEN_TTL", "10m")
    with pytest.raises(ConfigError) as excinfo:
        create_app(production)
    assert "AUTHSERVER_ACCESS_TOKEN_TTL" in str(excinfo.value)
    assert "'10m'" in str(excinfo.value)


def test_settings_come_from_environment(production, monkeypatch):
    monkeypatch.setenv("AUTHSERVER_ACCESS_TOKEN_TTL", "120")
    monkeypatch.setenv("AUTHSERVER_SCOPES", "read write admin")
    app = create_app(production)
    assert app.config["ACCESS_TOKEN_TTL"] == 120
    assert app.config["SCOPES"] == "read write admin"


def test_console_script_reports_configuration_error_and_exits_non_zero(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env["AUTHSERVER_ENV"] = "production"
    script = Path(sys.executable).parent / "authserver"
    assert script.exists(), f"console script missing at {script}"
    proc = subprocess.run(
        [str(script), "users", "list"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "configuration error" in proc.stderr
    assert "AUTHSERVER_ISSUER" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_development_without_pepper_logs_a_warning(production):
    logger = logging.getLogger("authserver")  # it does not propagate to the root logger, so caplog cannot see it
    handler = _Collect()
    logger.addHandler(handler)
    try:
        app = create_app({**production, "ENV": "development", "SECRET_PEPPER": None})
    finally:
        logger.removeHandler(handler)
    assert app.config["SECRET_PEPPER"] == DEV_PEPPER
    warnings = [r.getMessage() for r in handler.records if r.levelno == logging.WARNING]
    assert any("AUTHSERVER_SECRET_PEPPER" in m and "DEVELOPMENT PEPPER" in m for m in warnings), warnings


def test_development_with_pepper_logs_no_pepper_warning(production):
    logger = logging.getLogger("authserver")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        create_app({**production, "ENV": "development"})
    finally:
        logger.removeHandler(handler)
    assert not [r for r in handler.records if "PEPPER" in r.getMessage()]


def test_production_with_empty_keys_dir_refuses_and_generates_nothing(production, tmp_path):
    empty = tmp_path / "empty-keys"
    empty.mkdir()
    with pytest.raises(KeystoreError, match="no signing keys"):
        create_app({**production, "KEYS_DIR": str(empty)})
    assert not (empty / "manifest.json").exists()
    assert list(empty.glob("*.pem")) == []


def test_development_with_empty_keys_dir_generates_one_key(production, tmp_path):
    empty = tmp_path / "dev-keys"
    app = create_app({**production, "ENV": "development", "KEYS_DIR": str(empty)})
    pems = list(empty.glob("*.pem"))
    assert len(pems) == 1
    kids = {k["kid"] for k in app.test_client().get("/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {pems[0].stem}


def test_without_any_setting_the_server_is_production_and_refuses_an_unsafe_start():
    """Production is the default: nothing set means no public pepper and no generated plain-text key."""
    with pytest.raises(ConfigError, match=r"AUTHSERVER_ISSUER|AUTHSERVER_SECRET_PEPPER|AUTHSERVER_KEYS_PASSPHRASE"):
        create_app({})
