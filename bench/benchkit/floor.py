"""The floor reference: ``bench/floor/floor_app.py`` under the same refresh load as the real server.

Same machine, same fresh database (its own table), same wrk script and connection count, same CPU
accounting, and the same HTTP server with the same workers and threads as the server under test
(``kind``; ``../shared/PERFORMANCE-NOTES.md`` ran it under 3 gunicorn sync workers), so the ratio
means what our code adds on top of the serving stack. Its req/s and
CPU per request say what the refresh target costs on *this* machine with this stack at the least
(the notes measured 1,450 req/s and 1.13 ms per request elsewhere), so a run on a slower machine
can be told apart from a slower server.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authserver.testing.ports import free_port
from authserver.testing.servers import LiveServer
from authserver.testing.servers import start_command
from benchkit.scenarios import Invocation
from benchkit.scenarios import refresh_pool
from benchkit.servers import AppTarget
from benchkit.servers import ServerKind
from benchkit.wrkrun import measure
from benchkit.wrkrun import warm_up

FLOOR_DIR = Path(__file__).resolve().parent.parent / "floor"
LABEL = "floor"


def measure_floor(
    *, repo: Path, run_dir: Path, database: str, duration: int, warmup: int, connections: int, kind: ServerKind
) -> dict:
    """Start the floor app, run warm-up + measured chained refresh, stop it; the Measurement as a dict."""
    sys.path.insert(0, str(FLOOR_DIR))
    import floor_app  # bench-only module, not on the package path

    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = run_dir / "floor-key.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    client_id, secret = "floor-client", secrets.token_urlsafe(32)
    phases = 2 if warmup > 0 else 1
    tokens = floor_app.seed(url, client_id, refresh_pool(connections) * phases)
    env = {
        "FLOOR_DATABASE_URL": url,
        "FLOOR_KEY_PEM": str(key_file),
        "FLOOR_CLIENT_ID": client_id,
        "FLOOR_CLIENT_DIGEST": floor_app.digest(secret).hex(),
    }
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    def rejects_a_bad_token(base_url: str) -> bool:  # the handler's own 400: the app is loaded
        return (
            requests.post(
                base_url + "/oauth/token", data={"refresh_token": "x"}, headers={"Authorization": basic}, timeout=2
            ).status_code
            == 400
        )

    with _served(run_dir, AppTarget("floor_app", "create_app", True), kind, env, LABEL, rejects_a_bad_token) as server:
        base_url = server.url
        script = FLOOR_DIR.parent / "scenarios" / "refresh.lua"
        per_phase = refresh_pool(connections)
        common = {"script": script, "base_url": base_url, "connections": connections, "threads": 1}
        if warmup > 0:
            warm_up(
                invocation=_invocation(run_dir, f"{LABEL}-warmup", tokens[per_phase:], basic),
                seconds=warmup,
                work=run_dir,
                label=f"{LABEL}-warmup",
                **common,
            )
        return measure(
            scenario=LABEL,
            invocation=_invocation(run_dir, LABEL, tokens[:per_phase], basic),
            seconds=duration,
            workers=kind.workers,
            master_pid=server.process.pid,
            worker_pids=server.worker_pids() or [server.process.pid],
            database=database,
            work=run_dir,
            **common,
        ).as_dict()


def measure_static(
    *,
    repo: Path,
    run_dir: Path,
    database: str,
    duration: int,
    warmup: int,
    connections: int,
    kind: ServerKind,
    body_bytes: int,
) -> dict:
    """``static_app.py`` (fixed bytes, nothing else) under the server's ``kind``, with the jwks script."""
    env = {"STATIC_BYTES": str(body_bytes)}

    def answers(base_url: str) -> bool:
        return requests.get(base_url, timeout=2).status_code == 200

    with _served(run_dir, AppTarget("static_app", "app", False), kind, env, "static", answers) as server:
        base_url = server.url
        common = {
            "script": FLOOR_DIR.parent / "scenarios" / "jwks.lua",
            "base_url": base_url,
            "connections": connections,
            "threads": 1,
        }
        invocation = Invocation("/", {})
        if warmup > 0:
            warm_up(invocation=invocation, seconds=warmup, work=run_dir, label="static-warmup", **common)
        return measure(
            scenario="static",
            invocation=invocation,
            seconds=duration,
            workers=kind.workers,
            master_pid=server.process.pid,
            worker_pids=server.worker_pids() or [server.process.pid],
            database=database,
            work=run_dir,
            **common,
        ).as_dict()


@contextmanager
def _served(
    run_dir: Path, app: AppTarget, kind: ServerKind, env: dict[str, str], label: str, answers: Callable[[str], bool]
) -> Iterator[LiveServer]:
    """``app`` under ``kind`` on a free port, run from bench/floor, ready once ``answers(url)`` and every worker
    runs (30 s at most), stopped on the way out."""
    port = free_port()
    server = start_command(
        kind.argv(app, port),
        {**_base_env(), **env},
        port,
        label=f"{label} under {kind.label}",
        workers=kind.processes,
        cwd=FLOOR_DIR,
        log_path=run_dir / f"floor-{label}-{kind.label.replace(':', '-')}.log",
        probe=answers,
        seconds=30,
        own_session=True,
    )
    try:
        yield server
    finally:
        server.stop(timeout=20)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AUTHSERVER_", "GUNICORN_"))}


def _invocation(run_dir: Path, label: str, tokens: list[str], basic: str) -> Invocation:
    tokens_file = run_dir / f"floor-tokens-{label}.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    return Invocation("/oauth/token", {"BENCH_BASIC_AUTH": basic, "BENCH_TOKENS_FILE": str(tokens_file)})
