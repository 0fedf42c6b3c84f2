"""The two strict verifiers (PyJWT, panva/jose under node), each caching the JWKS for the max-age sent.

Both refetch an unknown kid only after a cooldown equal to the max-age, so a token signed with a key
their cached set lacks fails: the strict resource service the publish delay exists for.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from queue import Queue
from typing import Any

import jwt

from bench.key_rotation.settings import AUDIENCE
from bench.key_rotation.settings import HERE
from bench.key_rotation.tokens import Check

NO_MATCHING_KEY = "no_matching_key"
EXPIRED = "expired"
#: Where a verifier sends each result: (verifier name, job id, result).
Sink = Callable[[str, str, dict[str, Any]], None]


def max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    if not match:
        raise RuntimeError(f"JWKS response has no max-age: Cache-Control {cache_control!r}")
    return int(match.group(1))


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
        self.fetches.append(
            {"started_at": started, "at": time.time(), "kids": [k.get("kid") for k in data.get("keys", [])]}
        )
        return data


class PyJWTVerifier:
    name = "pyjwt"

    def __init__(self, jwks_uri: str, issuer: str, max_age: float, sink: Sink) -> None:
        self.client = CountingJWKClient(
            jwks_uri, cache_jwk_set=True, lifespan=max_age, cooldown_duration=max_age, timeout=10
        )
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
            jwt.decode(
                token,
                signing_key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=tolerance,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.PyJWKClientError as exc:
            code = NO_MATCHING_KEY if "Unable to find a signing key" in str(exc) else type(exc).__name__
            return {"ok": False, "kid": kid, "at": time.time(), "error": {"code": code, "message": str(exc)}}
        except jwt.ExpiredSignatureError as exc:
            return {"ok": False, "kid": kid, "at": time.time(), "error": {"code": EXPIRED, "message": str(exc)}}
        except jwt.PyJWTError as exc:
            return {
                "ok": False,
                "kid": kid,
                "at": time.time(),
                "error": {"code": type(exc).__name__, "message": str(exc)},
            }
        return {"ok": True, "kid": kid, "at": time.time()}

    def _run(self) -> None:
        while True:
            check = self.queue.get()
            if check is None:
                return
            self.sink(self.name, check.job_id, self.verify(check.token.token, check.tolerance))

    def stats(self) -> dict[str, Any]:
        return {
            "fetches": self.client.fetches,
            "lifespan_s": self.client.jwk_set_cache.lifespan if self.client.jwk_set_cache else None,
            "cooldown_s": self.client.cooldown_duration,
        }

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(10)


class JoseVerifier:
    """``node verify_loop.mjs``: tokens in on stdin, one JSON result per line out."""

    name = "jose"

    def __init__(self, jwks_uri: str, issuer: str, max_age: float, sink: Sink) -> None:
        env = {
            **os.environ,
            "JWKS_URI": jwks_uri,
            "ISSUER": issuer,
            "AUDIENCE": AUDIENCE,
            "CACHE_MAX_AGE_MS": str(int(max_age * 1000)),
            "COOLDOWN_MS": str(int(max_age * 1000)),
        }
        self.sink = sink
        self.process = subprocess.Popen(
            ["node", str(HERE / "verify_loop.mjs")],
            cwd=HERE,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=1,
        )
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
