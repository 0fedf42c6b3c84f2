#!/usr/bin/env python3
"""Signing-key rotation under load: no valid access token may fail verification.

Starts authserver as gunicorn (3 workers) on PostgreSQL with short timings (JWKS max-age 3 s, keys
reload 1 s, access tokens 5 s), issues client_credentials tokens continuously, and verifies every
token twice (at once, and again one second before it expires) with two independent verifiers that
honour the JWKS cache headers:

* PyJWT: ``jwt.PyJWKClient(jwks_uri, cache_jwk_set=True, lifespan=<max-age>)`` + ``jwt.decode``;
* panva/jose (node, ``verify_loop.mjs``): ``createRemoteJWKSet(..., {cacheMaxAge: <max-age>})`` +
  ``jwtVerify``.

Both are configured with the max-age the server sends and a refetch-on-unknown-kid cooldown equal
to it, so neither fetches the JWKS per token, nor early when a kid is unknown: a token signed with a
key their cached set lacks fails. That is the strict client the publish delay exists for.

Phase 1 (rotation): ``--rotations`` rotations through the CLI, each activated at the earliest moment
the CLI allows (``keys generate``, then ``keys activate KID`` retried from one second before the
publish delay ends until it is accepted; or ``keys rotate`` steps with ``--mode rotate``), a
``keys prune`` after each (which must remove nothing early), and ``keys prune`` again once removals
are due if ``--duration`` leaves time. Every failure of a valid token is counted; the figure must be 0.

Phase 2 (emergency): ``keys revoke <active kid> --yes`` while the load runs. A token signed by the
revoked key is re-verified every ``--probe-interval`` seconds through each verifier's cached JWKS;
the time from the revocation (the manifest write) until each verifier rejects it is the revoke
propagation, documented to be at most JWKS_MAX_AGE + KEYS_RELOAD_INTERVAL. Tokens signed by the
replacement key fail on these strict verifiers until their caches refresh (documented in
keys/README.md); they are counted separately, as is everything signed by the revoked key.

Run: ``.venv/bin/python bench/rotation/rotation_under_load.py`` (see README.md beside this file).
Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import heapq
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Any

import jwt
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
AUDIENCE = "https://api.rotation.test"
#: Short timings: publish delay = 3 + 1 = 4 s, revoke bound = 4 s, retire keep = 5 + 60 + 1 = 66 s.
TIMINGS = {"JWKS_MAX_AGE": 3, "KEYS_RELOAD_INTERVAL": 1, "ACCESS_TOKEN_TTL": 5, "ACCESS_TOKEN_MAX_TTL": 5,
           "KEY_ROTATION_PERIOD": 0}
LATE_MARGIN = 2.0  # the second check of each token runs this long before its exp
PROBE_TOLERANCE = 300  # clock tolerance of revoke probes: only the key may make them fail, never exp
#: Measurement slack on the revoke bound: the probe interval plus a response's time on the wire.
PROPAGATION_SLACK = 0.35
NO_MATCHING_KEY = "no_matching_key"
EXPIRED = "expired"


def log(start: float, message: str) -> None:
    print(f"[{time.monotonic() - start:7.2f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    database_url: str | None = None  # None: create a fresh database on pg_admin_url, drop it after
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    duration: float = 0.0  # minimum seconds of rotation-phase load (prunes happen once due within it)
    rotations: int = 3
    mode: str = "manual"  # manual: keys generate/activate/prune; rotate: keys rotate steps
    activate_at: str = "eligible"  # eligible: first moment the CLI accepts; after-delay: delay after generate
    workers: int = 3
    rate: float = 40.0  # tokens per second, all issuer threads together
    issuers: int = 2
    dwell: float = 0.5  # seconds between an activation and the next generate
    probe_interval: float = 0.1
    keep_workdir: bool = False
    verbose: bool = True


@dataclass
class Token:
    seq: int
    token: str
    kid: str
    iat: int
    exp: int
    issued_at: float  # wall clock when the response arrived
    phase: str


@dataclass
class Check:
    job_id: str
    token: Token
    kind: str  # now | late | probe
    tolerance: int
    due: float  # wall clock it was meant to run


# ---------------------------------------------------------------- verifiers


def _reason(code: str | None) -> str:
    return {"ERR_JWKS_NO_MATCHING_KEY": NO_MATCHING_KEY, "ERR_JWT_EXPIRED": EXPIRED}.get(code or "", code or "unknown")


class CountingJWKClient(jwt.PyJWKClient):
    """PyJWKClient that records each JWKS fetch (time and kids), to show it does not fetch per token."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetches: list[dict[str, Any]] = []

    def fetch_data(self) -> Any:
        started = time.time()
        data = super().fetch_data()
        self.fetches.append({"started_at": started, "at": time.time(),
                             "kids": [k.get("kid") for k in data.get("keys", [])]})
        return data


