"""Physical reference figures measured on the same machine in the same run.

* ``openssl speed -seconds 3 rsa2048``: RSA-2048 signs/s and verifies/s on one core, the floor
  of one RS256 access token.
* one argon2id verify with the server's configured parameters (``AUTHSERVER_ARGON2_*``, read
  through :func:`authserver.config.load_config` so an override in the environment counts), the
  floor of one password-grant request.
"""

from __future__ import annotations

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
    wall_ms: float            # median wall time of one verify, single thread, server idle
    min_wall_ms: float        # fastest of the samples
    ms_per_verify: float      # median process CPU time of one verify: the cost, whatever else runs

    def raw_rate(self, workers: int, cores: int) -> float:
        """Verifies/s that ``workers`` processes could do if they did nothing else (capped by the cores).

        Uses the CPU time, not the wall time, so another process busy on the machine while this
        reference is taken does not lower the bar; on a quiet machine the two are equal.
        """
        return min(workers, cores) * 1000.0 / self.ms_per_verify


def openssl_rsa2048(seconds: int = 3) -> tuple[float, float, str]:
    """(signs/s, verifies/s, the line parsed) from ``openssl speed``."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048"], capture_output=True,
                         text=True, check=True).stdout
    match = _RSA_LINE.search(out)
    if match is None:
        raise RuntimeError(f"cannot parse `openssl speed` output:\n{out[-800:]}")
    return float(match.group(1)), float(match.group(2)), match.group(0).strip()


def argon2_verify(samples: int = 25) -> Argon2Reference:
    from argon2 import PasswordHasher
    from argon2 import Type

    from authserver.config import load_config

    config = load_config()
    hasher = PasswordHasher(time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_KIB"],
                            parallelism=config["ARGON2_PARALLELISM"], type=Type.ID)
    encoded = hasher.hash("benchmark-password")
    hasher.verify(encoded, "benchmark-password")  # warm the allocator
    walls, cpus = [], []
    for _ in range(samples):
        w0, c0 = time.perf_counter(), time.process_time()
        hasher.verify(encoded, "benchmark-password")
        cpus.append((time.process_time() - c0) * 1000)
        walls.append((time.perf_counter() - w0) * 1000)
    return Argon2Reference(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"],
                           statistics.median(walls), min(walls), statistics.median(cpus))
