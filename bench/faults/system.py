"""The system under test: the harness's own PostgreSQL (one cluster, or a primary and a synchronous
standby), Redis where a scenario needs it, ``authserver serve`` as production runs it, and the example
resource service verifying the issued access tokens on its own (offline, from the JWKS).

Provisioning goes through the real CLI with production settings (an https issuer, a random pepper and
key passphrase, ``keys generate --activate``, ``db upgrade``), as bench/run does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from authserver.testing.ports import free_port
from authserver.testing.servers import ROOT
from authserver.testing.servers import LiveServer
from authserver.testing.servers import serve_argv
from authserver.testing.servers import start_command
from authserver.testing.servers import start_gunicorn
from bench.faults.postgres import Cluster
from bench.faults.postgres import wait_replaying
from bench.faults.redis_server import RedisServer

ISSUER = "https://auth.faults.test"
DATABASE = "authserver_faults"
READY_PATH = "/.well-known/oauth-authorization-server"
STANDBY = "standby"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_id: str
    client_secret: str
    service_id: str
    service_secret: str
    victim: str  # a user only the lockout probe uses


@dataclass(frozen=True)
class Config:
    """What one scenario's system is made of."""

    grace_seconds: int
    workers: int = 2
    threads: int = 2
    standby: bool = False  # a synchronous streaming standby; the servers get a multi-host URL
    redis: bool = False
    access_token_ttl: int = 30


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


