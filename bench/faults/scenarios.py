"""The fault scenarios: each builds its system, runs the load for a bounded time, injects its faults at
known times (relative to the load's start), undoes them, and hands the records to the audit.

1. ``kill``: SIGKILL of one worker every few seconds (granian respawns it); then SIGKILL of the whole
   server (master and workers) and a restart on the same port.
2. ``pg-restart``: the PostgreSQL cluster restarted under load, ``-m fast`` then ``-m immediate``.
3. ``failover``: a primary and a synchronous streaming standby; the servers on a multi-host URL
   (``target_session_attrs=read-write``); the primary's postmaster is SIGKILLed and the standby promoted
   **by the harness** (``pg_ctl promote``; no Patroni); the servers follow without a restart.
4. ``redis``: Redis holds the throttle counters; it is SIGKILLed (its counters gone) and a new empty one
   started on the same port later; logins go on, a username still locks after the documented number of
   failures (per-process fallback), nothing waits.
5. ``keys``: ``authserver keys rotate`` steps while PostgreSQL is down, and while the keys directory is
   not writable by the rotating operator (``chmod 0500``; as root, the operator's command runs without
   ``CAP_DAC_OVERRIDE``, through ``setpriv``); each step completes or fails cleanly (the key set stays whole),
   the servers keep signing with a published key, and a rotation completes once the faults are over.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from authserver.testing.servers import ROOT
from bench.faults.audit import Result
from bench.faults.audit import audit
from bench.faults.audit import theft_probe
from bench.faults.load import Load
from bench.faults.system import Config
from bench.faults.system import System


@dataclass(frozen=True)
class Options:
    long: bool = False
    ci: bool = False  # the CI form: the short timings cut to 60 %
    grace_seconds: int = 10
    families: int = 32
    refreshers: int = 8

    def seconds(self, short: float, long: float) -> float:
        return long if self.long else short * (0.6 if self.ci else 1.0)


@dataclass
class Run:
    """One scenario in progress: its system, its load, and a clock relative to the load's start."""

    system: System
    load: Load
    started: float
    result_checks: list[tuple[str, bool, str]]

    def at(self, offset: float) -> None:
        """Sleep until ``offset`` seconds after the load started."""
        delay = self.started + offset - time.time()
        if delay > 0:
            time.sleep(delay)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.result_checks.append((name, ok, detail))

    def note(self, text: str) -> None:
        self.load.records.notes.append(text)


# -- 1. kill -9 ------------------------------------------------------------------------------------------


def kill_workers_and_server(run: Run, opts: Options) -> float:
    system = run.system
    workers = system.config.workers
    # granian exits as a whole ("Worker crash loop detected") when a worker dies within 5.5 s of its own
    # (re)spawn, so the oldest worker is killed each time, and each one lives longer than that.
    every = 3.5
    kills_until = opts.seconds(14, 42)
    offset, kills = 2.0, 0
    while offset < kills_until:
        run.at(offset)
        pids = system.worker_pids()
        if pids:
            victim = min(pids, key=_started)
            fault = run.load.records.fault("kill -9 worker")
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            kills += 1
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                live = system.worker_pids()
                if victim not in live and len(live) >= workers:
                    break
                time.sleep(0.05)
            fault.restored = time.time()
            fault.note = f"worker {victim} respawned in {fault.restored - fault.injected:.1f} s"
        offset += every
    run.note(f"{kills} workers killed with SIGKILL, one every {every:.1f} s")
    run.at(kills_until + 2)
    fault = run.load.records.fault("kill -9 whole server")
    system.kill_server()
    time.sleep(1.0)  # the server is down for a moment: clients see refused connections
    system.start_server()
    fault.restored = time.time()
    fault.note = f"restarted in {fault.restored - fault.injected:.1f} s"
    return kills_until + opts.seconds(8, 15)


