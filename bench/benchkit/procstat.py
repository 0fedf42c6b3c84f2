"""CPU time and peak memory of processes, read from /proc.

CPU per request counts user+system time of the gunicorn master and its workers and of the
PostgreSQL processes that serve the benchmark database (its backends plus the cluster's shared
auxiliary processes: checkpointer, WAL writer, background writer...). Backends of *other*
databases are left out, so a test suite running beside the benchmark does not inflate the figure.
The whole machine's busy time is sampled too, so a noisy neighbour shows up as "other" CPU.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from dataclasses import field

CLK_TCK = os.sysconf("SC_CLK_TCK")
_BACKEND = re.compile(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]|::1\(\d+\)")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from #3 (state) on; comm may hold spaces


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    out = []
    for child in _all_pids():
        fields = _stat_fields(child)
        if fields is not None and int(fields[1]) == pid:
            out.append(child)
    return sorted(out)


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL processes serving ``database``: its backends and the shared auxiliary processes."""
    pids = []
    for pid in _all_pids():
        if (_read(f"/proc/{pid}/comm") or "").strip() != "postgres":
            continue
        cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ")
        is_backend = bool(_BACKEND.search(cmdline))
        if not is_backend or f" {database} " in cmdline:
            pids.append(pid)
    return pids


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of a process, KiB."""
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    first = (_read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Snapshot:
    server: dict[int, int] = field(default_factory=dict)
    postgres: dict[int, int] = field(default_factory=dict)
    busy: int = 0
    total: int = 0


def snapshot(master_pid: int, database: str) -> Snapshot:
    snap = Snapshot()
    for pid in [master_pid, *children(master_pid)]:
        ticks = cpu_ticks(pid)
        if ticks is not None:
            snap.server[pid] = ticks
    for pid in postgres_pids(database):
        ticks = cpu_ticks(pid)
        if ticks is not None:
            snap.postgres[pid] = ticks
    snap.busy, snap.total = machine_busy_ticks()
    return snap


def _delta(before: dict[int, int], after: dict[int, int]) -> int:
    # A process born during the window counts from zero; one that died is lost (rare: no recycling).
    return sum(max(0, ticks - before.get(pid, 0)) for pid, ticks in after.items())


@dataclass(frozen=True)
class CpuDelta:
    server_ms: float
    postgres_ms: float
    machine_busy_ms: float
    machine_capacity_ms: float


def cpu_delta(before: Snapshot, after: Snapshot) -> CpuDelta:
    ms = 1000.0 / CLK_TCK
    return CpuDelta(
        server_ms=_delta(before.server, after.server) * ms,
        postgres_ms=_delta(before.postgres, after.postgres) * ms,
        machine_busy_ms=(after.busy - before.busy) * ms,
        machine_capacity_ms=(after.total - before.total) * ms,
    )
