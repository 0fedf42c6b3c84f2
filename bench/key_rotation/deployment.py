"""The server under test: a PostgreSQL database, a keys directory, the CLI and gunicorn.

gunicorn runs through :func:`authserver.testing.servers.start_gunicorn` (ready once ``/healthz``
answers and every worker runs); databases come from :mod:`authserver.testing.databases`.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from authserver.keys.keystore import KeyRecord
from authserver.keys.keystore import read_manifest
from authserver.testing.apps import server_env
from authserver.testing.databases import create_pg_database
from authserver.testing.databases import drop_pg_database
from authserver.testing.databases import pg_url
from authserver.testing.ports import free_port
from authserver.testing.servers import ROOT
from authserver.testing.servers import LiveServer
from authserver.testing.servers import start_gunicorn
from bench.key_rotation.settings import AUDIENCE
from bench.key_rotation.settings import TIMINGS
from bench.key_rotation.settings import Options


class Deployment:
    """One run's database, keys (encrypted with a random passphrase), settings and server."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.workdir = Path(tempfile.mkdtemp(prefix="authserver-rotation-"))
        self.keys_dir = self.workdir / "keys"
        self.log_path = self.workdir / "gunicorn.log"
        self.pepper = secrets.token_urlsafe(36)
        self.passphrase = secrets.token_urlsafe(24)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.jwks_uri = f"{self.base_url}/.well-known/jwks.json"
        self.created_db: str | None = None
        self.database_url = opts.database_url or ""
        self.server: LiveServer | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
        env.update({f"AUTHSERVER_{k}": str(v) for k, v in TIMINGS.items()})
        env.update(server_env(self.database_url, self.keys_dir, self.base_url))
        env.update({"AUTHSERVER_SECRET_PEPPER": self.pepper, "AUTHSERVER_KEYS_PASSPHRASE": self.passphrase})
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("authserver")
        command = [str(exe)] if exe.exists() else [str(ROOT / ".venv" / "bin" / "authserver")]
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, env=self.env(), cwd=ROOT, timeout=120
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"`authserver {' '.join(args)}` failed ({result.returncode}): {result.stderr[-1500:]}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def cli_at(self, how: str, *args: str) -> subprocess.Popen[str]:
        """One CLI command at a chosen moment through :mod:`bench.key_rotation.timed_cli`; :meth:`cli_done` waits."""
        return subprocess.Popen(
            [sys.executable, "-m", "bench.key_rotation.timed_cli", how, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=ROOT,
        )

    @staticmethod
    def cli_done(process: subprocess.Popen[str]) -> tuple[str, float]:
        """The output of a :meth:`cli_at` command and the moment it called the CLI."""
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            raise RuntimeError(f"timed_cli failed ({process.returncode}): {out[-800:]} {err[-800:]}")
        return out, float(err.rsplit("#called_at ", 1)[1].split()[0])

    def manifest(self) -> list[KeyRecord]:
        return read_manifest(self.keys_dir)

    def record(self, kid: str) -> KeyRecord:
        return next(r for r in self.manifest() if r.kid == kid)

    def manifest_mtime(self) -> float:
        return (self.keys_dir / "manifest.json").stat().st_mtime

    def provision(self) -> tuple[str, str]:
        """Database, schema, the first active key and a client_credentials client; (first kid, Basic header)."""
        if not self.database_url:
            self.created_db = create_pg_database("authserver_rotation", self.opts.pg_admin_url)
            self.database_url = pg_url(self.created_db, self.opts.pg_admin_url)
        if not self.database_url.startswith(("postgresql", "postgres:")):
            raise RuntimeError("this check runs the server as several processes: PostgreSQL only")
        self.cli("db", "upgrade")
        first = self.cli_json("keys", "generate", "--activate")
        client = self.cli_json(
            "clients",
            "create",
            "--name",
            "rotation-load",
            "--grant",
            "client_credentials",
            "--scope",
            "read",
            "--audience",
            AUDIENCE,
            "--client-id",
            f"rotation-load-{uuid.uuid4().hex[:8]}",
        )
        basic = "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        return first["kid"], basic

    def start(self) -> None:
        self.server = start_gunicorn(
            "authserver:create_app()",
            self.env(),
            self.port,
            self.opts.workers,
            path="/healthz",
            wait_for_workers=True,
            seconds=45,
            log_path=self.log_path,
            own_session=True,
        )

    def alive(self) -> bool:
        return self.server is None or self.server.process.poll() is None

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def teardown(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=15)
        if self.created_db:
            drop_pg_database(self.created_db, self.opts.pg_admin_url)
        if not self.opts.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