def _started(pid: int) -> int:
    """A process's start time (clock ticks since boot); the oldest worker has the smallest."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


# -- 2. PostgreSQL restart ----------------------------------------------------------------------------


def postgres_restart(run: Run, opts: Options) -> float:
    cluster = run.system.primary
    assert cluster is not None
    first, gap = opts.seconds(4, 10), opts.seconds(8, 20)
    for i, mode in enumerate(("fast", "immediate")):
        run.at(first + i * gap)
        fault = run.load.records.fault(f"PostgreSQL restart -m {mode}")
        cluster.restart(mode)
        fault.restored = time.time()
        fault.note = f"down {fault.restored - fault.injected:.1f} s"
    return first + 2 * gap


# -- 3. failover to the standby -----------------------------------------------------------------------


def failover(run: Run, opts: Options) -> float:
    system = run.system
    assert system.primary is not None and system.standby is not None and system.server is not None
    server_pid = system.server.process.pid
    workers_before = sorted(system.worker_pids())
    at = opts.seconds(5, 15)
    run.at(at)
    fault = run.load.records.fault("kill -9 primary, promote standby")
    system.primary.kill9()
    detected = time.time()
    system.standby.promote()  # by hand: the harness is the failover manager here (Patroni would do this)
    fault.restored = time.time()
    fault.note = (
        f"primary gone after {detected - fault.injected:.1f} s, standby promoted after "
        f"{fault.restored - fault.injected:.1f} s"
    )
    with contextlib.suppress(Exception):
        in_recovery = system.standby.sql("SELECT pg_is_in_recovery()")[0][0]
        run.check("standby promoted", not in_recovery, "pg_is_in_recovery() is false on the standby")
    end = at + opts.seconds(12, 30)
    run.at(end)
    run.check(
        "servers followed without a restart",
        system.server.process.pid == server_pid and system.server.process.poll() is None,
        f"same master pid {server_pid}; workers before {workers_before}, after {sorted(system.worker_pids())}",
    )
    return end


# -- 4. Redis lost and back ---------------------------------------------------------------------------


def lockout_probe(run: Run, label: str) -> None:
    """Wrong passwords for the victim until the correct one is refused as locked: within the documented bound
    (BRUTE_FORCE_MAX_FAILURES per server process while the store is down, once the store answers)."""
    system = run.system
    assert system.creds is not None
    client = run.load.client(f"lockout-{label}")
    max_failures = 5
    bound = max_failures * system.config.workers + 1
    # A username of its own per probe (unknown usernames lock exactly like existing ones): a lock taken in a
    # server's per-process fallback holds until it lapses, whatever the store does meanwhile.
    victim = f"{system.creds.victim}-{label.replace(' ', '-')}"
    data = {"grant_type": "password", "username": victim, "password": "wrong-password"}
    slowest, locked_after = 0.0, None
    auth = (system.creds.client_id, system.creds.client_secret)
    for n in range(1, bound + 2):
        t0 = time.monotonic()
        response = client.session.post(system.base_url + "/oauth/token", data=data, auth=auth, timeout=10)
        slowest = max(slowest, time.monotonic() - t0)
        if response.status_code >= 500:
            run.check(f"lockout {label}: no 5xx", False, f"attempt {n}: {response.status_code}")
            return
        if response.headers.get("Retry-After"):
            locked_after = n - 1
            break
    run.check(
        f"lockout {label}: locked within {bound} failures",
        locked_after is not None,
        f"locked after {locked_after} failures" if locked_after is not None else f"not locked after {bound + 1}",
    )
    run.check(f"lockout {label}: no attempt waited", slowest < 2.0, f"slowest attempt {slowest * 1000:.0f} ms")


def redis_lost(run: Run, opts: Options) -> float:
    redis = run.system.redis
    assert redis is not None
    lockout_probe(run, "with Redis")
    at, outage = opts.seconds(4, 10), opts.seconds(10, 25)
    run.at(at)
    fault = run.load.records.fault("Redis SIGKILL (counters lost)")
    redis.kill()
    time.sleep(1.0)
    lockout_probe(run, "without Redis")
    run.at(at + outage)
    redis.start()  # a new, empty Redis on the same port
    fault.restored = time.time()
    fault.note = f"Redis down {fault.restored - fault.injected:.1f} s"
    time.sleep(1.0)
    lockout_probe(run, "Redis back")
    end = at + outage + opts.seconds(5, 10)
    return end


# -- 5. key rotation under faults ---------------------------------------------------------------------


#: Root ignores directory modes: the rotating operator runs without the capabilities that bypass them.
WITHOUT_DAC_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _rotate(run: Run) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "authserver.cli.console", "keys", "rotate", "--json"]
    if os.geteuid() == 0:
        argv = [*WITHOUT_DAC_OVERRIDE, *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=run.system.env, cwd=ROOT, timeout=120)


def key_set_whole(run: Run, label: str) -> None:
    """The key set is whole: it loads, exactly one key signs, and the servers publish it."""
    listed = run.system.cli("keys", "list", "--json", check=False)
    if listed.returncode != 0:
        run.check(f"keys whole {label}", False, f"keys list failed: {listed.stderr.strip()[-300:]}")
        return
    import json

    keys = json.loads(listed.stdout)
    active = [k["kid"] for k in keys if k["state"] == "active"]
    files = {p.name for p in Path(run.system.keys_dir).iterdir()}
    jwks = requests.get(run.system.base_url + "/.well-known/jwks.json", timeout=10).json()
    published = {k["kid"] for k in jwks.get("keys", [])}
    ok = len(active) == 1 and active[0] in published
    run.check(
        f"keys whole {label}",
        ok,
        f"{len(keys)} keys ({', '.join(k['state'] for k in keys)}), active {active}, published {sorted(published)}, "
        f"{len(files)} files",
    )


def key_rotation(run: Run, opts: Options) -> float:
    system = run.system
    cluster = system.primary
    assert cluster is not None
    first_active = _active_kid(run)

    def step(label: str) -> None:
        result = _rotate(run)
        outcome = "completed" if result.returncode == 0 else f"failed ({result.stderr.strip().splitlines()[-1:]})"
        run.note(f"keys rotate {label}: {outcome}")
        key_set_whole(run, f"after rotate {label}")

    # a. PostgreSQL down while rotation steps run.
    run.at(opts.seconds(3, 8))
    fault = run.load.records.fault("PostgreSQL stopped (-m fast) during key rotation")
    cluster.stop("fast")
    step("during the PostgreSQL outage")
    time.sleep(3.5)  # the new key is published long enough to sign
    step("during the PostgreSQL outage (activation)")
    cluster.start()
    fault.restored = time.time()
    # b. The keys directory unwritable for the operator.
    run.at(opts.seconds(14, 25))
    fault = run.load.records.fault("keys directory unwritable (chmod 0500) during key rotation")
    system.keys_dir.chmod(0o500)
    step("with the keys directory unwritable")
    time.sleep(3.5)
    step("with the keys directory unwritable (activation)")
    system.keys_dir.chmod(0o700)
    fault.restored = time.time()
    # c. Afterwards a rotation completes: a new key signs and its tokens verify.
    for _ in range(4):
        step("after the faults")
        if _active_kid(run) != first_active:
            break
        time.sleep(3.5)
    rotated = _active_kid(run)
    run.check("a rotation completed", rotated != first_active, f"active key {first_active} -> {rotated}")
    end = opts.seconds(30, 50)
    run.at(end)
    signing = _signing_kids(run)
    run.check(
        "servers sign with the new key",
        rotated in signing,
        f"kids of the last access tokens: {sorted(signing)}",
    )
    return end


def _active_kid(run: Run) -> str:
    import json

    listed = run.system.cli("keys", "list", "--json", check=False)
    if listed.returncode != 0:
        return ""
    return next((k["kid"] for k in json.loads(listed.stdout) if k["state"] == "active"), "")


def _signing_kids(run: Run) -> set[str]:
    import base64
    import json

    kids = set()
    with run.load.records.lock:
        tokens = run.load.records.access_tokens[-20:]
    for token in tokens:
        header = token.token.split(".")[0]
        kids.add(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("kid", ""))
    return kids


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    faults: Callable[[Run, Options], float]  # returns the offset at which the load stops
    standby: bool = False
    redis: bool = False


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "kill", "kill -9 of one worker every 3.5 s, then of the whole server and a restart", kill_workers_and_server
        ),
        Scenario("pg-restart", "PostgreSQL restart, -m fast then -m immediate", postgres_restart),
        Scenario("redis", "Redis (throttle counters) SIGKILLed and back", redis_lost, redis=True),
        Scenario("keys", "key rotation during a PostgreSQL outage and an unwritable keys directory", key_rotation),
        Scenario(
            "failover",
            "PostgreSQL primary SIGKILLed, synchronous standby promoted by the harness",
            failover,
            standby=True,
        ),
    )
}


def run_scenario(scenario: Scenario, opts: Options, workdir: Path, log: Callable[[str], None]) -> Result:
    config = Config(grace_seconds=opts.grace_seconds, standby=scenario.standby, redis=scenario.redis)
    system = System(workdir / scenario.name, config)
    try:
        log(f"{scenario.name}: starting the system")
        system.start()
        assert system.creds is not None and system.resource is not None
        load = Load(
            system.base_url, system.resource.url, system.creds, families=opts.families, refreshers=opts.refreshers
        )
        load.start()
        run = Run(system, load, time.time(), [])
        log(f"{scenario.name}: load running, faults: {scenario.title}")
        end = scenario.faults(run, opts)
        # The theft probe waits out the grace window while the load still runs (it uses families no thread
        # touches any more: those of the login thread, refreshed once).
        theft = Result(scenario.name, 0)
        prober = threading.Thread(target=theft_probe, args=(load, opts.grace_seconds, theft), daemon=True)
        prober.start()
        run.at(end)
        load.stop()
        prober.join(opts.grace_seconds + 120)
        seconds = time.time() - run.started
        log(f"{scenario.name}: load stopped after {seconds:.0f} s; auditing")
        result = audit(scenario.name, system, load, seconds)
        result.theft_missed = theft.theft_missed
        result.checks = run.result_checks
        return result
    finally:
        system.stop()
