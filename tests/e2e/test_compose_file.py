"""docker-compose.yml cannot drift from the real entry points: every service built from our image
runs here with its own command and environment, compose hosts mapped to local ones (PostgreSQL on
127.0.0.1 with a fresh database, Redis on 127.0.0.1, the keys volume as a temporary directory)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from conftest import PG_ADMIN_URL
from conftest import ROOT
from conftest import _free_port
from conftest import _pg_admin
from conftest import wait_healthy

COMPOSE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent
SECRETS = {"AUTHSERVER_SECRET_PEPPER": "compose-test-pepper-" + "p" * 32, "AUTHSERVER_KEYS_PASSPHRASE": "k" * 40}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^${}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, nesting, $$."""
    value = value.replace("$$", "\0")
    while True:
        match = _VARIABLE.search(value)
        if match is None:
            return value.replace("\0", "$")
        name, op, arg = match.groups()
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op is not None and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        replacement = (arg or "") if unset and op is not None and op.endswith("-") else (current or "")
        value = value[: match.start()] + replacement + value[match.end() :]


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def ours(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def mounts(service: dict) -> dict[str, str]:
    """Container path -> options ("ro"/"rw") of each volume."""
    result = {}
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        result[parts[1]] = parts[2] if len(parts) > 2 else "rw"
    return result


# ---------------------------------------------------------------- the file itself


def test_compose_topology():
    compose = load_compose()
    services = compose["services"]
    assert set(ours(compose)) == {"keys", "migrate", "server", "resource"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    server = services["server"]
    assert server["deploy"]["replicas"] >= 2 and "ports" not in server  # replicas sit behind the proxy's one port
    assert services["proxy"]["ports"] == ["8000:8000"]
    for one_shot in ("migrate", "keys"):
        assert services[one_shot]["restart"] == "no"
        assert server["depends_on"][one_shot] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert mounts(server)["/keys"] == "ro" and mounts(services["keys"])["/keys"] == "rw"
    assert "keys" in compose["volumes"]
    assert len({svc["image"] for svc in ours(compose).values()}) == 1  # one image, built once
    assert "upstream authserver" in compose["configs"]["proxy_conf"]["content"]


def test_compose_trusts_exactly_its_one_proxy():
    """nginx (one proxy, appending the client to X-Forwarded-For) is the server's only way in: one hop."""
    compose = load_compose()
    services = compose["services"]
    proxies = [name for name, svc in services.items() if svc.get("image", "").startswith("nginx")]
    assert proxies == ["proxy"]
    nginx = compose["configs"]["proxy_conf"]["content"]
    assert "server server:8000" in nginx and "proxy_pass http://authserver;" in nginx
    assert "proxy_set_header X-Forwarded-For $$proxy_add_x_forwarded_for;" in nginx  # appends, never replaces
    assert "ports" not in services["server"]  # no way around the proxy
    assert services["server"]["environment"]["AUTHSERVER_TRUSTED_PROXY_HOPS"] == "1"
    assert services["server"]["environment"]["AUTHSERVER_ENV"] == "production"


def test_compose_refuses_to_start_without_secrets():
    env = load_compose()["x-authserver-env"]
    with pytest.raises(KeyError, match="AUTHSERVER_SECRET_PEPPER"):
        interpolate(env["AUTHSERVER_SECRET_PEPPER"], {})
    with pytest.raises(KeyError, match="AUTHSERVER_KEYS_PASSPHRASE"):
        interpolate(env["AUTHSERVER_KEYS_PASSPHRASE"], {"AUTHSERVER_SECRET_PEPPER": "x"})


def test_dockerfile_ships_what_the_commands_need():
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")}
    assert {"authserver", "migrations", "examples"} <= copied


# ---------------------------------------------------------------- running each service


class Stack:
    """Runs compose services locally, mapping hosts and volumes."""

    def __init__(self, database_url: str, keys_dir: Path) -> None:
        self.compose = load_compose()
        self.hosts = {"postgres:5432": database_url, "redis:6379": "127.0.0.1:6379"}
        self.keys_dir = keys_dir
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def env(self, name: str) -> dict[str, str]:
        service = self.compose["services"][name]
        env = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
        for key, raw in service.get("environment", {}).items():
            value = interpolate(str(raw), SECRETS)
            parsed = urllib.parse.urlsplit(value)
            if parsed.scheme.startswith("postgres") and parsed.netloc.endswith("postgres:5432"):
                value = self.hosts["postgres:5432"]
            for host, local in self.hosts.items():
                value = value.replace(f"//{host}", f"//{local}")
            env[key] = str(self.keys_dir) if value in mounts(service) else value
        return env

    def command(self, name: str) -> tuple[list[str], int | None]:
        port = None
        argv = []
        for arg in self.compose["services"][name]["command"]:
            if re.fullmatch(r"0\.0\.0\.0:\d+", arg):
                port = _free_port()
                arg = f"127.0.0.1:{port}"
            argv.append(arg)
        return argv, port

    def run(self, name: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """The service's command (or ``argv`` instead, as in ``docker compose run``) in its environment."""
        return subprocess.run(
            list(argv) or self.command(name)[0],
            env=self.env(name),
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, name: str) -> str:
        argv, port = self.command(name)
        log_path = Path(tempfile.mkstemp(prefix=f"compose-{name}-", suffix=".log")[1])
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, env=self.env(name), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((process, log_path))
        url = f"http://127.0.0.1:{port}"
        if wait_healthy(url, process):
            return url
        pytest.fail(f"service {name} did not answer /healthz:\n{log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        for process, _log in self.processes:
            process.terminate()
        for process, _log in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    name = f"authserver_compose_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    stack = Stack(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", tmp_path / "keys")
    try:
        yield stack
    finally:
        stack.stop()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.live
def test_every_service_of_ours_starts_with_its_compose_command_and_environment(stack):
    for _ in range(2):  # `keys` is idempotent: the second `compose up` must succeed too
        keys = stack.run("keys")
        assert keys.returncode == 0, keys.stdout + keys.stderr
    manifest = json.loads((stack.keys_dir / "manifest.json").read_text())
    assert [k["state"] for k in manifest["keys"]] == ["active"]
    assert b"ENCRYPTED" in (stack.keys_dir / f"{manifest['keys'][0]['kid']}.pem").read_bytes()

    migrate = stack.run("migrate")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    replicas = [stack.start("server") for _ in range(stack.compose["services"]["server"]["deploy"]["replicas"])]
    for url in replicas:
        jwks = requests.get(f"{url}/.well-known/jwks.json", timeout=5).json()
        assert [k["kid"] for k in jwks["keys"]] == [manifest["keys"][0]["kid"]]
    stack.hosts["proxy:8000"] = replicas[0].removeprefix("http://")  # nginx itself is not ours
    resource = stack.start("resource")

    # The wiring agrees end to end: a token from a replica is accepted by the resource service.
    users = stack.run(
        "migrate", "authserver", "users", "create", "alice", "--password-stdin", stdin="correct horse battery staple\n"
    )
    assert users.returncode == 0, users.stderr
    created = stack.run(
        "migrate",
        "authserver",
        "clients",
        "create",
        "--name",
        "app",
        "--grant",
        "password",
        "--scope",
        "read",
        "--first-party",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    reply = requests.post(
        f"{replicas[-1]}/oauth/token",
        auth=(client["client_id"], client["client_secret"]),
        data={"grant_type": "password", "username": "alice", "password": "correct horse battery staple"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    data = requests.get(
        f"{resource}/user/data", timeout=10, headers={"Authorization": f"Bearer {reply.json()['access_token']}"}
    )
    assert data.status_code == 200, data.text
    assert data.json()["scope"] == ["read"]
    assert requests.get(f"{resource}/user/data", timeout=5).status_code == 401


def _address() -> str:
    return "10.{}.{}.{}".format(*(random.randrange(1, 255) for _ in range(3)))


def _through_nginx(client_ip: str, supplied: str | None = None) -> dict[str, str]:
    """The X-Forwarded-For nginx sends: what the client supplied, then ``$remote_addr`` appended."""
    return {"X-Forwarded-For": f"{supplied}, {client_ip}" if supplied else client_ip}


@pytest.mark.live
def test_behind_the_compose_proxy_one_clients_failed_logins_do_not_throttle_everyone(stack):
    """Issue 12: every request reaches the server from nginx's address. 20 failures from one client
    (forging X-Forwarded-For) must throttle that client only, not alice's and bob's correct logins."""
    assert stack.run("keys").returncode == 0
    migrate = stack.run("migrate")
    assert migrate.returncode == 0, migrate.stderr
    for username in ("alice", "bob"):
        created = stack.run(
            "migrate",
            "authserver",
            "users",
            "create",
            username,
            "--password-stdin",
            stdin=f"{username} correct horse battery\n",
        )
        assert created.returncode == 0, created.stderr
    created = stack.run(
        "migrate",
        "authserver",
        "clients",
        "create",
        "--name",
        "app",
        "--grant",
        "password",
        "--scope",
        "read",
        "--first-party",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    url = stack.start("server")
    ip_max_failures = 20  # the compose file sets no AUTHSERVER_IP_MAX_FAILURES: the default
    assert "AUTHSERVER_IP_MAX_FAILURES" not in stack.env("server")

    def login(username: str, password: str, headers: dict[str, str]) -> requests.Response:
        return requests.post(
            f"{url}/oauth/token",
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": "password", "username": username, "password": password},
            headers=headers,
            timeout=10,
        )

    attacker = _address()
    made_up = [f"nobody-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    for i in range(ip_max_failures):
        reply = login(made_up[i % 5], "wrong password", _through_nginx(attacker, supplied=_address()))
        assert reply.status_code == 400, reply.text
    for username in ("alice", "bob"):
        reply = login(username, f"{username} correct horse battery", _through_nginx(_address()))
        assert reply.status_code == 200, reply.text
    # The attacker itself is throttled, whatever X-Forwarded-For it sends.
    reply = login("alice", "alice correct horse battery", _through_nginx(attacker, supplied=_address()))
    assert reply.status_code == 429, reply.text
