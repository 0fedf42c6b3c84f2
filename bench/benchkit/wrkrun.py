"""One wrk invocation, bracketed by CPU snapshots of the server and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path

from benchkit import procstat
from benchkit.scenarios import Invocation


@dataclass
class Measurement:
    scenario: str
    connections: int
    workers: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int  # connect + read + write + timeout
    chain_breaks: int  # refresh only: non-200 or no refresh_token in the body
    starved: int  # refresh only: pool empty, a dummy token was sent
    server_cpu_ms_per_req: float
    pg_cpu_ms_per_req: float
    cpu_ms_per_req: float  # server + PostgreSQL
    wrk_cpu_ms_per_req: float
    other_cpu_ms_per_req: float  # the rest of the machine's busy time: neighbours, kernel, py-spy...
    machine_busy_pct: float
    peak_rss_mib: float  # largest VmHWM among the workers (lifetime peak so far)

    def as_dict(self) -> dict:
        return asdict(self)


def run_wrk(
    *,
    script: Path,
    url: str,
    connections: int,
    threads: int,
    seconds: int,
    env: dict[str, str],
    result_file: Path,
    log_file: Path,
    pid_file: Path,
) -> tuple[dict, float]:
    """Run wrk; return (the JSON its Lua ``done`` wrote, wrk's own CPU ms)."""
    threads = max(1, min(threads, connections))
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    full_env = {
        **os.environ,
        **env,
        "BENCH_THREADS": str(threads),
        "BENCH_RESULT_FILE": str(result_file),
        "BENCH_LUA_DIR": str(script.parent),
    }
    result_file.unlink(missing_ok=True)
    with open(log_file, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        pid_file.write_text(str(proc.pid))
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            pid_file.unlink(missing_ok=True)
    if proc.returncode != 0 or not result_file.exists():
        raise RuntimeError(f"wrk failed (exit {proc.returncode}); see {log_file}")
    return json.loads(result_file.read_text()), (usage.ru_utime + usage.ru_stime) * 1000


def measure(
    *,
    scenario: str,
    invocation: Invocation,
    script: Path,
    base_url: str,
    connections: int,
    threads: int,
    seconds: int,
    workers: int,
    master_pid: int,
    worker_pids: list[int],
    database: str,
    work: Path,
) -> Measurement:
    label = f"{scenario}-c{connections}-w{workers}"
    before = procstat.snapshot(master_pid, database)
    data, wrk_ms = run_wrk(
        script=script,
        url=base_url + invocation.path,
        connections=connections,
        threads=threads,
        seconds=seconds,
        env=invocation.env,
        result_file=work / f"result-{label}.json",
        log_file=work / "wrk.log",
        pid_file=work / "wrk.pid",
    )
    after = procstat.snapshot(master_pid, database)
    cpu = procstat.cpu_delta(before, after)
    n = max(1, int(data["requests"]))
    duration = data["duration_us"] / 1e6
    rss = [procstat.peak_rss_kib(pid) or 0 for pid in worker_pids]
    other = max(0.0, cpu.machine_busy_ms - cpu.server_ms - cpu.postgres_ms - wrk_ms)
    errors = sum(int(data[f"errors_{k}"]) for k in ("connect", "read", "write", "timeout"))
    return Measurement(
        scenario=scenario,
        connections=connections,
        workers=workers,
        duration_s=round(duration, 2),
        requests=int(data["requests"]),
        rps=data["requests"] / duration,
        p50_ms=data["latency_p50_us"] / 1000,
        p90_ms=data["latency_p90_us"] / 1000,
        p99_ms=data["latency_p99_us"] / 1000,
        max_ms=data["latency_max_us"] / 1000,
        non_2xx=int(data["errors_status"]),
        socket_errors=errors,
        chain_breaks=int(data.get("counter_broken", 0)),
        starved=int(data.get("counter_starved", 0)),
        server_cpu_ms_per_req=cpu.server_ms / n,
        pg_cpu_ms_per_req=cpu.postgres_ms / n,
        cpu_ms_per_req=(cpu.server_ms + cpu.postgres_ms) / n,
        wrk_cpu_ms_per_req=wrk_ms / n,
        other_cpu_ms_per_req=other / n,
        machine_busy_pct=100 * cpu.machine_busy_ms / max(1.0, cpu.machine_capacity_ms),
        peak_rss_mib=max(rss, default=0) / 1024,
    )


def warm_up(
    *,
    invocation: Invocation,
    script: Path,
    base_url: str,
    connections: int,
    threads: int,
    seconds: int,
    work: Path,
    label: str,
) -> dict:
    data, _ = run_wrk(
        script=script,
        url=base_url + invocation.path,
        connections=connections,
        threads=threads,
        seconds=seconds,
        env=invocation.env,
        result_file=work / f"warmup-{label}.json",
        log_file=work / "wrk.log",
        pid_file=work / "wrk.pid",
    )
    return data
