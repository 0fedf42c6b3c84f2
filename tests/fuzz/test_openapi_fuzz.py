"""Schemathesis against docs/openapi.yaml, on a live ``authserver serve`` (the production command), on each backend.

Every phase runs: the description's examples, coverage (boundaries, missing and wrong parameters),
fuzzing, and the stateful phase following the description's links (log in → refresh → revoke →
introspect, JSON log in → refresh → log out, log in → userinfo / log out everywhere). The checks
(tests/fuzz/schemathesis.toml): no 5xx, every response as the description says (status code, content
type, headers, body schema), invalid input refused, a revoked token stays revoked, a missing or bad
credential refused, undeclared methods 405 with ``Allow``.

Budget: ``AUTHSERVER_FUZZ_SECONDS`` (default 25) per backend for the whole run and ``--max-examples`` per
operation and round, so the test takes about 75 s on the 2-core box. The seed is random, printed, and set
with ``AUTHSERVER_FUZZ_SEED`` to replay a run: ``AUTHSERVER_FUZZ_SEED=<seed> pytest -m fuzz``. Run it alone
with ``pytest -m fuzz``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Database
from conftest import LiveServer
from conftest import start_server

from authserver import create_app
from authserver.admin import clients
from authserver.admin import users
from authserver.testing.apps import app_config

pytestmark = [pytest.mark.fuzz, pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTION = ROOT / "docs" / "openapi.yaml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SECONDS = int(os.environ.get("AUTHSERVER_FUZZ_SECONDS", "25"))
MAX_EXAMPLES = 40
SEED = int(os.environ.get("AUTHSERVER_FUZZ_SEED") or secrets.randbelow(2**31))


@pytest.fixture(scope="module")
def server(database: Database, keys_dir: Path) -> Iterator[LiveServer]:
    # Failed logins are most of what a fuzzer sends: ceilings this high keep the per-IP and global 429 (described,
    # and checked when it comes) from hiding every other answer for the rest of the run.
    live = start_server(
        database, keys_dir, workers=2, AUTHSERVER_IP_MAX_FAILURES="1000000", AUTHSERVER_GLOBAL_MAX_FAILURES="1000000"
    )
    try:
        yield live
    finally:
        live.stop()


def accounts(database: Database, keys_dir: Path) -> dict[str, str]:
    """A user, a confidential first-party client (every grant it may have, introspection) and a public
    client for the JSON log in, as the ``FUZZ_*`` variables tests/fuzz/schemathesis_hooks.py reads."""
    suffix = uuid.uuid4().hex[:8]
    username, password = f"fuzz-{suffix}", f"fuzz password {suffix}"
    app = create_app(app_config(database.url, keys_dir))
    with app.app_context():
        users.create_user(username, password)
        confidential, secret = clients.create_client(
            name="fuzz app",
            client_id=f"fuzz-app-{suffix}",
            grant_types=["password", "refresh_token", "client_credentials"],
            scopes=["read", "write", "openid", "profile"],
            first_party=True,
            introspect=True,
        )
        public, _ = clients.create_client(
            name="fuzz spa",
            client_id=f"fuzz-spa-{suffix}",
            grant_types=["password", "refresh_token"],
            scopes=["read"],
            first_party=True,
            public=True,
        )
    assert secret is not None
    return {
        "FUZZ_USERNAME": username,
        "FUZZ_PASSWORD": password,
        "FUZZ_CLIENT_ID": confidential.client_id,
        "FUZZ_CLIENT_SECRET": secret,
        "FUZZ_PUBLIC_CLIENT_ID": public.client_id,
    }


def test_every_response_conforms_to_the_openapi_description(
    server: LiveServer, database: Database, keys_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    replay = f"AUTHSERVER_FUZZ_SEED={SEED} pytest -m fuzz"
    with capsys.disabled():  # the seed is shown on a green run too
        print(f"\nschemathesis on {database.backend}: seed {SEED} (replay: {replay})")
    env = {
        **os.environ,
        **accounts(database, keys_dir),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "NO_COLOR": "1",
    }
    argv = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        str(DESCRIPTION),
        "--url",
        server.url,
        "--seed",
        str(SEED),
        "--max-time",
        str(SECONDS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SECONDS + 120)
    output = done.stdout + done.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    summary = output[output.find("=") :] if "=" in output else output
    assert done.returncode == 0, (
        f"schemathesis found failures on {database.backend} (seed {SEED}; replay: {replay}); "
        f"full output in {tmp_path / 'schemathesis.txt'}\n{summary[-12000:]}\n--- server log ---\n{server.log()}"
    )
    # The run really went through the stateful links, not just the single requests.
    assert "Stateful" in output and "API Links:" in output, output[-4000:]
