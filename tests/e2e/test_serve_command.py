"""``authserver serve``, the production server: it answers, stops gracefully on SIGTERM within its bound,
logs paths without query strings, takes its settings from options over ``AUTHSERVER_SERVE_*`` over
``WEB_CONCURRENCY`` over the machine's defaults, and refuses a bad value before starting, naming it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from authserver.serving.options import ServeOptionError
from authserver.serving.options import cpu_count
from authserver.serving.options import resolve
from authserver.testing.ports import free_port
from authserver.testing.servers import LiveServer
from authserver.testing.servers import serve_argv
from authserver.testing.servers import start_command
from authserver.testing.servers import start_server

SLOW_APP = """
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("sleep", ["0"])[0])
    time.sleep(seconds)
    body = b"slept %.1f" % seconds
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _slow_server(tmp_path: Path, *args: str, workers: int = 1) -> LiveServer:
    """``authserver serve`` on a tiny WSGI app that sleeps ``?sleep=S`` seconds (the serving behaviour,
    without the authorization server's set-up)."""
    (tmp_path / "slow_app.py").write_text(SLOW_APP)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_SERVE_")}
    return start_command(
        serve_argv(port, workers, "--wsgi-app", "slow_app:app", "--no-factory", *args),
        env,
        port,
        label="serve slow_app",
        workers=workers,
        cwd=tmp_path,
        path="/",
        log_path=tmp_path / "serve.log",
    )


def test_serve_answers_on_the_real_app_and_logs_paths_without_query_strings(database, keys_dir):
    server = start_server(database, keys_dir)
    try:
        assert requests.get(f"{server.url}/healthz?code=secret-code-4e1f&state=secret-state-9a2b", timeout=10).ok
        jwks = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200 and jwks.json()["keys"]
        authorize = requests.get(
            f"{server.url}/oauth/authorize?response_type=code&client_id=nobody&code=secret-code-77c0",
            timeout=10,
            allow_redirects=False,
        )
        assert authorize.status_code < 500
        deadline = time.monotonic() + 10
        while "/oauth/authorize" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert '"GET /healthz HTTP/1.1" 200 ' in log
    assert '"GET /oauth/authorize HTTP/1.1" ' in log
    assert "secret" not in log


def test_sigterm_finishes_the_in_flight_request_then_exits_0(tmp_path):
    server = _slow_server(tmp_path, "--graceful-timeout", "10")
    answer: dict[str, object] = {}

    def call() -> None:
        try:
            answer["response"] = requests.get(f"{server.url}/?sleep=2", timeout=20)
        except requests.RequestException as exc:
            answer["error"] = exc

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.7)  # the request is in the app's sleep
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(15)
    caller.join(15)
    response = answer.get("response")
    assert isinstance(response, requests.Response), answer.get("error")
    assert response.status_code == 200 and response.text == "slept 2.0"
    assert code == 0, server.log()
    assert time.monotonic() - started < 8, "exited long after the request finished"


def test_a_request_longer_than_the_graceful_timeout_is_cut_at_the_bound(tmp_path):
    server = _slow_server(tmp_path, "--graceful-timeout", "2")
    caller = threading.Thread(target=lambda: _swallow(lambda: requests.get(f"{server.url}/?sleep=30", timeout=40)))
    caller.start()
    time.sleep(0.7)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(15)
    finally:
        server.stop()
    assert time.monotonic() - started < 10, "the stop was not bounded by --graceful-timeout"
    caller.join(40)


def _swallow(call) -> None:
    with contextlib.suppress(requests.RequestException):
        call()


