"""Benchmark driver: provisions the server, measures references, runs wrk scenarios, writes the report.

Run it through ``bench/run`` (which installs prerequisites, creates and drops the database and
cleans up processes); ``driver.py compare OLD.json NEW.json`` compares two result files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from benchkit import floor  # noqa: E402
from benchkit import peers  # noqa: E402
from benchkit import procstat  # noqa: E402
from benchkit import profile  # noqa: E402
from benchkit import references  # noqa: E402
from benchkit import report  # noqa: E402
from benchkit.scenarios import DEFAULT_SCENARIOS  # noqa: E402
from benchkit.scenarios import SCENARIOS  # noqa: E402
from benchkit.scenarios import Context  # noqa: E402
from benchkit.scenarios import refresh_pool  # noqa: E402
from benchkit.server import Deployment  # noqa: E402
from benchkit.servers import ServerKind  # noqa: E402
from benchkit.wrkrun import measure  # noqa: E402
from benchkit.wrkrun import run_wrk  # noqa: E402
from benchkit.wrkrun import warm_up  # noqa: E402

#: The product's command (bench/README.md, "The server"); `--server sync:4` is the gunicorn set-up before issue 16.
DEFAULT_SERVER = "serve"
SWEEP = (1, 4, 16, 64)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_facts(args: argparse.Namespace, server: str, env: str) -> tuple[dict[str, str], str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    sha = _sh("git", "rev-parse", "--short", "HEAD") or "nogit"
    dirty = len([line for line in _sh("git", "status", "--porcelain").splitlines() if line.strip()])
    git = f"{sha}{f' + {dirty} uncommitted changes' if dirty else ''}"
    pg_version = _sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Atc", "show server_version")
    wrk_version = (_sh("wrk", "-v").splitlines() or ["wrk"])[0].split(" Copyright")[0]
    facts = {
        "machine": f"{os.cpu_count()} CPUs (nproc {_sh('nproc')}), {cpu}, {mem_kib // 1024} MiB RAM, "
        f"Linux {platform.release()}",
        "command": args.command_line or shlex.join(sys.argv),
        "git": git,
        "server": f"{server}, `authserver:create_app()`, AUTHSERVER_ENV={env}",
        "database": f"PostgreSQL {pg_version}, fresh database `{args.db}` (dropped after the run)",
        "load generator": f"{wrk_version}, {getattr(args, 'wrk_threads', 1)} thread(s), same machine",
        "python": platform.python_version(),
    }
    return facts, sha


def _busy_pct(seconds: float) -> float:
    busy0, total0 = procstat.machine_busy_ticks()
    time.sleep(seconds)
    busy1, total1 = procstat.machine_busy_ticks()
    return 100 * (busy1 - busy0) / max(1, total1 - total0)


def machine_quiet_check(wait: int = 0) -> list[str]:
    """Sample the machine before the run (waiting up to ``wait`` s for it to calm down): other load
    makes req/s and latency unreliable (CPU ms/req much less so)."""
    deadline = time.monotonic() + wait
    pct = _busy_pct(2.0)
    while pct > 15 and time.monotonic() < deadline:
        say(f"machine {pct:.0f}% busy: waiting for it to calm down ({deadline - time.monotonic():.0f} s left)...")
        pct = _busy_pct(3.0)
    say(f"machine busy before the run: {pct:.0f}%")
    if pct > 15:
        return [
            f"the machine was {pct:.0f}% busy before the run started (other processes): req/s and latency "
            "are understated; CPU ms/req is the steadier figure"
        ]
    return []


def measure_references(workers: int) -> dict:
    say("references: openssl speed rsa2048 (about 6 s)...")
    signs, verifies, _line = references.openssl_rsa2048()
    say("references: argon2id verify...")
    argon = references.argon2_verify()
    cores = os.cpu_count() or 1
    say(f"references: raw argon2 verify rate, {workers} processes at once (about 10 s)...")
    same = references.argon2_concurrent(workers)
    best = references.argon2_concurrent(min(workers, cores)) if workers > cores else same
    return {
        "rsa2048_sign_per_s": signs,
        "rsa2048_verify_per_s": verifies,
        "argon2_ms_per_verify": argon.ms_per_verify,
        "argon2_raw_rate": same.rate,
        "argon2_raw_rate_processes": same.processes,
        "argon2_best_rate": best.rate,
        "argon2_best_rate_processes": best.processes,
        "argon2_ideal_rate": argon.ideal_rate(workers, cores),
        "table": _reference_table(signs, verifies, argon, same, best, workers, cores),
    }


def measure_floor_reference(args: argparse.Namespace, kind: ServerKind) -> dict:
    """The minimal refresh handler of PERFORMANCE-NOTES.md under the server's own HTTP server (see bench/floor/)."""
    say(f"references: floor refresh handler (bench/floor, {kind.describe()}), {args.warmup} + {args.duration} s...")
    try:
        m = floor.measure_floor(
            repo=REPO,
            run_dir=args.run_dir,
            database=args.db,
            duration=args.duration,
            warmup=args.warmup,
            connections=report.MAIN_CONNECTIONS,
            kind=kind,
        )
    except (RuntimeError, OSError, ValueError, requests.RequestException) as exc:
        say(f"floor reference failed: {exc}")
        return {"floor_error": " ".join(str(exc).split())[:300]}
    say(f"  {m['rps']:,.1f} req/s, CPU {m['cpu_ms_per_req']:.2f} ms/req, {m['chain_breaks']} chain breaks")
    return {"floor": m}