class PyJWTVerifier:
    name = "pyjwt"

    def __init__(self, jwks_uri: str, issuer: str, max_age: float, sink: Any) -> None:
        self.client = CountingJWKClient(jwks_uri, cache_jwk_set=True, lifespan=max_age, cooldown_duration=max_age,
                                        timeout=10)
        self.issuer, self.sink = issuer, sink
        self.queue: Queue[Check | None] = Queue()
        self.thread = threading.Thread(target=self._run, name="pyjwt-verifier", daemon=True)
        self.version = jwt.__version__

    def start(self) -> None:
        self.thread.start()

    def submit(self, check: Check) -> None:
        self.queue.put(check)

    def verify(self, token: str, tolerance: int) -> dict[str, Any]:
        kid = None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("typ") != "at+jwt":
                raise jwt.InvalidTokenError(f"typ is {header.get('typ')!r}, not at+jwt")
            signing_key = self.client.get_signing_key_from_jwt(token)
            jwt.decode(token, signing_key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.issuer,
                       leeway=tolerance, options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
        except jwt.PyJWKClientError as exc:
            code = NO_MATCHING_KEY if "Unable to find a signing key" in str(exc) else type(exc).__name__
            return {"ok": False, "kid": kid, "at": time.time(), "error": {"code": code, "message": str(exc)}}
        except jwt.ExpiredSignatureError as exc:
            return {"ok": False, "kid": kid, "at": time.time(), "error": {"code": EXPIRED, "message": str(exc)}}
        except jwt.PyJWTError as exc:
            return {"ok": False, "kid": kid, "at": time.time(),
                    "error": {"code": type(exc).__name__, "message": str(exc)}}
        return {"ok": True, "kid": kid, "at": time.time()}

    def _run(self) -> None:
        while True:
            check = self.queue.get()
            if check is None:
                return
            self.sink(self.name, check.job_id, self.verify(check.token.token, check.tolerance))

    def stats(self) -> dict[str, Any]:
        return {"fetches": self.client.fetches, "lifespan_s": self.client.jwk_set_cache.lifespan
                if self.client.jwk_set_cache else None, "cooldown_s": self.client.cooldown_duration}

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(10)


class JoseVerifier:
    """``node verify_loop.mjs``: tokens in on stdin, one JSON result per line out."""

    name = "jose"

    def __init__(self, jwks_uri: str, issuer: str, max_age: float, sink: Any) -> None:
        env = {**os.environ, "JWKS_URI": jwks_uri, "ISSUER": issuer, "AUDIENCE": AUDIENCE,
               "CACHE_MAX_AGE_MS": str(int(max_age * 1000)), "COOLDOWN_MS": str(int(max_age * 1000))}
        self.sink = sink
        self.process = subprocess.Popen(["node", str(HERE / "verify_loop.mjs")], cwd=HERE, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=1)
        self.write_lock = threading.Lock()
        self.ready = threading.Event()
        self.stats_event = threading.Event()
        self._stats: dict[str, Any] = {}
        self.version = "?"
        self.fatal: str | None = None
        self.thread = threading.Thread(target=self._read, name="jose-reader", daemon=True)
        self.thread.start()
        if not self.ready.wait(20):
            raise RuntimeError(f"node verify_loop.mjs did not start: {self.fatal or 'no ready line'}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            msg = json.loads(line)
            if msg.get("ready"):
                self.version = msg["jose"]
                self.ready.set()
            elif "stats" in msg:
                self._stats = msg["stats"]
                self.stats_event.set()
            elif "fatal" in msg:
                self.fatal = msg["fatal"]
            elif "id" in msg:
                job_id = msg.pop("id")
                if msg.get("error"):
                    msg["error"]["code"] = _reason(msg["error"].get("code"))
                self.sink(self.name, job_id, msg)

    def _write(self, obj: dict[str, Any]) -> None:
        with self.write_lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(obj) + "\n")
            self.process.stdin.flush()

    def submit(self, check: Check) -> None:
        self._write({"id": check.job_id, "token": check.token.token, "tolerance": check.tolerance})

    def stats(self) -> dict[str, Any]:
        self.stats_event.clear()
        self._write({"op": "stats"})
        self.stats_event.wait(10)
        return self._stats

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError), self.write_lock:
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.thread.join(5)


# ---------------------------------------------------------------- the harness


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    if not match:
        raise RuntimeError(f"JWKS response has no max-age: Cache-Control {cache_control!r}")
    return int(match.group(1))


