"""The load: threads issuing client_credentials tokens, each verified at once and again before it expires."""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from bench.key_rotation.settings import LATE_MARGIN
from bench.key_rotation.settings import Options
from bench.key_rotation.timeline import Timeline
from bench.key_rotation.tokens import Check
from bench.key_rotation.tokens import Token
from bench.key_rotation.tokens import claims
from bench.key_rotation.verifiers import JoseVerifier
from bench.key_rotation.verifiers import PyJWTVerifier
from bench.key_rotation.verifiers import max_age


class Load:
    """Tokens issued, checks scheduled and each verifier's results, shared with the phases and the report."""

    def __init__(self, opts: Options, base_url: str, basic: str, timeline: Timeline, alive: Callable[[], bool]) -> None:
        self.opts, self.base_url, self.basic, self.timeline, self.alive = opts, base_url, basic, timeline, alive
        self.jwks_uri = f"{base_url}/.well-known/jwks.json"
        self.stop = threading.Event()
        self.issuing = threading.Event()
        self.phase = "rotation"
        self.lock = threading.Lock()
        self.tokens: list[Token] = []
        self.checks: dict[str, Check] = {}
        self.results: dict[str, dict[str, dict[str, Any]]] = {"pyjwt": {}, "jose": {}}
        self.issue_errors: list[str] = []
        self.inflight = 0
        self.seq = 0
        self.late_heap: list[tuple[float, str]] = []
        self.late_cond = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.verifiers: list[Any] = []
        self.max_age = 0
        self.started = 0.0

    def start(self) -> None:
        """Verifiers configured with the max-age the server sends for the JWKS, then the issuing threads."""
        response = requests.get(self.jwks_uri, timeout=10)
        response.raise_for_status()
        self.max_age = max_age(response.headers.get("Cache-Control", ""))
        self.timeline.say(
            f"JWKS Cache-Control: {response.headers.get('Cache-Control')}; ETag {response.headers.get('ETag')}"
        )
        self.verifiers = [
            PyJWTVerifier(self.jwks_uri, self.base_url, self.max_age, self.sink),
            JoseVerifier(self.jwks_uri, self.base_url, self.max_age, self.sink),
        ]
        self.verifiers[0].start()
        self.timeline.say(
            f"verifiers: PyJWT {self.verifiers[0].version}, jose {self.verifiers[1].version}; "
            f"cache lifetime {self.max_age} s, unknown-kid refetch cooldown {self.max_age} s"
        )
        self.spawn(self.late_scheduler, "late")
        for i in range(self.opts.issuers):
            self.spawn(lambda i=i: self.issuer(i), f"issuer-{i}")

    def begin(self) -> None:
        self.started = time.monotonic()
        self.issuing.set()

    def spawn(self, target: Callable[[], None], name: str) -> None:
        self.threads.append(threading.Thread(target=target, name=name, daemon=True))
        self.threads[-1].start()

    def close(self) -> None:
        self.stop.set()
        self.issuing.set()
        with self.late_cond:
            self.late_cond.notify_all()
        for thread in self.threads:
            thread.join(10)
        for verifier in self.verifiers:
            with contextlib.suppress(Exception):
                verifier.close()

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
            response = session.post(
                f"{self.base_url}/oauth/token",
                timeout=10,
                headers={"Authorization": self.basic},
                data={"grant_type": "client_credentials", "scope": "read"},
            )
        except requests.RequestException as exc:
            with self.lock:
                self.issue_errors.append(f"{time.time():.3f} {type(exc).__name__}: {exc}")
            return
        if response.status_code != 200:
            with self.lock:
                self.issue_errors.append(f"{time.time():.3f} HTTP {response.status_code}: {response.text[:200]}")
            return
        access = response.json()["access_token"]
        kid, body = claims(access)
        with self.lock:
            self.seq += 1
            token = Token(self.seq, access, kid, body["iat"], body["exp"], time.time(), self.phase)
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

    def verified_by_all(self, predicate: Callable[[Token], bool]) -> bool:
        with self.lock:
            candidates = [t for t in self.tokens[-50:] if predicate(t)]
            return any(all(self.results[v].get(f"{t.seq}:now", {}).get("ok") for v in self.results) for t in candidates)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
            if not self.alive():
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
                    job in self.results[v] for v in self.results for job in self.checks
                )

        self.wait_for(done, timeout, "all verifications")