class System:
    def __init__(self, workdir: Path, config: Config) -> None:
        self.workdir, self.config = workdir, config
        self.keys_dir = workdir / "keys"
        self.primary: Cluster | None = None
        self.standby: Cluster | None = None
        self.redis: RedisServer | None = None
        self.server: LiveServer | None = None
        self.resource: LiveServer | None = None
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server_log = workdir / "server.log"
        self.env: dict[str, str] = {}
        self.creds: Credentials | None = None

    # -- database --------------------------------------------------------------------------------------

    def database_url(self) -> str:
        """The servers' ``AUTHSERVER_DATABASE_URL``: with a standby, libpq's multi-host form, which follows
        the primary (``target_session_attrs=read-write``) on every new connection."""
        assert self.primary is not None
        if self.standby is None:
            return self.primary.url(DATABASE) + "?connect_timeout=3"
        hosts = f"{self.primary.host}:{self.primary.port},{self.standby.host}:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{DATABASE}?target_session_attrs=read-write&connect_timeout=3"

    def current_primary(self) -> Cluster:
        """The cluster that takes writes now (after a failover, the promoted standby)."""
        for cluster in (self.primary, self.standby):
            if cluster is None:
                continue
            with contextlib.suppress(Exception):
                if cluster.sql("SELECT NOT pg_is_in_recovery()")[0][0]:
                    return cluster
        raise RuntimeError("no primary answers")

    def query(self, statement: str) -> list[tuple]:
        return self.current_primary().sql(statement, DATABASE)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        pg_root = self.workdir / "pg"
        pg_root.mkdir(parents=True)
        os.chmod(self.workdir, 0o755)  # noqa: S103 (postgres must reach its data directories)
        self.primary = Cluster.create("primary", pg_root, replication=self.config.standby)
        self.primary.start()
        self.primary.sql(f'CREATE DATABASE "{DATABASE}"')
        if self.config.standby:
            self.standby = Cluster.standby_of(self.primary, STANDBY, pg_root, slot="standby_slot")
            self.standby.start()
            self.primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY}'")
            self.primary.sql("SELECT pg_reload_conf()")
            wait_replaying(self.primary, STANDBY)
        if self.config.redis:
            self.redis = RedisServer(self.workdir / "redis")
            self.redis.start()
        self.env = self._env()
        self.creds = self._provision()
        self.start_server()
        self.start_resource()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHSERVER_", "RESOURCE_"))}
        env.update(
            {
                "AUTHSERVER_ENV": "production",
                "AUTHSERVER_ISSUER": ISSUER,
                "AUTHSERVER_SECRET_PEPPER": secrets.token_urlsafe(36),
                "AUTHSERVER_KEYS_PASSPHRASE": secrets.token_urlsafe(24),
                "AUTHSERVER_KEYS_DIR": str(self.keys_dir),
                "AUTHSERVER_DATABASE_URL": self.database_url(),
                "AUTHSERVER_REFRESH_GRACE_SECONDS": str(self.config.grace_seconds),
                "AUTHSERVER_ACCESS_TOKEN_TTL": str(self.config.access_token_ttl),
                # Short key timings so a rotation completes within a scenario (bench/key_rotation's).
                "AUTHSERVER_JWKS_MAX_AGE": "2",
                "AUTHSERVER_KEYS_RELOAD_INTERVAL": "1",
                "AUTHSERVER_KEY_ROTATION_PERIOD": "0",
                # Cheap argon2: logins are part of the mix, the box has 2 shared cores.
                "AUTHSERVER_ARGON2_TIME_COST": "1",
                "AUTHSERVER_ARGON2_MEMORY_KIB": "4096",
                # The load's own deliberate wrong passwords (the lockout probe) all come from 127.0.0.1.
                "AUTHSERVER_IP_MAX_FAILURES": "1000",
                # Free ports for the other listeners where `authserver serve` has them (never the defaults).
                "AUTHSERVER_ADMIN_BIND": f"127.0.0.1:{free_port()}",
                "AUTHSERVER_MANAGEMENT_BIND": f"127.0.0.1:{free_port()}",
            }
        )
        if self.redis is not None:
            env["AUTHSERVER_REDIS_URL"] = self.redis.url
        return env

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "authserver.cli.console", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"`authserver {' '.join(args)}` failed ({result.returncode}): {result.stderr[-1500:]}")
        return result

    def _provision(self) -> Credentials:
        self.keys_dir.mkdir(parents=True)
        self.cli("keys", "generate", "--activate")
        self.cli("db", "upgrade")
        password = secrets.token_urlsafe(18)
        self.cli("users", "create", "faults-user", "--password-stdin", stdin=password + "\n")
        self.cli("users", "create", "faults-victim", "--password-stdin", stdin=secrets.token_urlsafe(18) + "\n")
        app = self._client("faults-app", ["password", "refresh_token"], "--first-party", "--login-default")
        service = self._client("faults-service", ["client_credentials"])
        return Credentials(
            "faults-user",
            password,
            app["client_id"],
            app["client_secret"],
            service["client_id"],
            service["client_secret"],
            "faults-victim",
        )

    def _client(self, name: str, grants: list[str], *flags: str) -> dict:
        args = ["clients", "create", "--name", name, "--scope", "read write", *flags, "--json"]
        for grant in grants:
            args += ["--grant", grant]
        return json.loads(self.cli(*args).stdout)

    def start_server(self) -> None:
        """``authserver serve`` in its own session (so a kill -9 of the whole server takes every worker)."""
        argv = serve_argv(self.port, self.config.workers, "--threads", str(self.config.threads), "--no-access-log")
        self.server = start_command(
            argv,
            self.env,
            self.port,
            label="authserver serve",
            workers=self.config.workers,
            log_path=self.server_log,
            path=READY_PATH,
            own_session=True,
            seconds=90,
        )

    def kill_server(self) -> None:
        """SIGKILL the whole server: the master and every worker at once, in-flight answers lost."""
        assert self.server is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(10)

    def worker_pids(self) -> list[int]:
        """The server's live workers (a killed one not yet reaped is a zombie: not counted)."""
        if self.server is None:
            return []
        return [pid for pid in self.server.worker_pids() if _state(pid) not in ("Z", "X", "")]

    def start_resource(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AUTHSERVER_", "RESOURCE_"))},
            "RESOURCE_ISSUER": ISSUER,
            "RESOURCE_JWKS_URI": self.base_url + "/.well-known/jwks.json",
        }
        self.resource = start_gunicorn(
            "examples.resource_service.app:create_app()",
            env,
            workers=1,
            args=["--threads", "4", "--timeout", "60"],
            log_path=self.workdir / "resource.log",
            own_session=True,
        )

    def stop(self) -> None:
        for live in (self.resource, self.server):
            if live is not None:
                with contextlib.suppress(Exception):
                    live.stop(timeout=15)
        if self.redis is not None:
            self.redis.stop()
        for cluster in (self.standby, self.primary):
            if cluster is not None:
                cluster.destroy()

    # -- what the audit reads from the server ---------------------------------------------------------

    def server_events(self, name: str) -> list[dict]:
        """The server's JSON event records named ``name`` (its log, all restarts included)."""
        found = []
        for line in self.server_log.read_text(errors="replace").splitlines():
            if f'"{name}"' not in line:
                continue
            with contextlib.suppress(ValueError):
                record = json.loads(line[line.index("{") :])
                if record.get("event") == name:
                    found.append(record)
        return found

    def wait_answers(self, seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.base_url + READY_PATH, timeout=2).status_code == 200:
                    return True
            time.sleep(0.1)
        return False