def _claims(token: str) -> tuple[str, dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return header["kid"], claims


def ensure_node_modules() -> None:
    """``npm ci`` (``npm install`` without a lock file) when node_modules lacks the locked jose."""
    installed = HERE / "node_modules" / "jose" / "package.json"
    lock = HERE / "package-lock.json"
    if lock.exists():
        locked = json.loads(lock.read_text())["packages"]["node_modules/jose"]["version"]
        if installed.exists() and json.loads(installed.read_text())["version"] == locked:
            return
        command = ["npm", "ci", "--no-audit", "--no-fund"]
    elif installed.exists():
        return
    else:
        command = ["npm", "install", "--no-audit", "--no-fund"]
    subprocess.run(command, cwd=HERE, check=True, timeout=300, stdout=subprocess.DEVNULL)


class StrictCachePool:
    """``--activate-at edge``: a population of resource services, one strict PyJWKClient each.

    A new client fetches the JWKS every 40 ms and keeps it for the max-age (cooldown = max-age, so an
    unknown kid never refetches early), so at any moment some caches were filled just before a worker
    reloaded. After an activation every token of the new key is verified through every client whose
    cache is still fresh; with a publish delay that holds, none fails.
    """

    def __init__(self, harness: Harness) -> None:
        self.h = harness
        self.clients: list[tuple[float, CountingJWKClient]] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.h.stop.is_set():
            client = CountingJWKClient(self.h.jwks_uri, cache_jwk_set=True, lifespan=self.h.max_age,
                                       cooldown_duration=self.h.max_age, timeout=10)
            with contextlib.suppress(jwt.PyJWTError):
                client.get_jwk_set()
                with self.lock:
                    self.clients.append((client.fetches[-1]["at"], client))
                    self.clients = [(f, c) for f, c in self.clients if f > time.time() - 2 * self.h.max_age]
            time.sleep(0.04)

    def check_new_key(self, kid: str, activated_at: float) -> dict[str, Any]:
        with self.lock:
            fresh = [(f, c) for f, c in self.clients if f + self.h.max_age > activated_at]
        stale = [(f, c) for f, c in fresh
                 if c.jwk_set_cache and kid not in {k.key_id for k in c.jwk_set_cache.jwk_set_with_timestamp
                                                    .get_jwk_set().keys}]  # type: ignore[union-attr]
        checks = failures = 0
        seen: set[int] = set()
        first_failure: float | None = None
        end = time.time() + self.h.max_age + 0.5
        while time.time() < end:
            with self.h.lock:
                new = [t for t in self.h.tokens if t.kid == kid and t.seq not in seen]
            for token in new:
                seen.add(token.seq)
                for fetched, client in fresh:
                    if time.time() >= fetched + self.h.max_age:
                        continue
                    checks += 1
                    try:
                        key = client.get_signing_key_from_jwt(token.token)
                        jwt.decode(token.token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=self.h.base_url)
                    except jwt.PyJWTError:
                        failures += 1
                        first_failure = first_failure or time.time() - activated_at
            time.sleep(0.02)
        return {"fresh_at_activation": len(fresh), "lacking_the_key": len(stale), "checks": checks,
                "failures": failures, "first_failure_after_activation_s": first_failure and round(first_failure, 3)}


class Harness:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.start = time.monotonic()
        self.max_age_cfg = TIMINGS["JWKS_MAX_AGE"]
        self.reload = TIMINGS["KEYS_RELOAD_INTERVAL"]
        self.publish_delay = self.max_age_cfg + self.reload  # keys/README.md
        # authserver.rotation.activation_eligible_at: created_at + publish delay + 1 (whole-second stamp)
        self.eligible_after = self.publish_delay + 1
        self.revoke_bound = self.max_age_cfg + self.reload  # keys/README.md
        self.workdir = Path(tempfile.mkdtemp(prefix="authserver-rotation-"))
        self.keys_dir = self.workdir / "keys"
        self.created_db: str | None = None
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.verifiers: list[Any] = []
        self.stop = threading.Event()
        self.issuing = threading.Event()
        self.phase = "rotation"
        self.lock = threading.Lock()
        self.tokens: list[Token] = []
        self.checks: dict[str, Check] = {}
        self.results: dict[str, dict[str, dict[str, Any]]] = {"pyjwt": {}, "jose": {}}
        self.issue_errors: list[str] = []
        self.inflight = 0
        self.late_heap: list[tuple[float, str]] = []
        self.late_cond = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.events: list[dict[str, Any]] = []
        self.rotations: list[dict[str, Any]] = []
        self.prunes: list[dict[str, Any]] = []
        self.early_prunes: list[str] = []
        self.seq = 0
        self.cli_latency = 1.0
        self.generate_returned = 0.0
        self.pool: StrictCachePool | None = None

    # ------------------------------------------------------------ processes

    def say(self, message: str) -> None:
        if self.opts.verbose:
            log(self.start, message)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
        env.update({f"AUTHSERVER_{k}": str(v) for k, v in TIMINGS.items()})
        env.update({
            "AUTHSERVER_ENV": "development",
            "AUTHSERVER_ISSUER": self.base_url,
            "AUTHSERVER_DATABASE_URL": self.database_url,
            "AUTHSERVER_KEYS_DIR": str(self.keys_dir),
            "AUTHSERVER_SECRET_PEPPER": self.pepper,
            "AUTHSERVER_KEYS_PASSPHRASE": self.passphrase,
            "AUTHSERVER_ARGON2_TIME_COST": "1",
            "AUTHSERVER_ARGON2_MEMORY_KIB": "1024",
        })
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("authserver")
        command = [str(exe)] if exe.exists() else [str(ROOT / ".venv" / "bin" / "authserver")]
        result = subprocess.run([*command, *args], capture_output=True, text=True, env=self.env(), cwd=ROOT,
                                timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"`authserver {' '.join(args)}` failed ({result.returncode}): {result.stderr[-1500:]}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def manifest_mtime(self) -> float:
        return (self.keys_dir / "manifest.json").stat().st_mtime

    def event(self, name: str, kid: str, at: float | None = None, **extra: Any) -> None:
        at = time.time() if at is None else at
        self.events.append({"event": name, "kid": kid, "at": at, **extra})
        self.say(f"{name} {kid[:12]} {' '.join(f'{k}={v}' for k, v in extra.items())}".rstrip())

    def setup(self) -> None:
        self.pepper = secrets.token_urlsafe(36)
        self.passphrase = secrets.token_urlsafe(24)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.jwks_uri = f"{self.base_url}/.well-known/jwks.json"
        if self.opts.database_url:
            self.database_url = self.opts.database_url
        else:
            import psycopg

            name = f"authserver_rotation_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.opts.pg_admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.created_db = name
            self.database_url = f"{self.opts.pg_admin_url.rsplit('/', 1)[0]}/{name}"
        if not self.database_url.startswith(("postgresql", "postgres:")):
            raise RuntimeError("this check runs the server as several processes: PostgreSQL only")
        self.cli("db", "upgrade")
        first = self.cli_json("keys", "generate", "--activate")
        self.active_kid = first["kid"]
        self.event("activated", self.active_kid, first="yes")
        client = self.cli_json("clients", "create", "--name", "rotation-load", "--grant", "client_credentials",
                               "--scope", "read", "--audience", AUDIENCE,
                               "--client-id", f"rotation-load-{uuid.uuid4().hex[:8]}")
        self.basic = "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        ensure_node_modules()
        self.start_server()

    def start_server(self) -> None:
        log_file = open(self.workdir / "gunicorn.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.opts.workers), "-b", f"127.0.0.1:{self.port}",
             "authserver:create_app()"], env=self.env(), cwd=ROOT, stdout=log_file, stderr=log_file,
            start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.gunicorn.returncode}: "
                                   f"{(self.workdir / 'gunicorn.log').read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/readyz", timeout=2).ok and len(self.worker_pids()) == \
                        self.opts.workers:
                    self.say(f"gunicorn up: {self.opts.workers} workers on {self.base_url}")
                    return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready in 45 s")

    def worker_pids(self) -> list[int]:
        if self.gunicorn is None:
            return []
        try:
            children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children").read_text().split()
            return [int(pid) for pid in children]
        except OSError:  # kernels without CONFIG_PROC_CHILDREN: scan parent pids
            pids = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.gunicorn.pid:
                        pids.append(int(stat.parent.name))
            return pids

    def teardown(self) -> None:
        self.stop.set()
        self.issuing.set()
        with self.late_cond:
            self.late_cond.notify_all()
        for thread in self.threads:
            thread.join(10)
        for verifier in self.verifiers:
            with contextlib.suppress(Exception):
                verifier.close()
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.gunicorn.pid, signal.SIGTERM)
            try:
                self.gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.gunicorn.pid, signal.SIGKILL)
                self.gunicorn.wait(10)
        if self.created_db:
            import psycopg

            with psycopg.connect(self.opts.pg_admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.created_db}" WITH (FORCE)')
        if self.opts.keep_workdir:
            self.say(f"work directory kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ load

    def sink(self, verifier: str, job_id: str, result: dict[str, Any]) -> None:
        with self.lock:
            self.results[verifier][job_id] = result

    def submit(self, check: Check) -> None:
        with self.lock:
            self.checks[check.job_id] = check
        for verifier in self.verifiers:
            verifier.submit(check)

    def issuer(self, index: int) -> None:
        session = requests.Session()
        interval = self.opts.issuers / self.opts.rate
        next_at = time.monotonic() + index * interval / self.opts.issuers
        while not self.stop.is_set():
            if not self.issuing.wait(0.2):
                next_at = time.monotonic()
                continue
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - interval)
            with self.lock:
                self.inflight += 1
            try:
                self._issue_one(session)
            finally:
                with self.lock:
                    self.inflight -= 1

    def _issue_one(self, session: requests.Session) -> None:
        try:
            response = session.post(f"{self.base_url}/oauth/token", timeout=10, headers={"Authorization": self.basic},
                                    data={"grant_type": "client_credentials", "scope": "read"})
        except requests.RequestException as exc:
            with self.lock:
                self.issue_errors.append(f"{time.time():.3f} {type(exc).__name__}: {exc}")
            return
        if response.status_code != 200:
            with self.lock:
                self.issue_errors.append(f"{time.time():.3f} HTTP {response.status_code}: {response.text[:200]}")
            return
        access = response.json()["access_token"]
        kid, claims = _claims(access)
        with self.lock:
            self.seq += 1
            token = Token(self.seq, access, kid, claims["iat"], claims["exp"], time.time(), self.phase)
            self.tokens.append(token)
        self.submit(Check(f"{token.seq}:now", token, "now", 0, token.issued_at))
        late = token.exp - LATE_MARGIN
        if late > time.time() + 0.5:
            with self.late_cond:
                heapq.heappush(self.late_heap, (late, f"{token.seq}:late"))
                with self.lock:
                    self.checks[f"{token.seq}:late"] = Check(f"{token.seq}:late", token, "late", 0, late)
                self.late_cond.notify()

    def late_scheduler(self) -> None:
        while not self.stop.is_set():
            with self.late_cond:
                if not self.late_heap:
                    self.late_cond.wait(0.5)
                    continue
                due, job_id = self.late_heap[0]
                wait = due - time.time()
                if wait > 0:
                    self.late_cond.wait(min(wait, 0.5))
                    continue
                heapq.heappop(self.late_heap)
            with self.lock:
                check = self.checks[job_id]
            for verifier in self.verifiers:
                verifier.submit(check)

    def start_load(self) -> None:
        # The verifiers are configured with the max-age the server sends for the JWKS.
        response = requests.get(self.jwks_uri, timeout=10)
        response.raise_for_status()
        self.max_age = _max_age(response.headers.get("Cache-Control", ""))
        self.say(f"JWKS Cache-Control: {response.headers.get('Cache-Control')}; ETag {response.headers.get('ETag')}")
        self.verifiers = [PyJWTVerifier(self.jwks_uri, self.base_url, self.max_age, self.sink),
                          JoseVerifier(self.jwks_uri, self.base_url, self.max_age, self.sink)]
        self.verifiers[0].start()
        self.say(f"verifiers: PyJWT {self.verifiers[0].version}, jose {self.verifiers[1].version}; "
                 f"cache lifetime {self.max_age} s, unknown-kid refetch cooldown {self.max_age} s")
        self.threads.append(threading.Thread(target=self.late_scheduler, name="late", daemon=True))
        for i in range(self.opts.issuers):
            self.threads.append(threading.Thread(target=self.issuer, args=(i,), name=f"issuer-{i}", daemon=True))
        for thread in self.threads:
            thread.start()
        if self.opts.activate_at == "edge":
            self.pool = StrictCachePool(self)
            self.threads.append(threading.Thread(target=self.pool.run, name="pool", daemon=True))
            self.threads[-1].start()
        self.load_started = time.monotonic()
        self.issuing.set()
        self.wait_for(lambda: self._verified_by_all(lambda t: t.kid == self.active_kid), 20, "first verified token")

    def _verified_by_all(self, predicate: Any) -> bool:
        with self.lock:
            candidates = [t for t in self.tokens[-50:] if predicate(t)]
            return any(all(self.results[v].get(f"{t.seq}:now", {}).get("ok") for v in self.results)
                       for t in candidates)

    def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
            if self.gunicorn is not None and self.gunicorn.poll() is not None:
                raise RuntimeError("gunicorn exited")
            time.sleep(0.05)

    def drain(self, timeout: float = 20) -> None:
        """Stop issuing; wait until every scheduled check has run and every verifier has answered it."""
        self.issuing.clear()
        self.wait_for(lambda: self.inflight == 0, 15, "in-flight token requests")

        def done() -> bool:
            with self.late_cond:
                if self.late_heap:
                    return False
            with self.lock:
                return all(len(self.results[v]) >= len(self.checks) for v in self.results) and all(
                    job in self.results[v] for v in self.results for job in self.checks)

        self.wait_for(done, timeout, "all verifications")

    # ------------------------------------------------------------ rotations

    def read_manifest(self) -> list[dict[str, Any]]:
        return json.loads((self.keys_dir / "manifest.json").read_text())["keys"]

    def removal_due(self, record: dict[str, Any]) -> int | None:
        """keys/README.md: retire keep = ACCESS_TOKEN_MAX_TTL + 60 s leeway + reload interval."""
        if record.get("retired_at") is None:
            return None
        return record["retired_at"] + TIMINGS["ACCESS_TOKEN_MAX_TTL"] + 60 + self.reload

    def _activate(self, kid: str, created_at: int) -> int:
        """``keys activate`` (or ``keys rotate``); returns how often the CLI refused (published too briefly).

        ``--activate-at eligible``: timed to reach the CLI's clock check as the publish delay ends (the
        CLI takes ``self.cli_latency`` from launch to its check under this load, so it is launched that
        much early; a refusal is retried at once). ``after-delay``: the publish delay after ``keys
        generate`` returned.
        """
        eligible = created_at + self.eligible_after
        if self.opts.activate_at == "after-delay":  # keys/README.md by hand: wait the delay after `generate`
            time.sleep(max(0.0, self.generate_returned + self.publish_delay - time.time()))
        else:  # the first moment the CLI accepts, as `keys rotate --if-due` from cron may
            time.sleep(max(0.0, eligible - self.cli_latency + 0.05 - time.time()))
        for refusals in range(20):
            if self.opts.mode == "rotate":
                actions = json.loads(self.cli("keys", "rotate", "--json").stdout)
                if kid in actions["activated"]:
                    return refusals
            else:
                result = self.cli("keys", "activate", "--json", "--", kid, check=False)
                if result.returncode == 0:
                    return refusals
                if "Use --force" not in result.stderr:
                    raise RuntimeError(f"keys activate {kid} failed: {result.stderr[-1000:]}")
        raise RuntimeError(f"key {kid} not activated after 20 attempts")

    def rotate_once(self, index: int) -> None:
        before = self.active_kid
        launched = time.time()
        if self.opts.mode == "rotate":
            actions = self.cli_json("keys", "rotate")
            if len(actions["generated"]) != 1:
                raise RuntimeError(f"keys rotate did not generate a key: {actions}")
            kid = actions["generated"][0]
            created_at = next(r["created_at"] for r in self.read_manifest() if r["kid"] == kid)
        elif self.opts.activate_at == "edge":  # the CLI's clock read late in a second: created_at loses ~1 s
            activator = self.cli_at("activate-next", self.eligible_after)  # waits for the next key, then its second
            try:
                record = json.loads(self.cli_done(self.cli_at("fraction", 0.96, "keys", "generate", "--json"))[0])
            except BaseException:
                activator.kill()
                activator.wait()
                raise
            kid, created_at = record["kid"], record["created_at"]
        else:
            record = self.cli_json("keys", "generate")
            kid, created_at = record["kid"], record["created_at"]
        self.generate_returned = time.time()
        generated_wall = self.manifest_mtime()
        self.cli_latency = generated_wall - launched  # launch to manifest write, under the current load
        self.event("generated", kid, at=generated_wall, created_at=created_at,
                   cli_latency=f"{self.cli_latency:.2f}s")
        if self.opts.activate_at == "edge":
            called = self.cli_done(activator)[1]
            self.say(f"keys activate ran {called - created_at - self.eligible_after:+.3f} s from eligibility")
            refusals = 0
        else:
            refusals = self._activate(kid, created_at)
        activated_wall = self.manifest_mtime()
        eligible = created_at + self.eligible_after
        self.active_kid = kid
        self.event("activated", kid, at=activated_wall, refusals=refusals,
                   after_eligible=f"{activated_wall - eligible:.2f}s",
                   published_for=f"{activated_wall - generated_wall:.2f}s")
        self.event("retired", before, at=activated_wall)
        self.rotations.append({"index": index, "kid": kid, "retired": before, "created_at": created_at,
                               "generated_at": generated_wall, "activated_at": activated_wall,
                               "activation_eligible_at": eligible,
                               "activated_after_eligible_s": round(activated_wall - eligible, 3),
                               "published_before_activation_s": round(activated_wall - generated_wall, 3),
                               "activate_refusals": refusals})
        if self.pool is not None:
            self.rotations[-1]["strict_caches"] = self.pool.check_new_key(kid, activated_wall)
            self.say(f"strict caches: {self.rotations[-1]['strict_caches']}")

    def cli_at(self, how: str, value: float, *args: str) -> subprocess.Popen[str]:
        """One CLI command through this script's ``_cli_at`` entry (see there); :meth:`cli_done` waits."""
        return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_cli_at", how, str(value), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env(), cwd=ROOT)

    @staticmethod
    def cli_done(process: subprocess.Popen[str]) -> tuple[str, float]:
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0:
            raise RuntimeError(f"_cli_at failed ({process.returncode}): {out[-800:]} {err[-800:]}")
        return out, float(err.rsplit("#called_at ", 1)[1].split()[0])

    def prune(self) -> list[str]:
        """``keys prune``; every key it removes must have been due (retired_at + retire keep)."""
        before = {r["kid"]: r for r in self.read_manifest()}
        actions = self.cli_json("keys", "prune")
        if not actions["removed"]:
            self.say("keys prune: nothing to do")
            return []
        removed_at = self.manifest_mtime()
        for kid in actions["removed"]:
            due = self.removal_due(before[kid]) if kid in before else None
            if due is None or removed_at < due:
                self.early_prunes.append(kid)
            self.prunes.append({"kid": kid, "at": removed_at, "removal_due_at": due})
            self.event("pruned", kid, at=removed_at, due_at=due)
        return actions["removed"]

    def prune_until(self, until: float) -> None:
        """One ``keys prune`` now (nothing is due yet: it must remove nothing), then, within
        ``--duration``, another each time a retired key's removal comes due."""
        self.prune()
        while time.monotonic() < until and not self.stop.is_set():
            dues = sorted(d for d in (self.removal_due(r) for r in self.read_manifest()) if d is not None)
            if not dues or time.monotonic() + max(0.0, dues[0] - time.time()) >= until:
                time.sleep(max(0.0, until - time.monotonic()))
                return
            time.sleep(max(0.0, dues[0] - time.time()) + 0.05)
            self.prune()

    # ------------------------------------------------------------ emergency revoke

    def revoke_phase(self) -> dict[str, Any]:
        """``keys revoke <active kid> --yes`` with the load still on; time until each verifier rejects."""
        victim = self.active_kid
        self.wait_for(lambda: self._verified_by_all(lambda t: t.kid == victim), 20,
                      "a token of the active key verified by both")
        with self.lock:
            probe_token = next(t for t in reversed(self.tokens) if t.kid == victim)
        self.phase = "revoke"
        t_cli = time.time()
        actions = json.loads(self.cli("keys", "revoke", "--yes", "--json", "--", victim).stdout)
        t_revoked = self.manifest_mtime()
        replacement = actions["activated"][0]
        self.event("revoked", victim, at=t_revoked, replacement=replacement[:12],
                   cli=f"{time.time() - t_cli:.2f}s")
        self.revoke_info = {"revoked_kid": victim, "replacement_kid": replacement, "revoked_at": t_revoked}
        self.active_kid = replacement
        # Re-verify the revoked key's token through each verifier's cached JWKS until both reject it.
        first_reject: dict[str, float] = {}
        probes: list[str] = []
        deadline = time.monotonic() + self.revoke_bound + 8
        confirm_until: float | None = None
        while time.monotonic() < deadline:
            check = Check(f"probe{len(probes) + 1}", probe_token, "probe", PROBE_TOLERANCE, time.time())
            self.submit(check)
            probes.append(check.job_id)
            time.sleep(self.opts.probe_interval)
            with self.lock:
                for v in self.results:
                    rejected = [self.results[v][j]["at"] for j in probes if j in self.results[v]
                                and not self.results[v][j]["ok"]
                                and self.results[v][j]["error"]["code"] == NO_MATCHING_KEY]
                    if v not in first_reject and rejected:
                        first_reject[v] = min(rejected) - t_revoked
                        self.say(f"{v}: rejects the revoked key's token {first_reject[v]:.2f} s after the revoke")
            if confirm_until is None and len(first_reject) == len(self.results):
                confirm_until = time.monotonic() + 1.0  # keep probing a second: it must stay rejected
            if confirm_until is not None and time.monotonic() >= confirm_until:
                break
        # Keep the load on until the replacement key is in every cache, then stop and drain.
        time.sleep(max(0.0, t_revoked + self.revoke_bound + 1.5 - time.time()))
        self.drain()
        with self.lock:
            probe_rows = {v: [(self.results[v][j]["at"] - t_revoked, self.results[v][j]["ok"],
                               (self.results[v][j].get("error") or {}).get("code")) for j in probes]
                          for v in self.results}
        out: dict[str, Any] = {**self.revoke_info, "bound_s": self.revoke_bound, "probe_token_seq": probe_token.seq,
                               "probes": len(probes), "propagation_s": {}, "accepted_after_rejection": {},
                               "other_probe_errors": {}}
        for v, rows in probe_rows.items():
            first = first_reject.get(v)
            out["propagation_s"][v] = None if first is None else round(first, 3)
            out["accepted_after_rejection"][v] = 0 if first is None else sum(
                1 for at, ok, _ in rows if ok and at > first)
            out["other_probe_errors"][v] = sorted({c for _, ok, c in rows if not ok and c != NO_MATCHING_KEY})
        return out

    # ------------------------------------------------------------ figures

    def classify(self, check: Check, r: dict[str, Any] | None) -> str:
        """ok | failed | late (checked after exp: the harness was slow) | revoked | window (documented)."""
        if r is None:
            return "failed"
        if r["ok"]:
            return "ok"
        t, code = check.token, (r.get("error") or {}).get("code")
        info = getattr(self, "revoke_info", None)
        if info and t.kid == info["revoked_kid"] and r["at"] >= info["revoked_at"]:
            return "revoked"
        if info and t.kid == info["replacement_kid"] and code == NO_MATCHING_KEY and \
                r["at"] - info["revoked_at"] <= self.revoke_bound + PROPAGATION_SLACK:
            return "window"
        if code == EXPIRED and r["at"] >= t.exp:
            return "late"
        return "failed"

    def tally(self, revoke: dict[str, Any]) -> dict[str, Any]:
        per: dict[str, Any] = {}
        with self.lock:
            checks = [c for c in self.checks.values() if c.kind != "probe"]
            results = {v: dict(r) for v, r in self.results.items()}
            tokens = list(self.tokens)
        for v, res in results.items():
            outcome: Counter[str] = Counter()
            kids: Counter[str] = Counter()
            failed: set[int] = set()
            not_ok: set[int] = set()
            failures: list[dict[str, Any]] = []
            window = 0.0
            lag = 0.0
            for check in checks:
                r = res.get(check.job_id)
                kind = self.classify(check, r)
                outcome[kind] += 1
                if r is not None:
                    lag = max(lag, r["at"] - check.due)
                if kind != "ok":
                    not_ok.add(check.token.seq)
                if kind == "ok":
                    kids[check.token.kid] += 1
                elif kind == "window":
                    window = max(window, r["at"] - revoke["revoked_at"])  # type: ignore[index]
                elif kind == "failed":
                    failed.add(check.token.seq)
                    err = (r or {}).get("error") or {"code": "no result"}
                    failures.append({"job": check.job_id, "kid": check.token.kid, "phase": check.token.phase,
                                     "reason": err.get("code"), "message": err.get("message"),
                                     "issued_at": round(check.token.issued_at, 3),
                                     "verified_at": round(r["at"], 3) if r else None})
            revoked = [t for t in tokens if t.kid == revoke["revoked_kid"]]
            per[v] = {
                "checks": len(checks), "checks_ok": outcome["ok"],
                "tokens_verified_ok": sum(1 for t in tokens if t.seq not in not_ok),  # every check of it passed
                "valid_tokens_failed": len(failed),
                "late_expired_checks": outcome["late"],
                "revoked_key_rejections": outcome["revoked"],
                "revoked_key_tokens": len(revoked),
                "replacement_rejections": outcome["window"],
                "replacement_window_s": round(window, 3),
                "kids_verified": dict(kids),
                "max_check_lag_s": round(lag, 3),
                "failures": failures[:50],
            }
        for verifier in self.verifiers:
            s = verifier.stats()
            per[verifier.name]["jwks_fetches"] = len(s.get("fetches", []))
            per[verifier.name]["fetch_log"] = [{"at": round(f["at"], 3), "kids": [k[:12] for k in f.get("kids") or []]}
                                               for f in s.get("fetches", [])]
            per[verifier.name]["version"] = verifier.version
            if verifier.name == "jose":
                per["jose"]["max_ages_seen"] = sorted({_max_age(f.get("cache_control") or "")
                                                       for f in s.get("fetches", []) if f.get("cache_control")})
        after = [t.issued_at - revoke["revoked_at"] for t in tokens
                 if t.kid == revoke["revoked_kid"] and t.issued_at > revoke["revoked_at"]]
        revoke["tokens_signed_by_revoked_key_after_revoke"] = len(after)
        revoke["last_such_token_after_s"] = round(max(after, default=0.0), 3)
        rotation_tokens = [t for t in tokens if t.phase == "rotation"]
        server_log = (self.workdir / "gunicorn.log").read_text(errors="replace")
        return {
            "timings": {**TIMINGS, "publish_delay_s": self.publish_delay, "revoke_bound_s": self.revoke_bound,
                        "jwks_max_age_sent_s": self.max_age},
            "workers": self.opts.workers,
            "mode": self.opts.mode,
            "activate_at": self.opts.activate_at,
            "rotations_done": len(self.rotations),
            "rotations": self.rotations,
            "prunes": self.prunes,
            "early_prunes": self.early_prunes,
            "tokens_issued": {"rotation": len(rotation_tokens), "revoke": len(tokens) - len(rotation_tokens)},
            "kids_issued": dict(Counter(t.kid for t in tokens)),
            "server_key_reloads": server_log.count('"event": "key.reloaded"'),
            "server_key_reload_failures": server_log.count('"event": "key.reload_failed"'),
            "issue_errors": len(self.issue_errors),
            "issue_error_samples": self.issue_errors[:10],
            "load_seconds": round(time.monotonic() - self.load_started, 1),
            "verifiers": per,
            "revoke": revoke,
            "events": [{**e, "at": round(e["at"], 3)} for e in self.events],
        }

    def run(self) -> dict[str, Any]:
        self.setup()
        self.start_load()
        for i in range(1, self.opts.rotations + 1):
            self.rotate_once(i)
            time.sleep(self.opts.dwell)
        self.prune_until(self.load_started + self.opts.duration)
        revoke = self.revoke_phase()
        return self.tally(revoke)


