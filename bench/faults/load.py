"""The continuous mixed load, and its own records of everything it sent and got.

Threads, for a bounded time:

- **refreshers**: each owns some families (logins made at the start, half through the password grant at
  ``/oauth/token``, half through the JSON API's ``POST /login``) and refreshes them in turn, each family
  at its own door (``/oauth/token`` or ``POST /auth/refresh``), always with the newest token it holds;
- **a login thread**: new families, alternating the two doors, each refreshed once;
- **a client_credentials thread**: service tokens;
- every access token issued is verified at the resource service right away (user tokens answer 200 at
  ``/user/data``; a service token is refused there ``403 insufficient_scope`` only *after* its signature and
  claims verified, which is what this checks).

A client retries like a real one: after a closed connection, a timeout or a 5xx it sends the same request
again (a refresh with the same token it still holds), with a short backoff, for up to ``RETRY_BUDGET``
seconds. A 4xx is final: a real client drops its tokens and sends the user to the login page, so the load
marks that family lost.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import requests

from bench.faults.system import Credentials

RETRY_BUDGET = 90.0  # seconds a client keeps retrying one request
TIMEOUT = (3.0, 20.0)  # connect, read


@dataclass
class Attempt:
    op: str  # refresh | login | client_credentials | verify
    door: str  # token | json | resource
    thread: str
    t0: float
    t1: float
    status: int | None  # None: closed connection, refused or timed out
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    @property
    def transient(self) -> bool:
        """What a client retries: no answer, or a 5xx."""
        return self.status is None or self.status >= 500


@dataclass
class Family:
    label: str
    door: str  # the door of its login and refreshes: token | json
    token: str
    sid: str = ""
    refreshes: int = 0
    lost: str = ""  # why the client lost it (a final 4xx during the load), empty if not
    own_revocation: bool = False  # the load itself revoked it (the theft probe)
    issued: list[str] = field(default_factory=list)  # every refresh token answered with 200, in order


@dataclass
class AccessToken:
    token: str
    exp: float
    user: bool
    issued_at: float


@dataclass
class Fault:
    name: str
    injected: float
    restored: float = 0.0
    note: str = ""


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _kid(jwt: str) -> str:
    header = jwt.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("kid", ""))


class Records:
    """Everything the load saw; thread-safe appends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.gave_up: list[tuple[str, str, str]] = []  # (op, door, last error): a retry that never succeeded
        self.families: list[Family] = []
        self.access_tokens: list[AccessToken] = []
        self.verify_failures: list[str] = []
        self.faults: list[Fault] = []
        self.notes: list[str] = []

    def add(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def fault(self, name: str, note: str = "") -> Fault:
        fault = Fault(name, time.time(), note=note)
        with self.lock:
            self.faults.append(fault)
        return fault


class Client:
    """One client thread's HTTP session against the server and the resource service."""

    def __init__(self, base_url: str, resource_url: str, creds: Credentials, records: Records, name: str) -> None:
        self.base, self.resource, self.creds, self.records, self.name = base_url, resource_url, creds, records, name
        self.session = requests.Session()
        self.app_auth = (creds.client_id, creds.client_secret)

    def _send(self, op: str, door: str, call: Callable[[], requests.Response]) -> tuple[Attempt, dict | None]:
        t0 = time.time()
        try:
            response = call()
        except requests.RequestException as exc:
            attempt = Attempt(op, door, self.name, t0, time.time(), None, type(exc).__name__)
            self.session.close()  # a fresh connection next time, as a client after an error does
            self.session = requests.Session()
            self.records.add(attempt)
            return attempt, None
        body = None
        with contextlib.suppress(ValueError):
            body = response.json()
        detail = body.get("error", "") if isinstance(body, dict) else response.text[:80]
        attempt = Attempt(op, door, self.name, t0, time.time(), response.status_code, str(detail))
        self.records.add(attempt)
        return attempt, body if isinstance(body, dict) else None

    def with_retry(self, op: str, door: str, call: Callable[[], requests.Response]) -> tuple[Attempt, dict | None]:
        """Send until an answer that is not transient, or the retry budget is spent."""
        start, pause = time.monotonic(), 0.05
        while True:
            attempt, body = self._send(op, door, call)
            if not attempt.transient:
                return attempt, body
            if time.monotonic() - start > RETRY_BUDGET:
                with self.records.lock:
                    self.records.gave_up.append((op, door, f"{attempt.status} {attempt.detail}"))
                return attempt, body
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    # -- the operations ------------------------------------------------------------------------------

    def login(self, door: str) -> tuple[Attempt, dict | None]:
        if door == "token":
            data = {"grant_type": "password", "username": self.creds.username, "password": self.creds.password}
            return self.with_retry(
                "login",
                door,
                lambda: self.session.post(self.base + "/oauth/token", data=data, auth=self.app_auth, timeout=TIMEOUT),
            )
        payload = {"username": self.creds.username, "password": self.creds.password}
        return self.with_retry(
            "login",
            door,
            lambda: self.session.post(self.base + "/login", json=payload, auth=self.app_auth, timeout=TIMEOUT),
        )

    def refresh_request(self, door: str, token: str) -> Callable[[], requests.Response]:
        if door == "token":
            data = {"grant_type": "refresh_token", "refresh_token": token}
            return lambda: self.session.post(self.base + "/oauth/token", data=data, auth=self.app_auth, timeout=TIMEOUT)
        return lambda: self.session.post(
            self.base + "/auth/refresh", json={"refreshToken": token}, auth=self.app_auth, timeout=TIMEOUT
        )

    def refresh_once(self, door: str, token: str) -> tuple[Attempt, dict | None]:
        """One refresh attempt, no retry (the theft probe's replays)."""
        return self._send("refresh", door, self.refresh_request(door, token))

    def client_credentials(self) -> tuple[Attempt, dict | None]:
        auth = (self.creds.service_id, self.creds.service_secret)
        return self.with_retry(
            "client_credentials",
            "token",
            lambda: self.session.post(
                self.base + "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth, timeout=TIMEOUT
            ),
        )

    def verify(self, token: str, user: bool) -> bool:
        """The resource service accepts the token (a service token: refused only for having no user)."""
        attempt, body = self.with_retry(
            "verify",
            "resource",
            lambda: self.session.get(
                self.resource + "/user/data", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
            ),
        )
        if user:
            good = attempt.status == 200
        else:
            good = attempt.status == 403 and (body or {}).get("error") == "insufficient_scope"
        if not good:
            claims = claims_of(token)
            with self.records.lock:
                self.records.verify_failures.append(
                    f"{attempt.status} {attempt.detail} (kid {_kid(token)[:8]}, at {time.strftime('%H:%M:%S')}, "
                    f"exp in {claims.get('exp', 0) - time.time():.0f} s)"
                )
        return good

    def took(self, access_token: str, user: bool) -> None:
        claims = claims_of(access_token)
        with self.records.lock:
            self.records.access_tokens.append(AccessToken(access_token, float(claims["exp"]), user, time.time()))
        self.verify(access_token, user)


def tokens_of(door: str, body: dict) -> tuple[str, str]:
    """(access token, refresh token) of a 200 answer at ``door``."""
    if door == "token":
        return body["access_token"], body["refresh_token"]
    return body["accessToken"], body["refreshToken"]


class Load:
    """The mixed load against one :class:`~bench.faults.system.System`, for ``duration`` seconds."""

    def __init__(
        self,
        base_url: str,
        resource_url: str,
        creds: Credentials,
        *,
        families: int = 32,
        refreshers: int = 8,
        pause: float = 0.01,
        login_every: float = 1.0,
        service_every: float = 0.5,
    ) -> None:
        self.base, self.resource, self.creds = base_url, resource_url, creds
        self.records = Records()
        self.n_families, self.n_refreshers, self.pause = families, refreshers, pause
        self.login_every, self.service_every = login_every, service_every
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def client(self, name: str) -> Client:
        return Client(self.base, self.resource, self.creds, self.records, name)

    def new_family(self, client: Client, door: str, label: str) -> Family | None:
        attempt, body = client.login(door)
        if not attempt.ok or body is None:
            return None
        access, refresh = tokens_of(door, body)
        family = Family(label, door, refresh, sid=str(claims_of(access).get("sid", "")), issued=[refresh])
        with self.records.lock:
            self.records.families.append(family)
        client.took(access, user=True)
        return family

    def refresh(self, client: Client, family: Family) -> bool:
        """One refresh of ``family`` with its newest token, retried as a client does; False if the family is
        lost (a final 4xx: the client would drop its tokens)."""
        attempt, body = client.with_retry("refresh", family.door, client.refresh_request(family.door, family.token))
        if attempt.ok and body is not None:
            access, family.token = tokens_of(family.door, body)
            family.issued.append(family.token)
            family.refreshes += 1
            client.took(access, user=True)
            return True
        if not attempt.transient:
            family.lost = f"{attempt.status} {attempt.detail} after {family.refreshes} refreshes"
        return False

    # -- threads ---------------------------------------------------------------------------------------

    def start(self) -> None:
        setup = self.client("setup")
        owned: list[list[Family]] = [[] for _ in range(self.n_refreshers)]
        for i in range(self.n_families):
            door = "token" if i % 2 == 0 else "json"
            family = self.new_family(setup, door, f"f{i:03d}-{door}")
            if family is None:
                raise RuntimeError("a start-up login failed: the system is not ready")
            owned[i % self.n_refreshers].append(family)
        for i, families in enumerate(owned):
            self._spawn(f"refresher-{i}", self._refresher, families)
        self._spawn("logins", self._logins)
        self._spawn("service", self._service)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        client = self.client(name)
        thread = threading.Thread(target=target, args=(client, *args), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _refresher(self, client: Client, families: list[Family]) -> None:
        while not self.stopping.is_set():
            for family in families:
                if self.stopping.is_set():
                    return
                if not family.lost and not family.own_revocation:
                    self.refresh(client, family)
                time.sleep(self.pause * random.uniform(0.5, 1.5))  # noqa: S311 (pacing, not security)

    def _logins(self, client: Client) -> None:
        n = 0
        while not self.stopping.wait(self.login_every):
            door = "token" if n % 2 == 0 else "json"
            family = self.new_family(client, door, f"login{n:03d}-{door}")
            if family is not None:
                self.refresh(client, family)
            n += 1

    def _service(self, client: Client) -> None:
        while not self.stopping.wait(self.service_every):
            attempt, body = client.client_credentials()
            if attempt.ok and body is not None:
                client.took(body["access_token"], user=False)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(RETRY_BUDGET + 30)
