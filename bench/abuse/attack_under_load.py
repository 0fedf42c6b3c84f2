#!/usr/bin/env python
"""Do legitimate refreshes keep their latency while wrong passwords hammer the token endpoint?

gunicorn (3 sync workers, production argon2id, default throttles, TRUSTED_PROXY_HOPS=1) on a fresh
PostgreSQL database. Several clients chain refresh tokens the whole time, one thread each; their
latency is measured in four phases of --phase seconds:

1. unloaded;
2. healthz (control): the same flood of the cheapest request there is, GET /healthz: what any flood
   at that concurrency costs 3 sync workers on this machine, whatever the throttles do;
3. one IP: a separate process with --attackers threads posts wrong passwords as fast as it can,
   no X-Forwarded-For (every attempt from 127.0.0.1), half at one real username, half at random ones;
4. many IPs: the same, each attempt with a random X-Forwarded-For and a random username (a botnet;
   only the global ceiling applies).

Prints the refresh p50/p99 per phase, the ratio to the unloaded p99 (target: within 2x) and the mix
of answers the attacker got. About 100 s with the defaults.

    .venv/bin/python bench/abuse/attack_under_load.py [--phase 20] [--attackers 8] [--clients 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

from authserver import create_app
from authserver.testing.apps import app_config
from authserver.testing.apps import development_keys
from authserver.testing.databases import Database
from authserver.testing.databases import create_pg_database
from authserver.testing.databases import drop_pg_database
from authserver.testing.databases import migrate
from authserver.testing.databases import pg_url
from authserver.testing.servers import start_server

ARGON2 = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_KIB": 19456, "ARGON2_PARALLELISM": 1}
PASSWORD = "correct horse battery staple"


def attack(url: str, auth: tuple[str, str], victim: str, seconds: float, threads: int, mode: str, out) -> None:
    """The attacker process: ``threads`` loops of wrong passwords (``mode`` "one IP" or "many IPs") or of
    ``GET /healthz`` (the control: the cheapest request there is) for ``seconds``; sends back the answer mix."""
    spread = mode == "many IPs"
    mix: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        session = requests.Session()
        session.auth = auth
        while time.monotonic() < deadline:
            username = victim if not spread and secrets.randbelow(2) else f"stuffed-{uuid.uuid4().hex[:10]}"
            botnet_ip = f"198.18.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
            headers = {"X-Forwarded-For": botnet_ip} if spread else {}
            try:
                if mode == "healthz":
                    resp = session.get(f"{url}/healthz", timeout=30)
                else:
                    resp = session.post(
                        f"{url}/oauth/token",
                        headers=headers,
                        timeout=30,
                        data={"grant_type": "password", "username": username, "password": "guess"},
                    )
                kind = f"{resp.status_code} {resp.json().get('error', '')}".strip()
                if resp.status_code == 400 and "Retry-After" in resp.headers:
                    kind += " (locked)"
            except (requests.RequestException, ValueError) as exc:
                kind = type(exc).__name__
            with lock:
                mix[kind] += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(dict(mix))


class Refresher(threading.Thread):
    """One client chaining its refresh tokens; records (start time, latency ms, status)."""

    def __init__(self, url: str, client_id: str, secret: str, refresh_token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.stop = url, refresh_token, stop
        self.session = requests.Session()
        self.session.auth = (client_id, secret)
        self.samples: list[tuple[float, float, int]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            resp = self.session.post(
                f"{self.url}/oauth/token", timeout=60, data={"grant_type": "refresh_token", "refresh_token": self.token}
            )
            self.samples.append((started, (time.monotonic() - started) * 1000, resp.status_code))
            if resp.status_code != 200:
                raise RuntimeError(f"refresh failed: {resp.status_code} {resp.text}")
            self.token = resp.json()["refresh_token"]


def provision(url: str, keys: Path, clients_n: int) -> list[tuple[str, str]]:
    from authserver.admin import clients
    from authserver.admin import users
    from authserver.extensions import db

    app = create_app(app_config(url, keys, **ARGON2))
    out = []
    with app.app_context():
        users.create_user("alice", PASSWORD)
        users.create_user("victim", PASSWORD)
        for i in range(clients_n):
            _c, secret = clients.create_client(
                name=f"app{i}",
                client_id=f"app{i}",
                scopes=["read"],
                first_party=True,
                grant_types=["password", "refresh_token"],
            )
            out.append((f"app{i}", secret))
        db.engine.dispose()
    return out


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", type=float, default=20, help="seconds per phase (default 20)")
    parser.add_argument("--attackers", type=int, default=8, help="attacker concurrency (default 8)")
    parser.add_argument("--clients", type=int, default=4, help="legitimate refreshing clients (default 4)")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="abuse-load-"))
    keys = development_keys(tmp / "keys")
    dbname = create_pg_database("authserver_abuse")
    url = pg_url(dbname)
    server = None
    stop = threading.Event()
    try:
        migrate(url, keys)
        registered = provision(url, keys, args.clients)
        env = {f"AUTHSERVER_{k}": str(v) for k, v in ARGON2.items()}
        server = start_server(
            Database("postgresql", url),
            keys,
            workers=args.workers,
            AUTHSERVER_TRUSTED_PROXY_HOPS="1",
            AUTHSERVER_CLIENT_CACHE_SECONDS="5",
            **env,
        )
        refreshers = []
        for client_id, secret in registered:
            login = requests.post(
                f"{server.url}/oauth/token",
                auth=(client_id, secret),
                timeout=30,
                data={"grant_type": "password", "username": "alice", "password": PASSWORD},
            )
            login.raise_for_status()
            refreshers.append(Refresher(server.url, client_id, secret, login.json()["refresh_token"], stop))
        for r in refreshers:
            r.start()
        phases: list[tuple[str, float, float, dict[str, int]]] = []
        ctx = multiprocessing.get_context("spawn")
        for name in ("unloaded", "healthz", "one IP", "many IPs"):
            print(f"phase: {name} ({args.phase:.0f} s)", flush=True)
            mix: dict[str, int] = {}
            begin = time.monotonic()
            if name != "unloaded":
                results = ctx.Queue()
                proc = ctx.Process(
                    target=attack, args=(server.url, registered[0], "victim", args.phase, args.attackers, name, results)
                )
                proc.start()
                mix = results.get(timeout=args.phase + 120)
                proc.join()
            else:
                time.sleep(args.phase)
            phases.append((name, begin, time.monotonic(), mix))
            if any(not r.is_alive() for r in refreshers):
                raise RuntimeError("a refresher stopped")
        stop.set()
        for r in refreshers:
            r.join(70)
        samples = [s for r in refreshers for s in r.samples]
        return report(args, phases, samples)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        drop_pg_database(dbname)


def report(args, phases, samples) -> int:
    print(
        f"\ngunicorn -w {args.workers}, PostgreSQL, argon2id m=19456 KiB t=2; {args.clients} refreshing clients, "
        f"{args.attackers} attacker threads; load average {Path('/proc/loadavg').read_text().split()[0]}\n"
    )
    print(f"{'phase':<10} {'refreshes':>9} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 / unloaded':>15}  attacker")
    base = None
    for name, begin, end, mix in phases:
        lat = [ms for started, ms, _ in samples if begin <= started < end]
        p99 = percentile(lat, 99)
        base = base or p99
        total = sum(mix.values())
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])) if mix else "-"
        rate = f"{total / (end - begin):.0f}/s: " if mix else ""
        print(
            f"{name:<10} {len(lat):>9} {len(lat) / (end - begin):>7.1f} {statistics.median(lat):>8.1f} {p99:>8.1f}"
            f" {p99 / base:>14.2f}x  {rate}{shown}"
        )
    ratios = {name: percentile([ms for s, ms, _ in samples if b <= s < e], 99) / base for name, b, e, _ in phases}
    # Issue 7's target: a wrong-password stream from ONE IP; the many-IP phase is shown for information.
    one_ip = ratios["one IP"]
    print(
        f"\none-IP p99 ratio {one_ip:.2f}x (target within 2x: {'met' if one_ip <= 2 else 'NOT met'}); "
        f"many IPs {ratios['many IPs']:.2f}x (no target: every attempt there is a real argon2 verify)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
