"""Every way we serve the authorization server - ``make run``, the Dockerfile's ``CMD``, docker-compose.yml -
runs ``authserver serve``, whose access log records the path and never the query string: credentials a
client wrongly puts in the URL (``POST /oauth/token?password=...``, ignored by the server) are not written
to it. The example resource service still runs under gunicorn with the shared config
(authserver/gunicorn_config.py), which logs paths only too. The image is production unless told
otherwise; ``make run`` is development, explicitly.

No Docker engine here: the Dockerfile's ``CMD`` runs locally with the image's ``ENV``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml
from conftest import PEPPER
from conftest import ROOT
from conftest import _free_port
from conftest import wait_healthy

from authserver.keys.keystore import ensure_development_key

VENV_BIN = Path(sys.executable).parent
SHARED_CONFIG = "python:authserver.gunicorn_config"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    return [tuple(line.strip().split(None, 1)) for line in joined.splitlines() if line.strip()]  # type: ignore[misc]


def dockerfile_cmd() -> list[str]:
    return json.loads([args for name, args in dockerfile_instructions() if name == "CMD"][-1])


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in dockerfile_instructions():
        if name == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def make_run_commands() -> dict[str, list[str]]:
    """The server commands ``make run`` would run (``make -n``: printed, not run), by what they serve: each
    printed gunicorn or ``authserver serve`` line up to its shell operator (``&``, ``;``) or continuation."""
    out = subprocess.run(["make", "-n", "-s", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    commands = {}
    for line in out.splitlines():
        first = line.split(" ", 1)[0]
        if "gunicorn" in first or (first.endswith("authserver") and " serve" in line):
            lexer = shlex.shlex(line.removesuffix("\\"), posix=True, punctuation_chars="&;")
            lexer.whitespace_split = True
            words = list(lexer)
            argv = words[: next((i for i, w in enumerate(words) if w in ("&", ";")), len(words))]
            commands["authserver serve" if "serve" in argv[1:2] else argv[-1]] = argv
    return commands


def serve_commands() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {
        "Dockerfile CMD": dockerfile_cmd(),
        "make run": make_run_commands()["authserver serve"],
        "compose server": compose["services"]["server"]["command"],
    }


def gunicorn_commands() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = {"make run resource": make_run_commands()["examples.resource_service.app:create_app()"]}
    for name, service in compose["services"].items():
        if "gunicorn" in service.get("command", [""])[0]:
            commands[f"compose {name}"] = service["command"]
    return commands


def test_the_server_runs_authserver_serve_everywhere_with_its_own_access_log():
    for where, argv in serve_commands().items():
        assert Path(argv[0]).name == "authserver" and argv[1] == "serve", (where, argv)
        assert "--no-access-log" not in argv, where


def test_every_gunicorn_command_uses_the_shared_config_and_sets_no_access_log_of_its_own():
    commands = gunicorn_commands()
    assert {"make run resource", "compose resource"} <= set(commands)
    for where, argv in commands.items():
        assert argv[argv.index("-c") + 1] == SHARED_CONFIG, where
        overrides = [a for a in argv if a.split("=")[0] in ("--access-logfile", "--access-logformat", "--log-config")]
        assert overrides == [], where


def test_the_shared_config_logs_the_path_never_the_query_string_or_referer():
    from authserver import gunicorn_config

    assert gunicorn_config.accesslog == "-"
    assert "%(U)s" in gunicorn_config.access_log_format
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "{"):  # request line, query, Referer, any header/environ atom
        assert leaky not in gunicorn_config.access_log_format


PASSPHRASE = "serve-commands test passphrase"
SECRETS = ("query-password-3f9a1c", "query-client-secret-77b2e0", "referer-code-51d4aa")


def test_the_images_command_writes_an_access_log_with_the_path_and_without_the_query_string(database, tmp_path):
    keys = tmp_path / "keys"
    ensure_development_key(keys, int(time.time()), PASSPHRASE)
    port = _free_port()
    argv = [f"127.0.0.1:{port}" if arg == "0.0.0.0:8000" else arg for arg in dockerfile_cmd()]
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        **dockerfile_env(),
        # The image's admin and management listeners (0.0.0.0:9001, 0.0.0.0:9000) on free local ports here.
        "AUTHSERVER_ADMIN_BIND": f"127.0.0.1:{_free_port()}",
        "AUTHSERVER_MANAGEMENT_BIND": f"127.0.0.1:{_free_port()}",
        "AUTHSERVER_ISSUER": "https://auth.test",
        "AUTHSERVER_DATABASE_URL": database.url,
        "AUTHSERVER_KEYS_DIR": str(keys),
        "AUTHSERVER_SECRET_PEPPER": PEPPER,
        "AUTHSERVER_KEYS_PASSPHRASE": PASSPHRASE,
    }
    log_path = Path(tempfile.mkstemp(prefix="access-log-", suffix=".log", dir=tmp_path)[1])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_healthy(url, process), log_path.read_text()[-3000:]
        reply = requests.post(
            f"{url}/oauth/token?grant_type=password&username=alice&password={SECRETS[0]}"
            f"&client_id=app&client_secret={SECRETS[1]}",
            data={"grant_type": "password"},
            headers={"Referer": f"https://app.example/callback?code={SECRETS[2]}"},
            timeout=10,
        )
        assert reply.status_code in (400, 401), reply.text  # the query string is ignored
        deadline = time.monotonic() + 10
        while "/oauth/token" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(10)
    text = log_path.read_text()
    lines = [line for line in text.splitlines() if "/oauth/token" in line]
    assert len(lines) == 1, text[-3000:]
    assert f'"POST /oauth/token HTTP/1.1" {reply.status_code} ' in lines[0]
    for secret in SECRETS:
        assert secret not in text


def test_the_image_is_production_unless_told_otherwise():
    """The CMD with nothing but the image's ENV refuses to start: production needs an https issuer."""
    assert dockerfile_env()["AUTHSERVER_ENV"] == "production"
    port = _free_port()
    argv = [f"127.0.0.1:{port}" if arg == "0.0.0.0:8000" else arg for arg in dockerfile_cmd()]
    env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp"), **dockerfile_env()}
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "AUTHSERVER_ISSUER is required in production" in proc.stdout + proc.stderr