def problems(result: dict[str, Any], rotations: int) -> list[str]:
    """Every check this run must pass; empty when all hold."""
    out = []
    if result["rotations_done"] != rotations:
        out.append(f"{result['rotations_done']} rotations done, expected {rotations}")
    if result["issue_errors"]:
        out.append(f"{result['issue_errors']} token requests failed: {result['issue_error_samples'][:3]}")
    if result["early_prunes"]:
        out.append(f"keys prune removed keys before their removal was due: {result['early_prunes']}")
    for r in result["rotations"]:
        pool = r.get("strict_caches")
        if pool and pool["failures"]:
            out.append(f"key {r['kid'][:12]} signed {r['published_before_activation_s']:.2f} s after it was written "
                       f"to the manifest: {pool['failures']} of {pool['checks']} verifications through strict "
                       f"caches ({pool['lacking_the_key']} of {pool['fresh_at_activation']} lacked the key) failed")
    bound = result["revoke"]["bound_s"]
    for name, v in result["verifiers"].items():
        if v["valid_tokens_failed"]:
            out.append(f"{name}: {v['valid_tokens_failed']} valid tokens failed verification: {v['failures'][:3]}")
        if len(v["kids_verified"]) < 2:
            out.append(f"{name}: verified tokens of {len(v['kids_verified'])} kid(s), expected at least 2")
        prop = result["revoke"]["propagation_s"][name]
        if prop is None:
            out.append(f"{name}: never rejected the revoked key's token")
        elif prop > bound + PROPAGATION_SLACK:
            out.append(f"{name}: revoke took {prop:.2f} s, documented bound {bound} s")
        if result["revoke"]["accepted_after_rejection"][name]:
            out.append(f"{name}: accepted the revoked key's token again after rejecting it")
        if result["revoke"]["other_probe_errors"][name]:
            out.append(f"{name}: probe failed for other reasons: {result['revoke']['other_probe_errors'][name]}")
    return out



