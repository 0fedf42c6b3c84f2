"""docker-compose.yml cannot drift from the real entry points: every service built from our image
runs here with its own command and environment, compose hosts mapped to local ones (PostgreSQL on
127.0.0.1 with a fresh database, Redis on 127.0.0.1, every 0.0.0.0 listener on a free local port).
The file itself is checked too: keys in the database (the replicas share nothing else), the admin and
management listeners never published, the healthcheck on the management listener's /readyz."""

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

import psycopg
import pytest
import requests
import yaml
from conftest import PG_ADMIN_URL
from conftest import ROOT
from conftest import _free_port
from conftest import _pg_admin

from authserver.testing.servers import wait_ready

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
    assert services["migrate"]["command"] == ["authserver", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # The first key goes into the table the migration creates.
    assert services["keys"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert len({svc["image"] for svc in ours(compose).values()}) == 1  # one image, built once
    assert "upstream authserver" in compose["configs"]["proxy_conf"]["content"]


def test_compose_replicas_share_nothing_but_the_database():
    """The database key store: no keys volume, no keys directory, on every service that runs the server's code."""
    compose = load_compose()
    for name, service in ours(compose).items():
        assert not service.get("volumes"), f"{name} mounts {service.get('volumes')}"
        if name != "resource":
            assert service["environment"]["AUTHSERVER_KEYS_STORE"] == "database", name
            assert "AUTHSERVER_KEYS_DIR" not in service["environment"], name
    assert set(compose["volumes"]) == {"pgdata"}
    assert mounts(compose["services"]["postgres"]) == {"/var/lib/postgresql/data": "rw"}


def _published(service: dict) -> set[int]:
    """Container ports a service publishes on the host (short or long syntax)."""
    ports = set()
    for entry in service.get("ports", []):
        target = entry["target"] if isinstance(entry, dict) else str(entry).split(":")[-1].split("/")[0]
        ports.add(int(target))
    return ports


def test_compose_admin_and_management_listeners_are_never_published():
    compose = load_compose()
    env = compose["services"]["server"]["environment"]
    admin, management = env["AUTHSERVER_ADMIN_BIND"], env["AUTHSERVER_MANAGEMENT_BIND"]
    # Bound on every interface of the container (so a container of this network, or the healthcheck,
    # reaches them), on ports apart from the public one ...
    assert admin == "0.0.0.0:9001" and management == "0.0.0.0:9000"
    # ... and published by no service, nor routed by nginx: the host and the proxy see the public port only.
    for name, service in compose["services"].items():
        assert not _published(service) & {9000, 9001}, name
    assert "ports" not in compose["services"]["server"]
    nginx = compose["configs"]["proxy_conf"]["content"]
    assert re.findall(r"server\s+([\w.-]+:\d+)", nginx) == ["server:8000"]
    assert "9000" not in nginx and "9001" not in nginx


def test_compose_healthcheck_asks_the_management_listener_for_readiness():
    server = load_compose()["services"]["server"]
    probe = " ".join(server["healthcheck"]["test"])
    port = server["environment"]["AUTHSERVER_MANAGEMENT_BIND"].rsplit(":", 1)[1]
    assert re.search(rf"http://127\.0\.0\.1:{port}/readyz\b", probe), probe
    assert ":8000" not in probe, "not the public listener"


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

    def __init__(self, database_url: str) -> None:
        self.compose = load_compose()
        self.hosts = {"postgres:5432": database_url, "redis:6379": "127.0.0.1:6379"}
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
            if re.fullmatch(r"0\.0\.0\.0:\d+", value):  # a listener (admin, management): a free local port
                value = f"127.0.0.1:{_free_port()}"
            env[key] = value
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

    def start(self, name: str, path: str = "/healthz") -> str:
        argv, port = self.command(name)
        log_path = Path(tempfile.mkstemp(prefix=f"compose-{name}-", suffix=".log")[1])
        with open(log_path, "wb") as log:
            process = subprocess.Popen(argv, env=self.env(name), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append((process, log_path))
        url = f"http://127.0.0.1:{port}"
        if wait_ready(url, process, 60, path=path):
            return url
        pytest.fail(f"service {name} did not answer {path}:\n{log_path.read_text()[-3000:]}")

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
    stack = Stack(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    try:
        yield stack
    finally:
        stack.stop()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.live
def test_every_service_of_ours_starts_with_its_compose_command_and_environment(stack):
    migrate = stack.run("migrate")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    for _ in range(2):  # `keys` is idempotent: the second `compose up` must succeed too
        keys = stack.run("keys")
        assert keys.returncode == 0, keys.stdout + keys.stderr
    listed = stack.run("keys", "authserver", "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [key] = json.loads(listed.stdout)
    assert key["state"] == "active"
    with psycopg.connect(stack.hosts["postgres:5432"]) as conn:
        [pem] = conn.execute("SELECT private_key FROM signing_keys").fetchone()
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "encrypted with the passphrase"

    # Readiness from the public side (JWKS served: keys loaded); the listeners of the environment get free ports.
    replicas = [
        stack.start("server", path="/.well-known/jwks.json")
        for _ in range(stack.compose["services"]["server"]["deploy"]["replicas"])
    ]
    for url in replicas:
        jwks = requests.get(f"{url}/.well-known/jwks.json", timeout=5).json()
        assert [k["kid"] for k in jwks["keys"]] == [key["kid"]], "every replica serves the database's key"
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
    migrate = stack.run("migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert stack.run("keys").returncode == 0
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
    url = stack.start("server", path="/.well-known/jwks.json")
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
