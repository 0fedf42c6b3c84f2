"""Request ids and log formats: every response carries an ``X-Request-Id``, taken from the client only
behind a trusted proxy, and every log line written for the request carries the same id; development
commands print readable lines, production JSON."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from authserver.telemetry import JsonFormatter
from authserver.telemetry.logs import RequestIds


@pytest.fixture
def lines():
    """What the ``authserver`` logger writes, formatted as production does (JSON)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIds())  # as on the server's own handler
    logger = logging.getLogger("authserver")
    logger.addHandler(handler)
    yield lambda: [json.loads(JsonFormatter().format(r)) for r in records]
    logger.removeHandler(handler)


def test_every_response_has_a_new_request_id_and_the_log_lines_carry_it(client, make_user, make_client, oauth, lines):
    make_user()
    reg = make_client()
    first = oauth.password(reg, password="wrong password here")
    second = client.get("/healthz")
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]
    failed = [line for line in lines() if line.get("event") == "login.failed"]
    assert failed and failed[0]["request_id"] == ids[0]


def test_a_client_cannot_choose_its_request_id_without_a_trusted_proxy(client):
    resp = client.get("/healthz", headers={"X-Request-Id": "chosen-by-client"})
    assert resp.headers["X-Request-Id"] != "chosen-by-client"


class TestBehindATrustedProxy:
    @pytest.fixture
    def config_overrides(self):
        return {"TRUSTED_PROXY_HOPS": 1}

    def test_the_proxys_request_id_is_kept_and_echoed(self, client):
        resp = client.get("/.well-known/jwks.json", headers={"X-Request-Id": "edge-7f3a.b2:9"})
        assert resp.headers["X-Request-Id"] == "edge-7f3a.b2:9"

    @pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", 'quote"d', "é"])
    def test_a_malformed_request_id_is_replaced(self, client, bad):
        resp = client.get("/healthz", headers={"X-Request-Id": bad})
        assert resp.headers["X-Request-Id"] != bad and len(resp.headers["X-Request-Id"]) == 32


def _cli_stderr(env_name: str, database, keys_dir) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env.update(
        AUTHSERVER_ENV=env_name,
        AUTHSERVER_DATABASE_URL=database.url,
        AUTHSERVER_KEYS_DIR=str(keys_dir),
        AUTHSERVER_ISSUER="https://auth.test",
        AUTHSERVER_SECRET_PEPPER="p" * 40,
    )
    done = subprocess.run(
        [sys.executable, "-m", "authserver.cli.console", "keys", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stderr


def test_development_commands_print_readable_warnings_not_json(database, keys_dir):
    stderr = _cli_stderr("development", database, keys_dir)
    warnings = [line for line in stderr.splitlines() if "KEYS_PASSPHRASE is not set" in line]
    assert warnings, stderr
    assert all(" WARNING authserver: " in line and not line.startswith("{") for line in warnings)


def test_production_logs_are_json_lines(app):
    from authserver.telemetry.logs import ConsoleFormatter
    from authserver.telemetry.logs import formatter_for

    assert isinstance(formatter_for("auto", production=True), JsonFormatter)
    assert isinstance(formatter_for("auto", production=False), ConsoleFormatter)
    assert isinstance(formatter_for("json", production=False), JsonFormatter)