def render(result: dict[str, Any]) -> str:
    t = result["timings"]
    lines = [
        f"authserver rotation under load: gunicorn -w {result['workers']}, PostgreSQL, mode {result['mode']}, "
        f"activate at {result['activate_at']}",
        f"timings: JWKS max-age {t['JWKS_MAX_AGE']} s (sent: {t['jwks_max_age_sent_s']} s), reload "
        f"{t['KEYS_RELOAD_INTERVAL']} s, access tokens {t['ACCESS_TOKEN_TTL']} s; publish delay "
        f"{t['publish_delay_s']} s, revoke bound {t['revoke_bound_s']} s",
        f"rotations done: {result['rotations_done']}; each key in the manifest before it signed: "
        + ", ".join(f"{r['published_before_activation_s']:.2f}s" for r in result["rotations"])
        + " (activated " + ", ".join(f"{r['activated_after_eligible_s']:+.2f}s" for r in result["rotations"])
        + f" from the CLI's eligibility; activate refused {sum(r['activate_refusals'] for r in result['rotations'])}x)",
        f"keys pruned: {len(result['prunes'])} (early: {len(result['early_prunes'])})",
        f"tokens issued: {result['tokens_issued']['rotation']} during rotations, "
        f"{result['tokens_issued']['revoke']} during the revoke phase; issue errors: {result['issue_errors']}; "
        f"load {result['load_seconds']} s",
        f"kids that signed: {len(result['kids_issued'])}; worker key reloads: {result['server_key_reloads']} "
        f"(failed: {result['server_key_reload_failures']})",
        "",
        f"{'verifier':<8} {'version':<8} {'checks':>7} {'tokens OK':>10} {'FAILED':>7} {'late':>5} "
        f"{'kids':>5} {'fetches':>8} {'revoke prop.':>13}",
    ]
    short = [r for r in result["rotations"] if r["published_before_activation_s"] < t["publish_delay_s"]]
    if short:
        lines.insert(4, f"NOTE: {len(short)} key(s) signed less than the publish delay after they were written "
                     "to the manifest (created_at is truncated to the second): "
                     + ", ".join(f"{r['kid'][:12]} {r['published_before_activation_s']:.2f}s" for r in short))
    rv = result["revoke"]
    for name, v in result["verifiers"].items():
        prop = rv["propagation_s"][name]
        lines.append(f"{name:<8} {v['version']:<8} {v['checks']:>7} {v['tokens_verified_ok']:>10} "
                     f"{v['valid_tokens_failed']:>7} {v['late_expired_checks']:>5} {len(v['kids_verified']):>5} "
                     f"{v['jwks_fetches']:>8} {'never' if prop is None else f'{prop:.2f} s':>13}")
    lines += [
        "",
        f"valid tokens that failed verification: "
        f"{sum(v['valid_tokens_failed'] for v in result['verifiers'].values())}",
        f"revoke of {rv['revoked_kid'][:12]}: rejected after "
        + ", ".join(f"{n} {p if p is None else f'{p:.2f}'} s" for n, p in rv["propagation_s"].items())
        + f" (bound {rv['bound_s']} s); tokens still signed by it after the revoke: "
        f"{rv['tokens_signed_by_revoked_key_after_revoke']} (last +{rv['last_such_token_after_s']:.2f} s)",
        "replacement key rejected by strict caches (documented window): "
        + ", ".join(f"{n} {v['replacement_rejections']} checks until +{v['replacement_window_s']:.2f} s"
                    for n, v in result["verifiers"].items()),
    ]
    return "\n".join(lines)