def measure_static_reference(args: argparse.Namespace, dep: Deployment) -> dict | None:
    """A bare WSGI app returning as many fixed bytes as the JWKS, under the server's HTTP server (bench/floor)."""
    try:
        body = requests.get(dep.base_url + "/.well-known/jwks.json", timeout=10).content
        say(
            f"references: static response floor (bench/floor/static_app.py, {dep.kind.describe()}, "
            f"{len(body)} bytes), {args.warmup} + {args.duration} s..."
        )
        m = floor.measure_static(
            repo=REPO,
            run_dir=args.run_dir,
            database=args.db,
            duration=args.duration,
            warmup=args.warmup,
            connections=report.MAIN_CONNECTIONS,
            kind=dep.kind,
            body_bytes=len(body),
        )
    except (RuntimeError, OSError, ValueError, requests.RequestException) as exc:
        say(f"static floor failed: {exc}")
        return None
    say(f"  {m['rps']:,.1f} req/s, CPU {m['cpu_ms_per_req']:.2f} ms/req")
    return m


def plan(names: list[str], metadata: dict) -> tuple[list[str], dict[str, str]]:
    runnable, skipped = [], {}
    for name in names:
        why = SCENARIOS[name].unsupported(metadata)
        if why:
            skipped[name] = why
            say(f"skip {name}: {why}")
        else:
            runnable.append(name)
    return runnable, skipped


def run_scenarios(
    args: argparse.Namespace, dep: Deployment, creds, names: list[str], levels: tuple[int, ...]
) -> tuple[list[dict], dict[str, str]]:
    """Each runnable scenario at each connection count; a scenario that fails is reported, not fatal."""
    metadata = dep.metadata()
    ctx = Context(dep, creds, metadata, args.run_dir)
    runnable, skipped = plan(names, metadata)
    for name in list(runnable):
        try:
            SCENARIOS[name].setup(ctx)  # all CLI provisioning before the first measurement
        except (RuntimeError, OSError, ValueError, requests.RequestException) as exc:
            skipped[name] = _failure(name, "set-up", exc)
            runnable.remove(name)
    phases = 2 if args.warmup > 0 else 1
    need = sum(SCENARIOS[n].tokens_needed(c) * phases for n in runnable for c in levels)
    if need:
        t0 = time.monotonic()
        ctx.tokens = dep.mint_refresh_tokens(creds, need)
        say(f"pre-minted {need} refresh tokens (one family each) in {time.monotonic() - t0:.1f} s")
    results = []
    for name in runnable:
        for conns in levels:
            try:
                results.append(run_one(args, ctx, name, conns))
            except (RuntimeError, OSError, ValueError, KeyError, requests.RequestException) as exc:
                skipped[name] = _failure(name, f"{conns} connections", exc)
                break
    return results, skipped


