"""Servers as production runs them (``authserver serve``; any WSGI app under gunicorn): one launcher, one
readiness loop, one handle.

``authserver serve`` runs three listeners; a test server gets free ports for all three, and its handle
the URLs of each (``url``, ``admin_url``, ``management_url``). It is ready when the management listener's
``/readyz`` answers 200 (the database, the schema, the keys, and the public listener accepting).

The log goes to a file, never a pipe (a pipe nobody reads fills up and blocks the workers); the
handle reads its tail for error messages. With ``own_session`` the server gets its own process
group, so a stop that times out can kill the master and its workers together.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authserver.testing.apps import server_env
from authserver.testing.databases import Database
from authserver.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def worker_pids(pid: int) -> list[int]:
    """The workers of the server whose main process is ``pid``: a gunicorn master's children, or for
    ``authserver serve`` (a supervisor whose children are its listeners) the public listener's children."""
    children = _children(pid)
    for child in children:
        argv = _cmdline(child)
        if "authserver.serving.listener" in argv and argv[argv.index("authserver.serving.listener") + 1] == "public":
            return _children(child)
    return [c for c in children if "authserver.serving.listener" not in _cmdline(c)]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # kernels without CONFIG_PROC_CHILDREN: scan the parent pids
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(stat.parent.name))
        return sorted(children)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    own_session: bool = False
    #: ``authserver serve``'s other listeners (None: not this kind of server, or ``off``).
    admin_url: str | None = None
    management_url: str | None = None

    def log(self) -> str:
        """The last 4,000 characters of the server's output."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def worker_pids(self) -> list[int]:
        return worker_pids(self.process.pid)

    def stop(self, timeout: float = 10) -> None:
        """Graceful stop (the master stops its workers), then a kill if it has not exited in ``timeout``."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            if self.own_session:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait(5)


def answers(url: str) -> bool:
    """``GET url`` answers 2xx."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http://127.0.0.1 only)
        return 200 <= response.status < 300


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    seconds: float = 60,
    *,
    path: str = "/healthz",
    workers: int | None = None,
    probe: Callable[[str], bool] | None = None,
) -> bool:
    """Poll until the server answers (``probe(url)``, default ``GET url+path`` 2xx) and, if ``workers`` is
    given, that many workers run; False if the process exits or ``seconds`` pass first."""
    check = probe or (lambda base: answers(base + path))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError, http.client.HTTPException):  # requests' errors are OSErrors too
            if check(url) and (workers is None or len(worker_pids(process.pid)) == workers):
                return True
        time.sleep(0.2)
    return False


def start_command(
    argv: Sequence[str],
    env: Mapping[str, str],
    port: int,
    *,
    label: str,
    workers: int | None = None,
    cwd: Path = ROOT,
    log_path: Path | None = None,
    path: str = "/healthz",
    probe: Callable[[str], bool] | None = None,
    seconds: float = 60,
    own_session: bool = False,
    admin_url: str | None = None,
    management_url: str | None = None,
) -> LiveServer:
    """Run the server command ``argv`` (listening on 127.0.0.1:``port``) from ``cwd`` and wait until it is
    ready (see :func:`wait_ready`; with ``workers``, until that many worker processes run); RuntimeError
    with the log's tail if it is not. With ``management_url``, ready means its ``/readyz`` answers 200."""
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="authserver-live-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, own_session, admin_url, management_url)
    if probe is None and management_url is not None:
        probe = lambda _url: answers(f"{management_url}/readyz")  # noqa: E731
    if wait_ready(server.url, process, seconds, path=path, probe=probe, workers=workers):
        return server
    server.stop()
    raise RuntimeError(f"{label} did not start: {server.log()}")


def start_gunicorn(
    app_spec: str,
    env: Mapping[str, str],
    port: int | None = None,
    workers: int = 2,
    *,
    cwd: Path = ROOT,
    args: Sequence[str] = (),
    log_path: Path | None = None,
    path: str = "/healthz",
    probe: Callable[[str], bool] | None = None,
    wait_for_workers: bool = False,
    seconds: float = 60,
    own_session: bool = False,
) -> LiveServer:
    """Run ``app_spec`` under gunicorn on 127.0.0.1:``port`` (a free one by default) from ``cwd`` and wait
    until it is ready (see :func:`start_command`)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", *args, app_spec]
    return start_command(
        argv,
        env,
        port,
        label=app_spec,
        workers=workers if wait_for_workers else None,
        cwd=cwd,
        log_path=log_path,
        path=path,
        probe=probe,
        seconds=seconds,
        own_session=own_session,
    )


def serve_argv(port: int, workers: int, *args: str) -> list[str]:
    """``authserver serve`` on 127.0.0.1:``port`` with ``workers`` workers, run by this interpreter."""
    return [
        sys.executable,
        "-m",
        "authserver.cli.console",
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *args,
    ]


def listener_env(env: Mapping[str, str]) -> tuple[dict[str, str], str | None, str | None]:
    """``env`` with free ports for the admin and management listeners unless it sets them; their URLs
    (None for a listener that is ``off`` or on a unix socket)."""
    env = dict(env)
    urls: list[str | None] = []
    for variable in ("AUTHSERVER_ADMIN_BIND", "AUTHSERVER_MANAGEMENT_BIND"):
        if not env.get(variable):
            env[variable] = f"127.0.0.1:{free_port()}"
        value = env[variable]
        urls.append(None if value == "off" or value.startswith("unix:") else f"http://{value}")
    return env, urls[0], urls[1]


def start_serve(
    env: Mapping[str, str],
    port: int | None = None,
    workers: int = 2,
    *,
    args: Sequence[str] = (),
    wait_for_workers: bool = True,
    **kwargs: Any,
) -> LiveServer:
    """``authserver serve`` (the production command) on 127.0.0.1:``port``, its admin and management
    listeners on free ports (unless ``env`` sets them); ready as in :func:`start_command`."""
    port = port or free_port()
    env, admin_url, management_url = listener_env(env)
    return start_command(
        serve_argv(port, workers, *args),
        env,
        port,
        label="authserver serve",
        workers=workers if wait_for_workers else None,
        admin_url=admin_url,
        management_url=management_url,
        **kwargs,
    )


def start_server(database: Database, keys_dir: Path, workers: int = 2, **env_extra: str) -> LiveServer:
    """``authserver serve`` with the test settings (:mod:`authserver.testing.apps`) on ``database``."""
    port = free_port()
    env = {
        **os.environ,
        **server_env(database.url, keys_dir, f"http://127.0.0.1:{port}"),
        # Tests change clients and revoke from this process; the server must not serve a cached copy.
        "AUTHSERVER_CLIENT_CACHE_SECONDS": "0",
        "AUTHSERVER_INTROSPECTION_CACHE_SECONDS": "0",
        **env_extra,
    }
    return start_serve(env, port, workers)
