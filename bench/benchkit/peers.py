"""Peers (``bench/run --peers``): other authorization servers on the same wrk scripts, in the same run.

node-oidc-provider (bench/peers/: package.json + package-lock.json, installed by ``npm ci`` here when
its node_modules is missing or older than the lock file): one Node.js process, its in-memory adapter,
``rotateRefreshToken`` on, JWT access tokens signed RS256 for one resource (resource indicators).
Its refresh tokens are minted through a bench-only grant type (``oidc_provider_peer.mjs``), one
family each, as the driver mints ours with the password grant. Same connection count, warm-up,
duration and CPU accounting as our scenarios (server CPU is the node process; it has no database).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from authserver.testing.ports import free_port
from authserver.testing.servers import LiveServer
from authserver.testing.servers import start_command
from benchkit.scenarios import Invocation
from benchkit.scenarios import refresh_pool
from benchkit.wrkrun import measure
from benchkit.wrkrun import warm_up

PEERS_DIR = Path(__file__).resolve().parent.parent / "peers"
SCENARIOS = ("refresh", "client_credentials", "jwks")
MINT = "urn:authserver:bench:mint"


def install() -> str:
    """``npm ci`` in bench/peers when needed; the installed oidc-provider version."""
    modules = PEERS_DIR / "node_modules"
    lock = PEERS_DIR / "package-lock.json"
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for --peers (apt-get install -y nodejs npm)")
    marker = modules / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS_DIR, check=True, capture_output=True)
    import json

    return json.loads((modules / "oidc-provider" / "package.json").read_text())["version"]


def measure_oidc_provider(*, run_dir: Path, database: str, duration: int, warmup: int, connections: int) -> dict:
    """Each peer scenario's Measurement (as a dict) by name, plus ``version``."""
    version = install()
    secret = secrets.token_urlsafe(24)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}, "PEER_PORT": str(port)}
    env["PEER_CLIENT_SECRET"] = secret
    server = start_command(
        ["node", str(PEERS_DIR / "oidc_provider_peer.mjs")],
        env,
        port,
        label="node-oidc-provider",
        cwd=PEERS_DIR,
        path="/.well-known/openid-configuration",
        log_path=run_dir / "peer-oidc-provider.log",
        seconds=30,
        own_session=True,
    )
    basic = "Basic " + base64.b64encode(f"bench-app:{secret}".encode()).decode()
    results: dict = {"version": version}
    try:
        per_phase = refresh_pool(connections)
        for name in SCENARIOS:
            common = {
                "script": PEERS_DIR.parent / "scenarios" / f"{name}.lua",
                "base_url": server.url,
                "connections": connections,
                "threads": 1,
            }
            if warmup > 0:
                tokens = _mint(server, basic, per_phase) if name == "refresh" else []
                warm_up(
                    invocation=_invocation(run_dir, name, basic, tokens, 1),
                    seconds=warmup,
                    work=run_dir,
                    label=f"peer-{name}-warmup",
                    **common,
                )
            # Minted only now: the in-memory adapter is an LRU of 1,000 entries, and a warm-up's rotations
            # evict tokens minted before it (every measured chain then broke at once).
            tokens = _mint(server, basic, per_phase) if name == "refresh" else []
            invocation = _invocation(run_dir, name, basic, tokens, 0)
            results[name] = measure(
                scenario=f"oidc-provider {name}",
                invocation=invocation,
                seconds=duration,
                workers=1,
                master_pid=server.process.pid,
                worker_pids=[server.process.pid],
                database=database,
                work=run_dir,
                **common,
            ).as_dict()
    finally:
        server.stop(timeout=10)
    return results


def _invocation(run_dir: Path, name: str, basic: str, tokens: list[str], phase: int) -> Invocation:
    if name == "jwks":
        return Invocation("/jwks", {})
    env = {"BENCH_BASIC_AUTH": basic}
    if name == "refresh":
        tokens_file = run_dir / f"peer-tokens-{phase}.txt"
        tokens_file.write_text("\n".join(tokens) + "\n")
        env["BENCH_TOKENS_FILE"] = str(tokens_file)
    return Invocation("/token", env)


def _mint(server: LiveServer, basic: str, count: int) -> list[str]:
    local = threading.local()

    def one(_: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        reply = local.session.post(
            server.url + "/token", data={"grant_type": MINT}, headers={"Authorization": basic}, timeout=30
        )
        reply.raise_for_status()
        return reply.json()["refresh_token"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def markdown(peer: dict, ours: dict[str, dict]) -> str:
    """The peer's rows beside ours, and our ratio to it."""
    lines = [
        "",
        f"## Peer: node-oidc-provider {peer.get('version', '?')} (one process, in memory), same run, same scripts",
        "",
        "| scenario | peer req/s | peer p99 ms | peer CPU ms/req | peer errors | ours req/s | ours p99 ms "
        "| ours CPU ms/req (server + PG) | ours / peer req/s | ours / peer CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SCENARIOS:
        p, o = peer.get(name), ours.get(name)
        if not p:
            continue
        errors = p["non_2xx"] + p["socket_errors"] + p["chain_breaks"]
        row = f"| {name} | {p['rps']:,.1f} | {p['p99_ms']:.1f} | {p['cpu_ms_per_req']:.2f} | {errors} | "
        if o:
            row += (
                f"{o['rps']:,.1f} | {o['p99_ms']:.1f} | {o['cpu_ms_per_req']:.2f} | "
                f"{o['rps'] / max(p['rps'], 1e-9):.2f}x | {o['cpu_ms_per_req'] / max(p['cpu_ms_per_req'], 1e-9):.2f}x |"
            )
        else:
            row += "| | | | |"
        lines.append(row)
    return "\n".join(lines) + "\n"