@pytest.fixture
def stub_bin(tmp_path: Path) -> Path:
    """``authserver`` and ``gunicorn`` stand-ins that record their environment and arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "gunicorn").write_text(f'#!/bin/sh\necho "gunicorn AUTHSERVER_ENV=$AUTHSERVER_ENV $*" >> "{calls}"\n')
    # The server's stand-in (`authserver serve`) runs, as the server does, while the resource service beside it
    # starts (up to 10 s): make's trap stops the background one when the foreground one ends, maybe before it wrote.
    (bin_dir / "authserver").write_text(
        f'#!/bin/sh\necho "authserver AUTHSERVER_ENV=$AUTHSERVER_ENV $*" >> "{calls}"\n'
        'case "$1" in serve)\n'
        f'  i=0; while [ "$(grep -c ^gunicorn "{calls}")" -lt 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done;;\n'
        "esac\n"
    )
    for name in ("authserver", "gunicorn"):
        (bin_dir / name).chmod(0o755)
    (bin_dir / "stamp").touch()
    return bin_dir


def test_make_run_is_development_explicitly_even_when_the_shell_says_production(stub_bin, tmp_path):
    env = {**os.environ, "AUTHSERVER_ENV": "production"}
    proc = subprocess.run(
        ["make", "-s", "run", f"BIN={stub_bin}", f"STAMP={stub_bin / 'stamp'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert all(call.split(" ", 2)[1] == "AUTHSERVER_ENV=development" for call in calls), calls
    assert [c.split(" ", 3)[::2][:2] for c in calls[:2]] == [["authserver", "db"], ["authserver", "demo"]]
    started = sorted(calls[2:])  # started together: in either order
    assert len(started) == 2, calls
    assert started[0].startswith("authserver AUTHSERVER_ENV=development serve ")
    assert started[1].startswith("gunicorn ") and f"-c {SHARED_CONFIG}" in started[1]
    assert started[1].endswith("examples.resource_service.app:create_app()")