def _failure(name: str, stage: str, exc: Exception) -> str:
    text = " ".join(str(exc).split())[:400]
    say(f"FAILED {name} ({stage}): {text}")
    return f"FAILED at {stage}: {type(exc).__name__}: {text}"


def run_one(args: argparse.Namespace, ctx: Context, name: str, conns: int) -> dict:
    sc, dep = SCENARIOS[name], ctx.deployment
    common = {
        "script": BENCH / "scenarios" / sc.script,
        "base_url": dep.base_url,
        "connections": conns,
        "threads": args.wrk_threads,
    }
    label = f"{name}-c{conns}-w{dep.workers}"
    bracket = name == "password" and conns == report.MAIN_CONNECTIONS
    if bracket:  # the machine's speed drifts within minutes: measure the password reference beside the run
        say(f"references: raw argon2 verify rate, {dep.workers} processes, just before the password run...")
        before = references.argon2_concurrent(dep.workers)
    if args.warmup > 0:
        say(f"{name}: warm-up {args.warmup} s at {conns} connections...")
        warm_up(
            invocation=sc.prepare(ctx, conns, label + "-warmup"),
            seconds=args.warmup,
            work=args.run_dir,
            label=label,
            **common,
        )
    say(f"{name}: measuring {args.duration} s at {conns} connections...")
    m = measure(
        scenario=name,
        invocation=sc.prepare(ctx, conns, label),
        seconds=args.duration,
        workers=dep.workers,
        master_pid=dep.server.process.pid,
        worker_pids=dep.worker_pids(),
        database=args.db,
        work=args.run_dir,
        **common,
    ).as_dict()
    if bracket:
        say("references: ... and just after it")
        after = references.argon2_concurrent(dep.workers)
        m["argon2_bracket"] = [before.rate, after.rate]
    if name == "refresh" and conns == report.MAIN_CONNECTIONS and not args.no_floor:
        # The floor ran just before the server started; once more now, so a drift of the machine's
        # speed during the refresh run shows (the report compares with the mean of the two).
        m["floor_after"] = measure_floor_reference(args, dep.kind).get("floor")
    if name == "jwks" and conns == report.MAIN_CONNECTIONS and not args.no_floor:
        m["static"] = measure_static_reference(args, dep)
    say(
        f"  {m['rps']:,.1f} req/s, p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, non-2xx {m['non_2xx']}, "
        f"chain breaks {m['chain_breaks']}, CPU {m['cpu_ms_per_req']:.2f} ms/req "
        f"(server {m['server_cpu_ms_per_req']:.2f} + PG {m['pg_cpu_ms_per_req']:.2f})"
    )
    return m


def server_log_notes(run_dir: Path) -> list[str]:
    notes = []
    for log in sorted(run_dir.glob("server-*.log")):
        text = log.read_text(errors="replace")
        for needle in ("Traceback", "WORKER TIMEOUT", "[CRITICAL]", "[ERROR]", '"level": "error"'):
            count = text.count(needle)
            if count:
                notes.append(f"{log.name}: {count} x `{needle}` (see bench/.work/{run_dir.name}/{log.name})")
    return notes


def write_results(run: dict, sha: str, suffix: str = "") -> Path:
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"{run['meta']['timestamp']}-{sha}{suffix}.md"
    path.write_text(run["markdown"])
    path.with_suffix(".json").write_text(json.dumps({k: v for k, v in run.items() if k != "markdown"}, indent=2))
    return path


