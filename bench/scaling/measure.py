"""bench/scaling/run's driver: each operation N times against ``authserver serve`` (production settings), and
what the window cost PostgreSQL (pgcost.py) and both sides' CPU (bench/benchkit/procstat.py).

Two passes over one database. Pass 1 (CPU; ``--rounds`` rounds, operations alternating, median per
operation): CPU of the server and of PostgreSQL (our database's backends plus the cluster's shared
processes) per request, and WAL/rows. Pass 2 (statements): ``log_statement = all`` on our database, a
restarted server (new sessions), one round; its CPU is not used (logging costs CPU). Requests are
sequential, one keep-alive connection: counts per request are exact, and CPU is read as ratios within the run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pgcost  # noqa: E402
from benchkit import procstat  # noqa: E402
from benchkit.server import Credentials  # noqa: E402
from benchkit.server import Deployment  # noqa: E402
from benchkit.servers import ServerKind  # noqa: E402

CALLBACK = "https://app.bench.invalid/callback"
OPERATIONS = ("refresh", "password", "client_credentials", "introspect", "authorize", "authorization_code")


class Load:
    """The clients, and a batch of each operation: ``prepare(op, n)`` does the set-up outside the window and
    returns the n requests to time."""

    def __init__(self, dep: Deployment, user: Credentials) -> None:
        self.dep, self.user, self.http = dep, user, requests.Session()
        self.service = dep.client_create("bench-service", ["client_credentials"])
        self.rs = dep.client_create("bench-rs", ["client_credentials"], "--introspect")
        self.code_app = dep.client_create(
            "bench-code", ["authorization_code", "refresh_token"], "--first-party", "--redirect-uri", CALLBACK,
            scope="openid read",
        )  # fmt: skip
        self.access_tokens: list[str] = []
        self.cookies = ""
        self.codes: list[tuple[str, str]] = []

    def post(self, path: str, auth: dict, data: dict, expect: int = 200) -> requests.Response:
        basic = base64.b64encode(f"{auth['client_id']}:{auth['client_secret']}".encode()).decode()
        r = self.http.post(self.dep.base_url + path, data=data, headers={"Authorization": f"Basic {basic}"}, timeout=30)
        if r.status_code != expect:
            raise RuntimeError(f"{path} {data.get('grant_type', '')}: {r.status_code} {r.text[:300]}")
        return r

    def prepare(self, op: str, n: int) -> list[Callable[[], None]]:
        app = {"client_id": self.user.client_id, "client_secret": self.user.client_secret}
        if op == "refresh":
            chain = [self.dep.password_grant(self.user, self.http)["refresh_token"]]
            self.access_tokens = []

            def refresh() -> None:
                body = self.post("/oauth/token", app, {"grant_type": "refresh_token", "refresh_token": chain[0]}).json()
                chain[0] = body["refresh_token"]
                self.access_tokens.append(body["access_token"])

            return [refresh] * n
        if op == "password":
            return [lambda: self.dep.password_grant(self.user, self.http) and None] * n
        if op == "client_credentials":
            return [lambda: self.post("/oauth/token", self.service, {"grant_type": "client_credentials"}) and None] * n
        if op == "introspect":
            tokens = list(self.access_tokens[:n])
            return [lambda t=t: self.introspect(t) for t in tokens]
        if op == "authorize":
            self.sign_in()
            self.codes = []
            return [self.authorize] * n
        if op == "authorization_code":
            codes, self.codes = self.codes, []
            return [lambda c=c: self.redeem(*c) for c in codes]
        raise ValueError(op)

    def introspect(self, token: str) -> None:
        if not self.post("/oauth/introspect", self.rs, {"token": token}).json().get("active"):
            raise RuntimeError("introspection: token not active")

    # ------------------------------------------------------------ the code flow (a returning, signed-in user)

    def _authorize_url(self) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = {
            "response_type": "code", "client_id": self.code_app["client_id"], "redirect_uri": CALLBACK,
            "scope": "openid read", "state": secrets.token_urlsafe(8), "code_challenge": challenge,
            "code_challenge_method": "S256",
        }  # fmt: skip
        return self.dep.base_url + "/oauth/authorize?" + requests.compat.urlencode(query), verifier

    def _remember(self, response: requests.Response) -> None:
        # The cookies are __Host-/Secure (https issuer); requests would not send them over http://127.0.0.1.
        jar = dict(c.split("=", 1) for c in self.cookies.split("; ") if "=" in c)
        for header in response.raw.headers.getlist("Set-Cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            jar[name.strip()] = value
        self.cookies = "; ".join(f"{k}={v}" for k, v in jar.items())

    def sign_in(self) -> None:
        url, _ = self._authorize_url()
        page = self.http.get(url, allow_redirects=False, timeout=30, headers={"Cookie": self.cookies})
        self._remember(page)
        if page.status_code == 302:
            return
        fields = {
            html.unescape(m[0]): html.unescape(m[1])
            for m in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
        }
        fields.update(username=self.user.username, password=self.user.password)
        done = self.http.post(
            self.dep.base_url + "/oauth/authorize", data=fields, allow_redirects=False, timeout=30,
            headers={"Cookie": self.cookies},
        )  # fmt: skip
        self._remember(done)
        if done.status_code != 303:
            raise RuntimeError(f"sign-in: {done.status_code} {done.text[:300]}")

    def authorize(self) -> None:
        url, verifier = self._authorize_url()
        r = self.http.get(url, allow_redirects=False, timeout=30, headers={"Cookie": self.cookies})
        code = parse_qs(urlsplit(r.headers.get("Location", "")).query).get("code")
        if r.status_code != 302 or not code:
            raise RuntimeError(f"authorize: {r.status_code} {r.text[:300]}")
        self.codes.append((code[0], verifier))

    def redeem(self, code: str, verifier: str) -> None:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
        self.post("/oauth/token", self.code_app, data)


def window(load: Load, db: pgcost.Database, op: str, n: int, server_pid: int) -> dict[str, Any]:
    batch = load.prepare(op, n)
    offset, start = db.log_offset(), pgcost.wal_insert_lsn()
    before = procstat.snapshot(server_pid, db.name)
    for request in batch:
        request()
    after = procstat.snapshot(server_pid, db.name)
    end = pgcost.wal_flush_lsn()
    time.sleep(0.3)  # the log lines of the last request
    cpu = procstat.cpu_delta(before, after)
    wal = db.wal(start, end)
    return {"n": len(batch), "server_ms": cpu.server_ms, "pg_ms": cpu.postgres_ms, "box_busy_ms": cpu.machine_busy_ms,
            "wal": wal, "statements": db.statements_since(offset)}  # fmt: skip


def per(value: float, n: int) -> str:
    return f"{value / n:.2f}" if n else "-"


def report(args: argparse.Namespace, cpu: dict[str, list[dict]], counts: dict[str, dict], notes: list[str]) -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"# Database cost per request ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {sha})", "",
        f"`{args.command_line}`; PostgreSQL {pgcost.admin('SHOW server_version')}, {procstat.os.cpu_count()} CPUs "
        "shared with other engineers' test runs; `authserver serve` 2 workers x 2 threads, production settings "
        "(argon2 defaults). Sequential requests on one keep-alive connection.", "",
        *[f"- {note}" for note in notes], "",
        "## Counts (pass 2, exact; WAL and rows: pg_waldump records of this database only)", "",
        "| operation | n | statements/req | commits/req | rows written/req | index entries/req | WAL rec B/req "
        "| WAL with FPI B/req | full pages/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    details = []
    for op in OPERATIONS:
        w = counts[op]
        n, wal, st = w["n"], w["wal"], w["statements"]
        rows = sum(v for (_, kind), v in wal.rows.items() if kind != "locked")
        lines.append(
            f"| {op} | {n} | {per(sum(st.values()), n) if st is not None else 'n/a'} | {per(wal.commits, n)} "
            f"| {per(rows, n)} | {per(sum(wal.index_entries.values()), n)} | {per(wal.rec_bytes, n)} "
            f"| {per(wal.tot_bytes, n)} | {per(wal.full_pages, n)} |"
        )
        by_table = ", ".join(f"{t} {k} {per(v, n)}" for (t, k), v in sorted(wal.rows.items()))
        kinds = ", ".join(f"{k} {per(v, n)}" for k, v in sorted((st or {}).items()))
        details.append(f"- **{op}**: rows/req: {by_table or 'none'}; statements/req by keyword: {kinds or 'none'}")
    lines += ["", *details, "", "## CPU per request (pass 1, median of rounds; ms)", "",
              "| operation | PostgreSQL ms/req | server ms/req | PG / PG of a refresh | box busy ms/req |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    medians = {op: {k: statistics.median(r[k] / r["n"] for r in cpu[op]) for k in ("pg_ms", "server_ms",
               "box_busy_ms")} for op in OPERATIONS}  # fmt: skip
    base = medians["refresh"]["pg_ms"] or 1
    for op in OPERATIONS:
        m = medians[op]
        lines.append(f"| {op} | {m['pg_ms']:.3f} | {m['server_ms']:.3f} | {m['pg_ms'] / base:.2f} "
                     f"| {m['box_busy_ms']:.3f} |")  # fmt: skip
    lines += ["", "CPU from /proc (utime+stime, 10 ms ticks) around each batch; PostgreSQL = the backends of this "
              "database and the cluster's shared processes. Box busy includes everything else on the machine.",
              ""]  # fmt: skip
    return "\n".join(lines)


def plain(value: Any) -> Any:
    """JSON for the report's objects (WalCost, its counters keyed by (table, kind))."""
    if isinstance(value, pgcost.WalCost):
        return {k: ({"/".join(map(str, kk)) if isinstance(kk, tuple) else kk: vv for kk, vv in v.items()}
                    if isinstance(v, dict) else v) for k, v in vars(value).items()}  # fmt: skip
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--command-line", default="bench/scaling/run")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dep = Deployment(REPO, args.run_dir, args.db)
    db = pgcost.Database(args.db)
    sizes = {op: args.logins if op == "password" else args.requests for op in OPERATIONS}
    try:
        user = dep.provision()
        load = Load(dep, user)
        db.load_relations()
        kind = ServerKind.parse("serve")
        dep.start(kind)
        assert dep.server is not None
        for op in OPERATIONS:  # warm-up: connections, caches, the first page of each table
            for request in load.prepare(op, 5):
                request()
        cpu: dict[str, list[dict]] = {op: [] for op in OPERATIONS}
        for round_ in range(args.rounds):
            print(f"scaling: CPU round {round_ + 1}/{args.rounds}", file=sys.stderr, flush=True)
            for op in OPERATIONS:
                cpu[op].append(window(load, db, op, sizes[op], dep.server.process.pid))
        dep.stop()
        db.log_statements(True)
        dep.start(kind)
        for op in OPERATIONS:
            for request in load.prepare(op, 5):
                request()
        print("scaling: counting pass (log_statement = all on this database)", file=sys.stderr, flush=True)
        counts = {op: window(load, db, op, sizes[op], dep.server.process.pid) for op in OPERATIONS}
        notes = [*dep.notes]
        if db.log_offset() < 0:
            notes.append(f"{db.log_path} is not readable: no statement counts")
        text = report(args, cpu, counts, notes)
    finally:
        dep.stop()
        db.log_statements(False)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = REPO / "bench" / "results" / f"{stamp}-{sha}-scaling"
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"counts": counts, "cpu": cpu}, default=plain, indent=1))
    print(f"scaling: wrote {out.with_suffix('.md').relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
