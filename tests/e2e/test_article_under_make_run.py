"""``make run`` serves the article our users start from (``../shared/seed/``, "Access Tokens V/S Refresh Tokens").

``make run`` itself runs here (on free ports, a test database and keys): the server and the example resource
service beside it, stopped together by Ctrl-C. The article's four ``fetch()`` samples are extracted from the
article at test time (it is never copied into the project) and run under Node as the article prints them;
the only edits are the base URL (``https://api.example.com``: the server, or the resource service for
``/user/data``) and the two placeholders the article asks its reader to fill in, ``ACCESS_TOKEN`` and
``REFRESH_TOKEN``, with what the earlier samples printed. Without the article's folder the test says so and
skips (in CI it is always there).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import ROOT
from conftest import Database

from authserver.testing.ports import free_port
from authserver.testing.servers import wait_ready

pytestmark = pytest.mark.live
VENV_BIN = Path(sys.executable).parent
ARTICLE_BASE = "https://api.example.com"
SAMPLE = re.compile(r"^// Example: .*?^\.catch\(error => console\.error\('Error:', error\)\);$", re.S | re.M)


@dataclass
class MakeRun:
    process: subprocess.Popen[bytes]
    url: str
    resource_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout)


@contextlib.contextmanager
def make_run(database: Database, tmp_path: Path) -> Iterator[MakeRun]:
    """``make run`` on free ports (``PORT``, ``RESOURCE_PORT``), ``database`` and fresh development keys, in a
    process group of its own; ready once the server and the resource service both answer ``/healthz``."""
    port, resource_port = free_port(), free_port()
    stamp = tmp_path / "installed-stamp"  # the set-up is done: this virtualenv runs the tests
    stamp.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHSERVER_", "RESOURCE_"))}
    env.update(
        AUTHSERVER_DATABASE_URL=database.url,
        AUTHSERVER_KEYS_DIR=str(tmp_path / "keys"),
        AUTHSERVER_ARGON2_TIME_COST="1",
        AUTHSERVER_ARGON2_MEMORY_KIB="1024",
    )
    log_path = tmp_path / "make-run.log"
    argv = ["make", "-s", "run", f"PORT={port}", f"RESOURCE_PORT={resource_port}", f"BIN={VENV_BIN}", f"STAMP={stamp}"]
    argv += [f"MANAGEMENT_PORT={free_port()}", f"ADMIN_PORT={free_port()}"]  # the server's other listeners
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    run = MakeRun(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{resource_port}", log_path)
    try:
        for url in (run.url, run.resource_url):
            assert wait_ready(url, process, 90), f"make run: {url} did not answer:\n{run.log()}"
        yield run
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def refuses_connections(url: str) -> bool:
    try:
        requests.get(f"{url}/healthz", timeout=2)
    except requests.ConnectionError:
        return True
    return False


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_make_run_serves_the_resource_beside_the_server_and_ctrl_c_stops_both(database, tmp_path):
    with make_run(database, tmp_path) as run:
        login = requests.post(
            f"{run.url}/oauth/token",
            data={"grant_type": "password", "username": "user", "password": "pass", "client_id": "demo-spa"},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        data = requests.get(
            f"{run.resource_url}/user/data",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            timeout=10,
        )
        assert data.status_code == 200, data.text
        assert data.json()["client_id"] == "demo-spa"
        assert run.interrupt() is not None
        assert refuses_connections(run.url) and refuses_connections(run.resource_url), run.log()
        assert group_is_gone(run.process.pid), f"processes of make run are left after Ctrl-C:\n{run.log()}"


# ---------------------------------------------------------------- the article's samples under Node


def article_samples() -> list[str]:
    """The article's four ``fetch()`` samples, as printed (``../shared/seed/*.txt`` beside the repository, or
    beside the main checkout when this is a linked git worktree)."""
    roots = [ROOT]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        roots.append(Path(common).parent)  # the main checkout's .git: its parent is the main checkout
    folders = [root.parent / "shared" / "seed" for root in roots]
    found = [folder for folder in folders if folder.is_dir()]
    if not found:
        pytest.skip(f"the article's folder is absent ({', '.join(map(str, folders))}): its samples cannot run")
    for path in sorted(found[0].glob("*.txt")):
        samples = SAMPLE.findall(path.read_text())
        if samples and all("fetch(" in sample for sample in samples):
            assert len(samples) == 4, f"{path}: expected the article's four fetch() samples, found {len(samples)}"
            return samples
    pytest.fail(f"no article with fetch() samples in {found[0]}")


def node(script: str, tmp_path: Path, name: str) -> str:
    """Run ``script`` under Node (global fetch, Node 18+); its standard output. Any error output fails."""
    node_bin = shutil.which("node")
    assert node_bin, "node is required (the article's samples run under Node)"
    path = tmp_path / f"{name}.js"
    path.write_text(script)
    proc = subprocess.run([node_bin, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", f"{name}:\n{script}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def printed(output: str, label: str) -> str:
    """The value a sample printed with ``console.log('<label>:', value)``."""
    match = re.search(rf"^{re.escape(label)}: (\S+)$", output, re.M)
    assert match and match.group(1) != "undefined", f"{label!r} not printed:\n{output}"
    return match.group(1)


def test_the_articles_four_fetch_samples_run_unchanged_under_node_against_make_run(database, tmp_path):
    login, use, refresh, login_again = article_samples()
    with make_run(database, tmp_path) as run:

        def rebased(sample: str) -> str:
            assert sample.count(ARTICLE_BASE) == 1, sample
            base = run.resource_url if f"{ARTICLE_BASE}/user/data" in sample else run.url
            return sample.replace(ARTICLE_BASE, base)

        out = node(rebased(login), tmp_path, "1-login")
        access_token, refresh_token = printed(out, "Access Token"), printed(out, "Refresh Token")
        assert access_token.count(".") == 2  # a JWT

        assert "'Bearer ACCESS_TOKEN'" in use
        out = node(rebased(use).replace("ACCESS_TOKEN", access_token), tmp_path, "2-user-data")
        assert "sub:" in out and "client_id: 'demo-spa'" in out and "error" not in out, out

        assert "'REFRESH_TOKEN'" in refresh
        out = node(rebased(refresh).replace("REFRESH_TOKEN", refresh_token), tmp_path, "3-refresh")
        new_access_token = printed(out, "New Access Token")
        assert new_access_token.count(".") == 2 and new_access_token != access_token

        out = node(rebased(login_again), tmp_path, "4-login-again")
        renewed = printed(out, "New Access Token"), printed(out, "New Refresh Token")
        assert renewed[0] not in (access_token, new_access_token) and renewed[1] != refresh_token

        assert run.interrupt() is not None