def cmd_bench(args: argparse.Namespace) -> None:
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    timestamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dep = Deployment(REPO, args.run_dir, args.db)
    say(f"provisioning database {args.db} (production settings, key in {dep.keys_dir})...")
    creds = dep.provision()
    if args.compare_servers or args.compare_workers:
        return compare_servers(args, dep, creds, names, timestamp)
    kind = ServerKind.parse(args.server, args.workers)
    quiet_notes = machine_quiet_check(args.wait_quiet)
    refs = measure_references(kind.workers)
    if "refresh" in names and not args.no_floor:
        refs.update(measure_floor_reference(args, kind))
    levels = SWEEP if args.sweep else (report.MAIN_CONNECTIONS,)
    say(f"starting {kind.describe()}...")
    dep.start(kind)
    try:
        results, skipped = run_scenarios(args, dep, creds, names, levels)
    finally:
        dep.stop()
    peer = measure_peers(args) if args.peers else None
    facts, sha = machine_facts(args, kind.describe(), dep.env["AUTHSERVER_ENV"])
    main = {m["scenario"]: m for m in results if m["connections"] == report.MAIN_CONNECTIONS}
    run = {
        "meta": {
            "timestamp": timestamp,
            "git": facts["git"],
            "facts": facts,
            "duration": args.duration,
            "warmup": args.warmup,
            "workers": kind.workers,
            "server": kind.label,
        },
        "references": refs,
        "measurements": results,
        "skipped": skipped,
        "targets": report.evaluate(main, skipped, refs),
        "notes": [*quiet_notes, *dep.notes, *server_log_notes(args.run_dir)],
    }
    run["markdown"] = report.render(run)
    if peer is not None:
        run["peers"] = {"oidc-provider": peer}
        run["markdown"] += (
            peers.markdown(peer, main) if "error" not in peer else f"\n## Peer\n\nFAILED: {peer['error']}\n"
        )
    path = write_results(run, sha)
    print(run["markdown"])
    say(f"written: {path.relative_to(REPO)} (and .json)")


def measure_peers(args: argparse.Namespace) -> dict:
    """node-oidc-provider on the refresh, client_credentials and jwks scripts (benchkit/peers.py)."""
    say(f"peer: node-oidc-provider (bench/peers), {args.warmup} + {args.duration} s per scenario...")
    try:
        result = peers.measure_oidc_provider(
            run_dir=args.run_dir,
            database=args.db,
            duration=args.duration,
            warmup=args.warmup,
            connections=report.MAIN_CONNECTIONS,
        )
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError, requests.RequestException) as exc:
        say(f"peer failed: {exc}")
        return {"error": " ".join(str(exc).split())[:300]}
    for name in peers.SCENARIOS:
        m = result[name]
        say(f"  peer {name}: {m['rps']:,.1f} req/s, p99 {m['p99_ms']:.1f} ms, CPU {m['cpu_ms_per_req']:.2f} ms/req")
    return result


