"""The server under test: production settings, provisioning through the CLI, the server (servers.py), token minting.

The server runs with ``AUTHSERVER_ENV=production`` (https issuer, a random 48-character pepper, a
random keys passphrase, keys in the run directory): the configuration a real deployment has, in
which the server refuses the development pepper and never generates keys itself. Production
cannot bootstrap an empty keystore with this CLI version (the app refuses to start without an
active key, and in development the app has already made one before ``keys generate --activate``
runs), so :meth:`Deployment.make_key` tries, in order, until a *production* ``keys list`` loads
the result:

1. ``authserver keys generate --activate`` in production (works if the CLI ever allows it);
2. ``authserver keys list`` in development with the same passphrase: the app's development
   bootstrap writes the active RS256-2048 key, exactly what ``keys generate --activate`` makes.

If neither gives a key production loads, the whole run uses ``AUTHSERVER_ENV=development`` (with
the same explicit issuer, pepper and passphrase) and the report says so: the request path is the
same code, only start-up checks differ.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import requests

from authserver.testing.ports import free_port
from authserver.testing.servers import LiveServer
from authserver.testing.servers import start_command
from benchkit.servers import AUTHSERVER
from benchkit.servers import ServerKind

ISSUER = "https://auth.bench.invalid"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_id: str
    client_secret: str

    @property
    def basic_auth(self) -> str:
        raw = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(raw.encode()).decode()


class Deployment:
    """One database + keys directory + settings; runs the CLI and starts/stops the server."""

    def __init__(self, repo: Path, run_dir: Path, database: str) -> None:
        self.repo, self.run_dir, self.database = repo, run_dir, database
        self.bin = repo / ".venv" / "bin"
        self.keys_dir = run_dir / "keys"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
        self.env.update(
            {
                "AUTHSERVER_ENV": "production",
                "AUTHSERVER_ISSUER": ISSUER,
                "AUTHSERVER_SECRET_PEPPER": secrets.token_urlsafe(36),
                "AUTHSERVER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
                "AUTHSERVER_KEYS_DIR": str(self.keys_dir),
                "AUTHSERVER_KEYS_PASSPHRASE": secrets.token_urlsafe(24),  # ignored by versions without it
            }
        )
        # The argon2 parameters are the server's defaults unless the caller's environment overrides them.
        for name in (
            "ARGON2_TIME_COST",
            "ARGON2_MEMORY_KIB",
            "ARGON2_PARALLELISM",
            "ARGON2_MAX_CONCURRENT",
            "LOG_LEVEL",
        ):
            if os.environ.get(f"AUTHSERVER_{name}"):
                self.env[f"AUTHSERVER_{name}"] = os.environ[f"AUTHSERVER_{name}"]
        self.notes: list[str] = []
        self.server: LiveServer | None = None
        self.workers = 0
        self.kind: ServerKind | None = None
        self.base_url = ""

    def cli(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [str(self.bin / "authserver"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env or self.env,
            cwd=self.repo,
        )
        if result.returncode != 0:
            raise RuntimeError(f"`authserver {' '.join(args)}` failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return result.stdout

    def provision(self) -> Credentials:
        """Key, schema, one user and one first-party client."""
        self.make_key()
        self.cli("db", "upgrade")
        username, password = "bench-user", secrets.token_urlsafe(18)
        self.cli("users", "create", username, "--password-stdin", stdin=password + "\n")
        client = self.client_create("bench-app", ["password", "refresh_token"], "--first-party")
        return Credentials(username, password, client["client_id"], client["client_secret"])

    def make_key(self) -> None:
        """An active signing key that the server loads (see the module docstring); sets ``self.notes``."""
        development = {**self.env, "AUTHSERVER_ENV": "development"}
        attempts = [
            ("production `keys generate --activate`", ("keys", "generate", "--activate"), self.env),
            ("development `keys list` (development key bootstrap)", ("keys", "list"), development),
        ]
        errors = []
        for label, args, env in attempts:
            shutil.rmtree(self.keys_dir, ignore_errors=True)
            self.keys_dir.mkdir(parents=True)
            try:
                self.cli(*args, env=env)
                self.cli("keys", "list")  # production must load it
            except RuntimeError as exc:
                errors.append(f"{label}: {str(exc).strip().splitlines()[-1]}")
                continue
            self.notes.append(f"signing key made by {label}; server in production env")
            return
        self.env = development
        shutil.rmtree(self.keys_dir, ignore_errors=True)
        self.keys_dir.mkdir(parents=True)
        self.cli("keys", "list")
        self.notes.append(
            "production could not load a pre-generated key ("
            + "; ".join(errors)
            + "): the server runs with AUTHSERVER_ENV=development, explicit issuer/pepper/passphrase"
        )

    def client_create(self, name: str, grants: list[str], *flags: str, scope: str = "read write") -> dict:
        args = ["clients", "create", "--name", name, "--scope", scope, *flags, "--json"]
        for grant in grants:
            args += ["--grant", grant]
        return json.loads(self.cli(*args))

    def start(self, kind: ServerKind) -> None:
        """The server under ``kind`` (benchkit/servers.py), ready once ``/healthz`` answers and every worker runs
        (readiness proper is the management listener's, which only ``authserver serve`` has)."""
        self.kind, self.workers = kind, kind.workers
        port = free_port()
        self.server = start_command(
            kind.argv(AUTHSERVER, port, pid_file=self.run_dir / "gunicorn.pid"),
            self.env,
            port,
            label=kind.label,
            workers=kind.processes,
            cwd=self.repo,
            path="/healthz",
            log_path=self.run_dir / f"server-{kind.label.replace(':', '-')}.log",
            own_session=True,
        )
        self.base_url = self.server.url

    @property
    def gunicorn(self) -> subprocess.Popen[bytes] | None:
        return self.server.process if self.server else None

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the workers, or the server itself when it has none."""
        if self.server is None:
            return []
        return self.server.worker_pids() or [self.server.process.pid]

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop(timeout=20)  # graceful: the master stops its workers; then the whole group is killed

    def metadata(self) -> dict:
        response = requests.get(self.base_url + "/.well-known/oauth-authorization-server", timeout=10)
        response.raise_for_status()
        return response.json()

    def password_grant(
        self, creds: Credentials, session: requests.Session | None = None, scope: str = "read write"
    ) -> dict:
        response = (session or requests).post(
            self.base_url + "/oauth/token",
            headers={"Authorization": creds.basic_auth},
            timeout=30,
            data={"grant_type": "password", "username": creds.username, "password": creds.password, "scope": scope},
        )
        if response.status_code != 200:
            raise RuntimeError(f"password grant failed: {response.status_code} {response.text[:300]}")
        return response.json()

    def mint_refresh_tokens(self, creds: Credentials, count: int) -> list[str]:
        """``count`` refresh tokens, each the start of its own family, minted in parallel."""
        local = threading.local()

        def one(_: int) -> str:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            return self.password_grant(creds, local.session)["refresh_token"]

        with ThreadPoolExecutor(max_workers=max(2, 2 * self.workers)) as pool:
            return list(pool.map(one, range(count)))
