"""``bench/faults/run [--long] [--scenarios kill,pg-restart,...] [--grace-seconds N]``: see bench/faults/README.md."""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.faults.report import details
from bench.faults.report import summary_table
from bench.faults.scenarios import SCENARIOS
from bench.faults.scenarios import Options
from bench.faults.scenarios import run_scenario

ROOT = Path(__file__).resolve().parents[2]


def log(text: str) -> None:
    print(f"faults: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    from authserver.settings import Settings

    declared = Settings.load({"ENV": "development"}, environ={}).tokens.refresh_grace_seconds
    parser = argparse.ArgumentParser(prog="bench/faults/run", description=__doc__)
    parser.add_argument("--long", action="store_true", help="the long form (about 4 minutes per scenario)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--grace-seconds",
        type=int,
        default=declared,
        help=f"AUTHSERVER_REFRESH_GRACE_SECONDS of the servers (default: the declared default, {declared})",
    )
    parser.add_argument("--ci", action="store_true", help="the CI form: the short timings cut to 60 %%")
    parser.add_argument("--families", type=int, default=32)
    parser.add_argument("--refreshers", type=int, default=8)
    parser.add_argument(
        "--output", help="write the Markdown report here (default: bench/results/<UTC>-<sha>-faults.md)"
    )
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, PostgreSQL data)")
    args = parser.parse_args(argv)
    # A TERM stops like Ctrl-C: every scenario's finally stops what it started (clusters, Redis, servers).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    opts = Options(
        long=args.long, ci=args.ci, grace_seconds=args.grace_seconds, families=args.families, refreshers=args.refreshers
    )
    workdir = Path(tempfile.mkdtemp(prefix="authserver-faults-"))
    workdir.chmod(0o755)  # the postgres user reaches its clusters' directories inside
    started = time.time()
    results = []
    try:
        for name in names:
            result = run_scenario(SCENARIOS[name], opts, workdir, log)
            results.append(result)
            log(f"{name}: {'pass' if result.passed else 'FAIL'}")
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report = render(results, opts, " ".join(sys.argv[1:] if argv is None else argv), time.time() - started)
    print(report)
    if not args.no_output:
        out = Path(args.output) if args.output else default_output(started)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report + "\n")
        log(f"report written to {out}")
    return 0 if all(r.passed for r in results) else 1


def sha() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return result.stdout.strip() or "unknown"


def default_output(started: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return ROOT / "bench" / "results" / f"{stamp}-{sha()}-faults.md"


def render(results: list, opts: Options, command: str, seconds: float) -> str:
    head = [
        f"# bench/faults/run {command}".rstrip(),
        "",
        f"- commit {sha()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s in all, "
        f"{'long' if opts.long else 'CI' if opts.ci else 'short'} form",
        f"- servers: `authserver serve --workers 2 --threads 2` (production env), "
        f"AUTHSERVER_REFRESH_GRACE_SECONDS={opts.grace_seconds}; the harness's own PostgreSQL 15 cluster(s) "
        "and Redis on free loopback ports; the example resource service verifying every access token",
        f"- load: {opts.families} families refreshed by {opts.refreshers} threads (half at /oauth/token, half at "
        "/auth/refresh), a login a second (password grant and POST /login alternately), client_credentials twice "
        "a second",
        "",
        summary_table(results),
        "",
    ]
    return "\n".join(head + [details(r) + "\n" for r in results])


if __name__ == "__main__":
    sys.exit(main())