def compare_servers(args: argparse.Namespace, dep: Deployment, creds, names: list[str], timestamp: str) -> None:
    """The scenarios once per server kind (``--compare-servers``) or per sync worker count (``--compare-workers``),
    in the order given, one table; with ``--rounds N`` the whole list N times (alternating, so drift shows)."""
    if args.compare_servers:
        kinds = [ServerKind.parse(k) for k in args.compare_servers.split(",") if k.strip()]
    else:
        kinds = [ServerKind.parse(f"{args.server.partition(':')[0]}:{w}") for w in args.compare_workers.split(",")]
    quiet_notes = machine_quiet_check(args.wait_quiet)
    refs = measure_references(max(k.workers for k in kinds))
    rows = []
    for round_ in range(1, args.rounds + 1):
        for kind in kinds:
            say(f"--- round {round_}: {kind.describe()} ---")
            if "refresh" in names and not args.no_floor:
                floor_ref = measure_floor_reference(args, kind).get("floor")
                if floor_ref:
                    rows.append({**floor_ref, "server": kind.label, "round": round_})
            dep.start(kind)
            try:
                results, _ = run_scenarios(args, dep, creds, names, (report.MAIN_CONNECTIONS,))
            finally:
                dep.stop()
            rows += [{**m, "server": kind.label, "round": round_} for m in results]
    facts, sha = machine_facts(args, " / ".join(k.label for k in kinds), dep.env["AUTHSERVER_ENV"])
    lines = [f"# authserver server comparison {timestamp} ({facts['git']})", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [f"- `{k.label}`: {k.describe()}" for k in kinds]
    lines += [
        f"- raw argon2 verify: {refs['argon2_ms_per_verify']:.1f} ms; "
        f"RSA-2048 sign/s {refs['rsa2048_sign_per_s']:,.0f}",
        *[f"- note: {n}" for n in [*quiet_notes, *dep.notes, *server_log_notes(args.run_dir)]],
        "",
        "| scenario | server | round | req/s | p50 ms | p99 ms | errors | CPU ms/req (server + PG) | server CPU "
        "| other CPU ms/req | box busy | peak RSS/worker MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {k.label: i for i, k in enumerate(kinds)}
    for m in sorted(rows, key=lambda m: (m["scenario"], order[m["server"]], m["round"])):
        lines.append(
            f"| {m['scenario']} | {m['server']} | {m['round']} | {m['rps']:,.1f} | {m['p50_ms']:.1f} | "
            f"{m['p99_ms']:.1f} | {m['non_2xx'] + m['chain_breaks'] + m['socket_errors']} | "
            f"{m['cpu_ms_per_req']:.2f} | {m['server_cpu_ms_per_req']:.2f} | "
            f"{m['other_cpu_ms_per_req']:.2f} | {m['machine_busy_pct']:.0f}% | {m['peak_rss_mib']:.1f} |"
        )
    run = {
        "meta": {"timestamp": timestamp, "git": facts["git"], "facts": facts},
        "references": refs,
        "measurements": rows,
        "markdown": "\n".join(lines) + "\n",
    }
    path = write_results(run, sha, "-servers")
    print(run["markdown"])
    say(f"written: {path.relative_to(REPO)}")


def cmd_profile(args: argparse.Namespace) -> None:
    dep = Deployment(REPO, args.run_dir, args.db)
    say(f"provisioning database {args.db}...")
    creds = dep.provision()
    dep.start(ServerKind.parse(args.server, 1))
    try:
        ctx = Context(dep, creds, dep.metadata(), args.run_dir)
        ctx.tokens = dep.mint_refresh_tokens(creds, refresh_pool(args.connections))
        invocation = SCENARIOS["refresh"].prepare(ctx, args.connections, "profile")
        worker = dep.worker_pids()[0]
        box: dict = {}

        def load() -> None:
            try:
                box["wrk"] = run_wrk(
                    script=BENCH / "scenarios" / "refresh.lua",
                    url=dep.base_url + invocation.path,
                    connections=args.connections,
                    threads=1,
                    seconds=args.duration + 4,
                    env=invocation.env,
                    result_file=args.run_dir / "result-profile.json",
                    log_file=args.run_dir / "wrk.log",
                    pid_file=args.run_dir / "wrk.pid",
                )
            except Exception as exc:  # reported below
                box["error"] = exc

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        time.sleep(2)
        raw = args.run_dir / "profile-refresh.txt"
        say(f"py-spy record --pid {worker} for {args.duration} s (refresh load, {args.connections} connections)...")
        spy = [
            str(REPO / ".venv" / "bin" / "py-spy"),
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(args.duration),
            "--rate",
            str(args.rate),
            "--format",
            "raw",
            "--output",
            str(raw),
        ] + (["--idle"] if args.idle else [])
        subprocess.run(spy, check=True, stdout=sys.stderr)
        loader.join()
    finally:
        dep.stop()
    if "error" in box:
        raise box["error"]
    data = box["wrk"][0]
    say(
        f"refresh under py-spy: {data['requests'] / (data['duration_us'] / 1e6):,.1f} req/s on 1 worker, "
        f"{int(data.get('counter_broken', 0))} chain breaks"
    )
    text = (
        f"refresh under py-spy, 1 worker, {args.connections} connections, {args.duration} s at {args.rate} Hz: "
        f"{data['requests'] / (data['duration_us'] / 1e6):,.1f} req/s\n\n{profile.summary(raw, args.top)}"
    )
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sha = _sh("git", "rev-parse", "--short", "HEAD") or "nogit"
    summary_file = out_dir / f"{stamp}-{sha}-profile-refresh.txt"
    summary_file.write_text(text)
    print(text)
    say(
        f"summary written to {summary_file.relative_to(REPO)}; collapsed stacks (open in https://www.speedscope.app): "
        f"{raw.relative_to(REPO)}"
    )


def _on_term(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("bench", "profile-refresh"):
        p = sub.add_parser(name)
        p.add_argument("--run-dir", type=Path, required=True, help="work directory (bench/run makes one)")
        p.add_argument("--db", required=True, help="the fresh PostgreSQL database (bench/run creates and drops it)")
        p.add_argument("--command-line", default="")
        p.add_argument("--duration", type=int, default=20 if name == "bench" else 15, help="measured seconds")
        p.add_argument(
            "--server",
            default=DEFAULT_SERVER,
            help="NAME[:W[xT]], NAME one of serve (default), sync, gthread, granian, waitress (benchkit/servers.py)",
        )
    bench = sub.choices["bench"]
    bench.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each measurement (0: none)")
    bench.add_argument("--scenarios", default=DEFAULT_SCENARIOS, help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    bench.add_argument("--sweep", action="store_true", help=f"also measure at {', '.join(map(str, SWEEP))} connections")
    bench.add_argument("--workers", type=int, default=None, help="worker processes (default: the server kind's)")
    bench.add_argument("--compare-workers", default="", help="e.g. 2,3,4: the scenarios once per worker count")
    bench.add_argument(
        "--compare-servers",
        default="",
        help="e.g. serve,sync:4,gthread:4x1,granian:2x2: the scenarios (and the floor) once per server kind",
    )
    bench.add_argument(
        "--peers",
        action="store_true",
        help="also measure node-oidc-provider (bench/peers, npm ci) on refresh, client_credentials and jwks",
    )
    bench.add_argument("--rounds", type=int, default=1, help="with --compare-servers: repeat the list this often")
    bench.add_argument(
        "--wait-quiet",
        type=int,
        default=0,
        metavar="SECONDS",
        help="wait up to this long for the machine to be under 15%% busy before measuring",
    )
    bench.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the floor references (bench/floor: the minimal refresh handler before and after "
        "refresh, the static response after jwks; ~75 s)",
    )
    bench.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1 leaves the cores to the server)")
    prof = sub.choices["profile-refresh"]
    prof.add_argument("--connections", type=int, default=4)
    prof.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    prof.add_argument("--idle", action="store_true", help="include idle samples (time waiting on PostgreSQL)")
    prof.add_argument("--top", type=int, default=25)
    cmp_ = sub.add_parser("compare", help="compare two bench/results/*.json files")
    cmp_.add_argument("old", type=Path)
    cmp_.add_argument("new", type=Path)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    if args.cmd == "compare":
        print(report.compare(args.old, args.new))
    elif args.cmd == "bench":
        cmd_bench(args)
    else:
        cmd_profile(args)


def _reference_table(
    signs: float, verifies: float, argon: Any, same: Any, best: Any, workers: int, cores: int
) -> dict[str, str]:
    """The references' rows of the report: what each measured, and the figure."""
    argon2 = f"argon2id verify (t={argon.time_cost}, m={argon.memory_kib} KiB, p={argon.parallelism})"
    table = {
        "RSA-2048 sign/s, one core (`openssl speed -seconds 3 rsa2048`)": f"{signs:,.0f} ({1000 / signs:.2f} ms each)",
        "RSA-2048 verify/s, one core": f"{verifies:,.0f}",
        argon2: f"{argon.ms_per_verify:.1f} ms CPU (median of 25; wall: median {argon.wall_ms:.1f}, "
        f"fastest {argon.min_wall_ms:.1f} ms)",
    }
    same_row = f"raw argon2 verify rate, {workers} processes at once (= workers; the password target's reference)"
    table[same_row] = f"{same.rate:,.1f} verifies/s ({same.cpu_ms_per_verify:.1f} ms CPU each)"
    if best is not same:
        table[f"raw argon2 verify rate, {best.processes} processes at once (= cores)"] = (
            f"{best.rate:,.1f} verifies/s ({best.cpu_ms_per_verify:.1f} ms CPU each)"
        )
    table[f"contention-free ideal = min({workers}, {cores} cores) x 1000 / single-thread CPU ms"] = (
        f"{argon.ideal_rate(workers, cores):,.1f} verifies/s"
    )
    return table


if __name__ == "__main__":
    main()