def test_workers_come_from_the_option_then_the_variable_then_web_concurrency(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTHSERVER_SERVE_WORKERS", "3")
    server = _slow_server(tmp_path, workers=1)  # --workers 1 beats the variable
    try:
        assert len(server.worker_pids()) == 1
    finally:
        server.stop()
    assert resolve({}, {"AUTHSERVER_SERVE_WORKERS": "3", "WEB_CONCURRENCY": "5"}).workers == 3
    assert resolve({}, {"WEB_CONCURRENCY": "5"}).workers == 5
    assert resolve({}, {}).workers == cpu_count()


def test_every_setting_has_a_default_and_is_overridable_by_its_variable_and_its_option():
    defaults = resolve({}, {})
    assert (defaults.host, defaults.port, defaults.threads, defaults.keep_alive) == ("127.0.0.1", 8000, 2, True)
    assert (defaults.graceful_timeout, defaults.access_log, defaults.respawn) == (10, True, True)
    assert defaults.connections_per_worker == 1024 // defaults.workers
    env = {
        "AUTHSERVER_SERVE_BIND": "[::1]:9000",
        "AUTHSERVER_SERVE_THREADS": "4",
        "AUTHSERVER_SERVE_KEEP_ALIVE": "off",
        "AUTHSERVER_SERVE_GRACEFUL_TIMEOUT": "30",
        "AUTHSERVER_SERVE_BACKLOG": "256",
        "AUTHSERVER_SERVE_BACKPRESSURE": "64",
        "AUTHSERVER_SERVE_ACCESS_LOG": "false",
        "AUTHSERVER_SERVE_LOG_LEVEL": "WARNING",
        "AUTHSERVER_SERVE_RESPAWN": "no",
    }
    from_env = resolve({}, env)
    assert (from_env.host, from_env.port, from_env.bind) == ("::1", 9000, "[::1]:9000")
    assert (from_env.threads, from_env.keep_alive, from_env.graceful_timeout) == (4, False, 30)
    assert (from_env.backlog, from_env.connections_per_worker, from_env.access_log) == (256, 64, False)
    assert (from_env.log_level, from_env.respawn) == ("warning", False)
    given = {"bind": "0.0.0.0:8100", "threads": "1", "keep_alive": True, "access_log": True, "graceful_timeout": "5"}
    from_options = resolve(given, env)
    assert (from_options.host, from_options.port, from_options.threads) == ("0.0.0.0", 8100, 1)
    assert (from_options.keep_alive, from_options.access_log, from_options.graceful_timeout) == (True, True, 5)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--workers", "0"], {}, "--workers / AUTHSERVER_SERVE_WORKERS"),
        ([], {"AUTHSERVER_SERVE_WORKERS": "many"}, "--workers / AUTHSERVER_SERVE_WORKERS"),
        ([], {"WEB_CONCURRENCY": "-2"}, "(from WEB_CONCURRENCY)"),
        (["--threads", "x"], {}, "--threads / AUTHSERVER_SERVE_THREADS"),
        (["--bind", "localhost"], {}, "--bind / AUTHSERVER_SERVE_BIND"),
        ([], {"AUTHSERVER_SERVE_BIND": "127.0.0.1:99999"}, "--bind / AUTHSERVER_SERVE_BIND"),
        ([], {"AUTHSERVER_SERVE_KEEP_ALIVE": "maybe"}, "--keep-alive / AUTHSERVER_SERVE_KEEP_ALIVE"),
        (["--graceful-timeout", "0"], {}, "--graceful-timeout / AUTHSERVER_SERVE_GRACEFUL_TIMEOUT"),
        ([], {"AUTHSERVER_SERVE_LOG_LEVEL": "loud"}, "--log-level / AUTHSERVER_SERVE_LOG_LEVEL"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_setting(args, env, named):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "authserver.cli.console", "serve", *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert named in proc.stderr
    assert "Starting granian" not in proc.stdout + proc.stderr
    assert time.monotonic() - started < 30
    with pytest.raises(ServeOptionError):
        resolve(dict(zip([a.lstrip("-").replace("-", "_") for a in args[::2]], args[1::2], strict=True)), env)


def test_an_app_configuration_error_fails_before_any_worker_starts():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    proc = subprocess.run(
        [sys.executable, "-m", "authserver.cli.console", "serve", "--bind", f"127.0.0.1:{free_port()}"],
        env={**env, "AUTHSERVER_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "AUTHSERVER_ISSUER is required in production" in proc.stderr
    assert "Starting granian" not in proc.stdout + proc.stderr


def test_the_readme_documents_every_serve_setting():
    from authserver.serving.options import markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme, "README's serve table differs: python -c 'from authserver.serving.options ...'"
