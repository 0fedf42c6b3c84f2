"""The command line and :func:`run`: provision, start the load, rotate, prune, revoke, tally."""

from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path
from typing import Any

import bench.key_rotation
from authserver.testing.databases import PG_ADMIN_URL
from bench.key_rotation.deployment import Deployment
from bench.key_rotation.load import Load
from bench.key_rotation.phases import KeyRotations
from bench.key_rotation.phases import revoke_phase
from bench.key_rotation.report import problems
from bench.key_rotation.report import render
from bench.key_rotation.report import tally
from bench.key_rotation.settings import Options
from bench.key_rotation.strict_caches import StrictCachePool
from bench.key_rotation.timeline import Timeline
from bench.key_rotation.verifiers import ensure_node_modules


def run(opts: Options) -> dict[str, Any]:
    """One whole run; every figure (see :func:`bench.key_rotation.report.tally`). Stops and drops what it started."""
    timeline = Timeline(opts.verbose)
    dep = Deployment(opts)
    load: Load | None = None
    try:
        first_kid, basic = dep.provision()
        timeline.event("activated", first_kid, first="yes")
        ensure_node_modules()
        dep.start()
        timeline.say(f"gunicorn up: {opts.workers} workers on {dep.base_url}")
        load = Load(opts, dep.base_url, basic, timeline, dep.alive)
        load.start()
        pool = StrictCachePool(load) if opts.activate_at == "edge" else None
        if pool is not None:
            load.spawn(pool.run, "pool")
        load.begin()
        load.wait_for(lambda: load.verified_by_all(lambda t: t.kid == first_kid), 20, "first verified token")
        rotations = KeyRotations(dep, load, timeline, first_kid, pool)
        for i in range(1, opts.rotations + 1):
            rotations.rotate_once(i)
            time.sleep(opts.dwell)
        rotations.prune_until(load.started + opts.duration)
        revoke = revoke_phase(dep, load, timeline, rotations.active_kid)
        return tally(load, rotations, revoke, timeline, dep.server_log(), opts)
    finally:
        if load is not None:
            load.close()
        dep.teardown()
        if opts.keep_workdir:
            timeline.say(f"work directory kept: {dep.workdir}")


def main(argv: list[str] | None = None) -> int:
    summary = (bench.key_rotation.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="key_rotation_under_load.py", description=summary)
    parser.add_argument(
        "--database-url", help="an existing PostgreSQL database (default: a fresh one on --pg-admin-url, dropped after)"
    )
    parser.add_argument(
        "--pg-admin-url",
        default=PG_ADMIN_URL,
        help="default: AUTHSERVER_TEST_PG_URL or postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        help="minimum seconds of load in the rotation phase; past ~70 s the retired keys are "
        "pruned as they come due (default 0: stop after the rotations)",
    )
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument(
        "--mode",
        choices=["manual", "rotate"],
        default="manual",
        help="manual: keys generate / activate / prune; rotate: keys rotate steps",
    )
    parser.add_argument(
        "--activate-at",
        choices=["eligible", "after-delay", "edge"],
        default="eligible",
        help="eligible: the first moment `keys activate` accepts (created_at + publish delay), "
        "as cron's `keys rotate --if-due` may, give or take the CLI's start-up; after-delay: the "
        "publish delay after `keys generate` returned, as docs/keys.md tells an operator by "
        "hand; edge: `keys generate` late in a second and `keys activate` at the exact second it "
        "is accepted, with a pool of strict caches watching (reproduces the truncated created_at)",
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0, help="tokens per second")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep-workdir", action="store_true", help="keep keys and gunicorn.log")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.activate_at == "edge" and args.mode != "manual":
        parser.error("--activate-at edge times `keys generate` and `keys activate`: use it with --mode manual")
    opts = Options(
        database_url=args.database_url,
        pg_admin_url=args.pg_admin_url,
        duration=args.duration,
        rotations=args.rotations,
        mode=args.mode,
        activate_at=args.activate_at,
        workers=args.workers,
        rate=args.rate,
        keep_workdir=args.keep_workdir,
        verbose=not args.quiet,
    )

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    result = run(opts)
    print(render(result))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    failed = problems(result, opts.rotations)
    for problem in failed:
        print(f"FAIL: {problem}")
    print("OK: every check holds" if not failed else f"{len(failed)} check(s) failed")
    return 1 if failed else 0