def run(opts: Options) -> dict[str, Any]:
    harness = Harness(opts)
    try:
        return harness.run()
    finally:
        harness.teardown()


def _cli_at(argv: list[str]) -> int:
    """``rotation_under_load.py _cli_at HOW VALUE [ARGS...]``: build the app first, then run ``authserver
    ARGS`` through the app's own CLI group at a chosen moment, so the command's clock read lands on time.

    HOW ``fraction``: once the clock's fraction of a second reaches VALUE. HOW ``activate-next``: wait
    for a ``next`` key in the manifest, then run ``keys activate --json -- KID`` at its created_at + VALUE
    (the publish delay): the first second the CLI accepts it.
    """
    from authserver import create_app

    how, value, *args = argv
    app = create_app({"KEYS_REQUIRED": False})
    runner = app.test_cli_runner()
    deadline = time.time() + 60
    if how == "fraction":
        while time.time() % 1 < float(value) and time.time() < deadline:
            time.sleep(0.001)
    else:
        manifest = Path(app.config["KEYS_DIR"]) / "manifest.json"
        pending = None
        while pending is None and time.time() < deadline:
            with contextlib.suppress(OSError, ValueError):
                pending = next((k for k in json.loads(manifest.read_text())["keys"] if k["state"] == "next"), None)
            time.sleep(0.005)
        if pending is None:
            return 3
        args = ["keys", "activate", "--json", "--", pending["kid"]]
        while time.time() < pending["created_at"] + float(value):
            time.sleep(0.001)
    called = time.time()
    result = runner.invoke(args=args)
    sys.stdout.write(result.output)
    sys.stderr.write(f"#called_at {called:.4f}\n")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_cli_at"]:
        return _cli_at(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: a fresh one on "
                        "--pg-admin-url, dropped after)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("AUTHSERVER_TEST_PG_URL", DEFAULT_PG_ADMIN_URL))
    parser.add_argument("--duration", type=float, default=0.0,
                        help="minimum seconds of load in the rotation phase; past ~70 s the retired keys are "
                        "pruned as they come due (default 0: stop after the rotations)")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--mode", choices=["manual", "rotate"], default="manual",
                        help="manual: keys generate / activate / prune; rotate: keys rotate steps")
    parser.add_argument("--activate-at", choices=["eligible", "after-delay", "edge"], default="eligible",
                        help="eligible: the first moment `keys activate` accepts (created_at + publish delay), "
                        "as cron's `keys rotate --if-due` may, give or take the CLI's start-up; after-delay: the "
                        "publish delay after `keys generate` returned, as keys/README.md tells an operator by "
                        "hand; edge: `keys generate` late in a second and `keys activate` at the exact second it "
                        "is accepted, with a pool of strict caches watching (reproduces the truncated created_at)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0, help="tokens per second")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep-workdir", action="store_true", help="keep keys and gunicorn.log")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.activate_at == "edge" and args.mode != "manual":
        parser.error("--activate-at edge times `keys generate` and `keys activate`: use it with --mode manual")
    opts = Options(database_url=args.database_url, pg_admin_url=args.pg_admin_url, duration=args.duration,
                   rotations=args.rotations, mode=args.mode, activate_at=args.activate_at, workers=args.workers,
                   rate=args.rate,
                   keep_workdir=args.keep_workdir, verbose=not args.quiet)

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    result = run(opts)
    print(render(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    failed = problems(result, opts.rotations)
    for problem in failed:
        print(f"FAIL: {problem}")
    print("OK: every check holds" if not failed else f"{len(failed)} check(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
