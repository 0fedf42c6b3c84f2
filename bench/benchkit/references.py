"""Physical reference figures measured on the same machine in the same run.

* ``openssl speed -seconds 3 rsa2048``: RSA-2048 signs/s and verifies/s on one core, the floor
  of one RS256 access token.
* one argon2id verify with the server's configured parameters (``AUTHSERVER_ARGON2_*``, read
  through :class:`authserver.settings.Settings` so an override in the environment counts), the
  floor of one password-grant request;
* the raw argon2 verify rate "with the same parameters and worker count" (issue 6): as many
  processes as gunicorn workers, each verifying in a loop for a few seconds, all at once. On two
  cores four such processes do fewer verifies per second than two (they evict each other's caches),
  so the rate of ``min(workers, cores)`` processes is measured and shown too.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import statistics
import subprocess
import time
from dataclasses import dataclass

_RSA_LINE = re.compile(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", re.MULTILINE)


@dataclass(frozen=True)
class Argon2Reference:
    time_cost: int
    memory_kib: int
    parallelism: int
    wall_ms: float  # median wall time of one verify, single thread, server idle
    min_wall_ms: float  # fastest of the samples
    ms_per_verify: float  # median process CPU time of one verify: the cost, whatever else runs

    def ideal_rate(self, processes: int, cores: int) -> float:
        """Verifies/s if ``processes`` ran at the single-thread cost with no contention (capped by the cores)."""
        return min(processes, cores) * 1000.0 / self.ms_per_verify


@dataclass(frozen=True)
class ConcurrentRate:
    processes: int
    seconds: float
    verifies: int
    cpu_ms_per_verify: float

    @property
    def rate(self) -> float:
        return self.verifies / self.seconds


def _hasher():
    from argon2 import PasswordHasher
    from argon2 import Type

    from authserver.settings import Settings

    # Only the argon2 variables count: the rest of this process's environment is not a server's (and in
    # development no issuer, pepper or keys are needed to read them).
    argon2_environment = {k: v for k, v in os.environ.items() if k.startswith("AUTHSERVER_ARGON2_")}
    argon2 = Settings.load({"ENV": "development"}, environ=argon2_environment).argon2
    return argon2, PasswordHasher(
        time_cost=argon2.time_cost, memory_cost=argon2.memory_kib, parallelism=argon2.parallelism, type=Type.ID
    )


def _verify_loop(start_at: float, stop_at: float, out) -> None:
    _argon2, hasher = _hasher()
    encoded = hasher.hash("benchmark-password")
    hasher.verify(encoded, "benchmark-password")  # warm the allocator, as a server worker is
    while time.time() < start_at:
        time.sleep(0.001)
    count, cpu0 = 0, time.process_time()
    while time.time() < stop_at:
        hasher.verify(encoded, "benchmark-password")  # as the password scenario: the right password
        count += 1
    out.put((count, time.process_time() - cpu0))


def argon2_concurrent(processes: int, seconds: float = 6.0) -> ConcurrentRate:
    """``processes`` processes verifying at once for ``seconds``: the machine's raw argon2 rate."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0  # after every process has started and warmed up
    procs = [ctx.Process(target=_verify_loop, args=(start_at, start_at + seconds, out)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    verifies = sum(n for n, _ in results)
    cpu_ms = sum(c for _, c in results) * 1000
    return ConcurrentRate(processes, seconds, verifies, cpu_ms / max(1, verifies))


def openssl_rsa2048(seconds: int = 3) -> tuple[float, float, str]:
    """(signs/s, verifies/s, the line parsed) from ``openssl speed``."""
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True, text=True, check=True
    ).stdout
    match = _RSA_LINE.search(out)
    if match is None:
        raise RuntimeError(f"cannot parse `openssl speed` output:\n{out[-800:]}")
    return float(match.group(1)), float(match.group(2)), match.group(0).strip()


def argon2_verify(samples: int = 25) -> Argon2Reference:
    argon2, hasher = _hasher()
    encoded = hasher.hash("benchmark-password")
    hasher.verify(encoded, "benchmark-password")  # warm the allocator
    walls, cpus = [], []
    for _ in range(samples):
        w0, c0 = time.perf_counter(), time.process_time()
        hasher.verify(encoded, "benchmark-password")
        cpus.append((time.process_time() - c0) * 1000)
        walls.append((time.perf_counter() - w0) * 1000)
    return Argon2Reference(
        argon2.time_cost,
        argon2.memory_kib,
        argon2.parallelism,
        statistics.median(walls),
        min(walls),
        statistics.median(cpus),
    )
