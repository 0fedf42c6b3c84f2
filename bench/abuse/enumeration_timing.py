#!/usr/bin/env python
"""Can a failed login tell unknown user, wrong password, disabled user and locked user apart?

Starts gunicorn with the production argon2id parameters (19456 KiB, t=2, p=1) on a fresh database,
provisions users, locks one by failing BRUTE_FORCE_MAX_FAILURES times, then sends the four kinds of
failed login interleaved (the order shuffled every round), one at a time, and prints per case the
statuses, the SHA-256 of the bodies and the latency distribution, and the largest relative
difference between the medians (target: under 10 %). Exit status 1 if the answers differ.

    .venv/bin/python bench/abuse/enumeration_timing.py [--rounds 200] [--sqlite] [--redis URL]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
import uuid
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
MAX_FAILURES = 3
PASSWORD = "correct horse battery staple"
WRONG = "not-the-password-42"
CASES = ("unknown user", "wrong password", "disabled user", "locked user")


def provision(url: str, keys: Path, per_case: int, tag: str) -> str:
    """Users for each case (each wrong/disabled user fails at most MAX_FAILURES - 1 times); a client."""
    from authserver.admin import clients
    from authserver.admin import users
    from authserver.extensions import db

    app = create_app(app_config(url, keys, **ARGON2))
    with app.app_context():
        for i in range(per_case):
            users.create_user(f"wrong-{tag}-{i}", PASSWORD)
            users.create_user(f"disabled-{tag}-{i}", PASSWORD)
            users.disable_user(f"disabled-{tag}-{i}")
        users.create_user(f"locked-{tag}", PASSWORD)
        _client, secret = clients.create_client(
            name="bench", client_id="bench", grant_types=["password"], scopes=["read"], first_party=True
        )
        db.engine.dispose()
    return secret


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="measured requests per case (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured rounds first (default 10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="SQLite in a temporary directory, not PostgreSQL")
    parser.add_argument("--redis", metavar="URL", help="count failures in Redis (default: in the database)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="abuse-enum-"))
    keys = development_keys(tmp / "keys")
    dbname = None
    if args.sqlite:
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        dbname = create_pg_database("authserver_abuse")
        url = pg_url(dbname)
    tag = uuid.uuid4().hex[:8]  # usernames unique per run: a shared Redis never mixes runs
    total = args.rounds + args.warmup
    env = {f"AUTHSERVER_{k}": str(v) for k, v in ARGON2.items()}
    env.update(
        AUTHSERVER_BRUTE_FORCE_MAX_FAILURES=str(MAX_FAILURES),
        AUTHSERVER_BRUTE_FORCE_WAIT_INCREMENT="86400",
        AUTHSERVER_BRUTE_FORCE_MAX_WAIT="86400",
        AUTHSERVER_IP_MAX_FAILURES="1000000000",
        AUTHSERVER_GLOBAL_MAX_FAILURES="1000000000",
        AUTHSERVER_CLIENT_CACHE_SECONDS="5",
    )
    if args.redis:
        env["AUTHSERVER_REDIS_URL"] = args.redis
    server = None
    try:
        migrate(url, keys)
        per_case = -(-total // (MAX_FAILURES - 1))
        print(f"provisioning {2 * per_case + 1} users with argon2id m=19456 KiB t=2 p=1 ...", flush=True)
        secret = provision(url, keys, per_case, tag)
        server = start_server(
            Database("sqlite" if args.sqlite else "postgresql", url), keys, workers=args.workers, **env
        )
        session = requests.Session()
        session.auth = ("bench", secret)

        def login(username: str, password: str = WRONG) -> requests.Response:
            return session.post(
                f"{server.url}/oauth/token",
                timeout=30,
                data={"grant_type": "password", "username": username, "password": password},
            )

        for _ in range(MAX_FAILURES):
            login(f"locked-{tag}")
        check = login(f"locked-{tag}", PASSWORD)
        if check.status_code != 400 or "Retry-After" not in check.headers:
            print(
                f"the user did not lock ({check.status_code}, {check.headers.get('Retry-After')!r}): the throttle "
                "store is failing open (see the server log); cannot measure the locked case",
                file=sys.stderr,
            )
            print(server.log(), file=sys.stderr)
            return 2
        users = {case: iter(range(10**9)) for case in CASES}

        def username(case: str) -> str:
            n = next(users[case])
            return {
                "unknown user": f"ghost-{tag}-{n}",
                "wrong password": f"wrong-{tag}-{n // (MAX_FAILURES - 1)}",
                "disabled user": f"disabled-{tag}-{n // (MAX_FAILURES - 1)}",
            }.get(case, f"locked-{tag}")

        times: dict[str, list[float]] = {case: [] for case in CASES}
        answers: dict[str, set[tuple[int, str]]] = {case: set() for case in CASES}
        retry_after: dict[str, int] = dict.fromkeys(CASES, 0)
        order = list(CASES)
        for i in range(total):
            random.shuffle(order)
            for case in order:
                name = username(case)
                started = time.perf_counter()
                resp = login(name)
                elapsed = time.perf_counter() - started
                if i >= args.warmup:
                    times[case].append(elapsed * 1000)
                    answers[case].add((resp.status_code, hashlib.sha256(resp.content).hexdigest()[:16]))
                    retry_after[case] += "Retry-After" in resp.headers
        return report(args, times, answers, retry_after)
    finally:
        if server is not None:
            server.stop()
        if args.redis:  # this run's counters and lock (keys carry the run's tag)
            import redis

            conn = redis.Redis.from_url(args.redis)
            keys = list(conn.scan_iter(match=f"authserver:*{tag}*", count=1000))
            if keys:
                conn.delete(*keys)
        if dbname:
            drop_pg_database(dbname)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def report(args, times, answers, retry_after) -> int:
    store = "Redis" if args.redis else "database"
    print(
        f"\n{args.rounds} requests per case, interleaved, sequential; {'SQLite' if args.sqlite else 'PostgreSQL'}, "
        f"gunicorn -w {args.workers}, throttle store: {store}; load average {load_average()}\n"
    )
    print(f"{'case':<16} {'status / body sha256':<26} {'median ms':>10} {'p10':>8} {'p90':>8} {'p99':>8}  Retry-After")
    medians = {}
    for case, samples in times.items():
        q = statistics.quantiles(samples, n=100)
        medians[case] = statistics.median(samples)
        shown = ", ".join(f"{s} {h}" for s, h in sorted(answers[case]))
        print(
            f"{case:<16} {shown:<26} {medians[case]:>10.1f} {q[9]:>8.1f} {q[89]:>8.1f} {q[98]:>8.1f}"
            f"  {retry_after[case]}/{len(samples)}"
        )
    identical = len(set().union(*answers.values())) == 1
    spread = (max(medians.values()) - min(medians.values())) / min(medians.values())
    print(f"\nstatus and body identical across the four cases: {'yes' if identical else 'NO'}")
    print(f"max relative difference of medians: {spread:.1%} (target < 10%: {'met' if spread < 0.10 else 'NOT met'})")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
