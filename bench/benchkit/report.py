"""Targets, the Markdown report and the comparison of two runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAIN_CONNECTIONS = 16


@dataclass(frozen=True)
class Target:
    scenario: str
    what: str
    goal: str
    check: Callable[[dict, dict], tuple[str, bool]]  # (measurement, references) -> (measured text, met)


def _ge(key: str, limit: float, fmt: str = "{:,.0f}") -> Callable[[dict, dict], tuple[str, bool]]:
    return lambda m, ref: (fmt.format(m[key]), m[key] >= limit)


def _le(key: str, limit: float, fmt: str = "{:.2f}") -> Callable[[dict, dict], tuple[str, bool]]:
    return lambda m, ref: (fmt.format(m[key]), m[key] <= limit)


def _zero_failures(m: dict, ref: dict) -> tuple[str, bool]:
    bad = m["non_2xx"] + m["chain_breaks"] + m["socket_errors"]
    return f"{m['non_2xx']} non-2xx, {m['chain_breaks']} chain breaks, {m['socket_errors']} socket errors", bad == 0


def _argon2_share(m: dict, ref: dict) -> tuple[str, bool]:
    """The password rate against the raw argon2 rate of as many processes as workers: measured just
    before and just after the password run when the driver bracketed it (the mean of the two is the
    reference), else at the start of the run."""
    start, verify_ms = ref["argon2_raw_rate"], ref["argon2_ms_per_verify"]
    procs = ref.get("argon2_raw_rate_processes", "?")
    bracket = m.get("argon2_bracket")
    raw = sum(bracket) / len(bracket) if bracket else start
    best, ideal = ref.get("argon2_best_rate", start), ref.get("argon2_ideal_rate", start)
    where = (
        f"mean of {bracket[0]:,.1f} just before and {bracket[1]:,.1f} just after the run; {start:,.1f} at the start"
        if bracket
        else "measured at the start of the run"
    )
    text = (
        f"{m['rps']:,.1f} req/s = {100 * m['rps'] / raw:.0f}% of {raw:,.1f} ({procs} processes, {where}; "
        f"{100 * m['rps'] / best:.0f}% of the best raw rate, {100 * m['rps'] / ideal:.0f}% of the contention-free "
        f"ideal); server CPU {m['server_cpu_ms_per_req']:.1f} ms/req = "
        f"{m['server_cpu_ms_per_req'] / verify_ms:.2f} verifies"
    )
    return text, m["rps"] >= 0.9 * raw


def _with_floor(
    check: Callable[[dict, dict], tuple[str, bool]], key: str, fmt: str
) -> Callable[[dict, dict], tuple[str, bool]]:
    """``check``, with the floor handler's figure on this machine beside it (when measured)."""

    def with_floor(m: dict, ref: dict) -> tuple[str, bool]:
        text, ok = check(m, ref)
        runs = [f[key] for f in (ref.get("floor"), m.get("floor_after")) if f]
        if runs:
            floor = sum(runs) / len(runs)
            where = (
                f"mean of {fmt.format(runs[0])} before and {fmt.format(runs[1])} after the run"
                if len(runs) == 2
                else "measured before the run"
            )
            text += f" (floor here: {fmt.format(floor)}, {where}; {100 * m[key] / floor:.0f}% of it)"
        return text, ok

    return with_floor


def _static_share(m: dict, ref: dict) -> tuple[str, bool]:
    """jwks req/s, with the bare static WSGI response's rate (same workers, same size) beside it."""
    text = f"{m['rps']:,.0f}"
    if m.get("static"):
        s = m["static"]
        text += (
            f" (bare static response of the same size under the same server, run right after: {s['rps']:,.0f} req/s, "
            f"{s['server_cpu_ms_per_req']:.2f} ms CPU/req; {100 * m['rps'] / s['rps']:.0f}% of it)"
        )
    return text, m["rps"] >= 8000


def floor_rows(ref: dict) -> list[list[str]]:
    what = (
        "minimal refresh handler under the same server (`bench/floor`; PERFORMANCE-NOTES measured 1,450 req/s and "
        "1.13 ms CPU/req on their machine)"
    )
    if "floor" in ref:
        f = ref["floor"]
        return [
            [
                what,
                f"{f['rps']:,.1f} req/s, p99 {f['p99_ms']:.1f} ms, CPU {f['server_cpu_ms_per_req']:.2f} "
                f"server + {f['pg_cpu_ms_per_req']:.2f} PG = {f['cpu_ms_per_req']:.2f} ms/req, "
                f"{f['non_2xx'] + f['chain_breaks']} failures, {f['peak_rss_mib']:.0f} MiB/worker",
            ]
        ]
    if "floor_error" in ref:
        return [[what, f"FAILED: {ref['floor_error']}"]]
    return []


TARGETS = [
    Target("refresh", "throughput", ">= 1,000 req/s", _with_floor(_ge("rps", 1000), "rps", "{:,.0f}")),
    Target("refresh", "p99 latency", "<= 40 ms", _le("p99_ms", 40, "{:.1f} ms")),
    Target("refresh", "failures", "0 non-2xx / chain breaks / socket errors", _zero_failures),
    Target(
        "refresh",
        "CPU per request (server + PostgreSQL)",
        "<= 1.8 ms",
        _with_floor(_le("cpu_ms_per_req", 1.8, "{:.2f} ms"), "cpu_ms_per_req", "{:.2f} ms"),
    ),
    Target("client_credentials", "throughput", ">= 1,500 req/s", _ge("rps", 1500)),
    Target("jwks", "throughput", ">= 8,000 req/s", _static_share),
    Target("password", "throughput vs raw argon2 verify rate", ">= 90%", _argon2_share),
]


def evaluate(main: dict[str, dict], skipped: dict[str, str], refs: dict) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for t in TARGETS:
        if t.scenario in main:
            measured, ok = t.check(main[t.scenario], refs)
            rows.append((t.scenario, t.what, t.goal, measured, "PASS" if ok else "MISS"))
        else:
            why = skipped.get(t.scenario, "not run")
            failed = why.startswith("FAILED")
            rows.append((t.scenario, t.what, t.goal, why if failed else f"skipped: {why}", "MISS" if failed else "n/a"))
    if main:
        worst = max(main.values(), key=lambda m: m["peak_rss_mib"])
        rows.append(
            (
                "all",
                "peak RSS per worker",
                "< 100 MiB",
                f"{worst['peak_rss_mib']:.1f} MiB (max)",
                "PASS" if worst["peak_rss_mib"] < 100 else "MISS",
            )
        )
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _measurement_rows(ms: list[dict]) -> list[list[str]]:
    return [
        [
            m["scenario"],
            m["connections"],
            f"{m['rps']:,.1f}",
            f"{m['p50_ms']:.1f}",
            f"{m['p90_ms']:.1f}",
            f"{m['p99_ms']:.1f}",
            m["non_2xx"],
            m["chain_breaks"] if m["scenario"] == "refresh" else "-",
            m["socket_errors"],
            f"{m['server_cpu_ms_per_req']:.2f}",
            f"{m['pg_cpu_ms_per_req']:.2f}",
            f"{m['cpu_ms_per_req']:.2f}",
            f"{m['wrk_cpu_ms_per_req']:.2f}",
            f"{m['other_cpu_ms_per_req']:.2f}",
            f"{m['machine_busy_pct']:.0f}%",
            f"{m['peak_rss_mib']:.1f}",
        ]
        for m in ms
    ]


MEASUREMENT_HEADER = [
    "scenario",
    "conns",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "non-2xx",
    "chain breaks",
    "socket errs",
    "server CPU ms/req",
    "PG CPU ms/req",
    "total CPU ms/req",
    "wrk CPU ms/req",
    "other CPU ms/req",
    "box busy",
    "peak RSS/worker MiB",
]


def render(run: dict) -> str:
    refs, meta = run["references"], run["meta"]
    lines = [f"# authserver benchmark {meta['timestamp']} ({meta['git']})", ""]
    lines += _table(["", ""], [[k, v] for k, v in meta["facts"].items()])
    lines += ["", "## Physical references (same machine, same run, server idle)", ""]
    rows = [[k, v] for k, v in refs["table"].items()] + floor_rows(refs)
    lines += _table(["reference", "value"], rows)
    main = [m for m in run["measurements"] if m["connections"] == MAIN_CONNECTIONS]
    lines += [
        "",
        f"## Results: {MAIN_CONNECTIONS} connections, {meta['duration']} s after a {meta['warmup']} s warm-up",
        "",
    ]
    lines += _table(MEASUREMENT_HEADER, _measurement_rows(main))
    sweep = [m for m in run["measurements"] if m["connections"] != MAIN_CONNECTIONS]
    if sweep:
        lines += ["", "## Sweep (same settings, other connection counts)", ""]
        ordered = sorted(run["measurements"], key=lambda m: (m["scenario"], m["connections"]))
        lines += _table(MEASUREMENT_HEADER, _measurement_rows(ordered))
    lines += ["", "## Targets", ""]
    lines += _table(["scenario", "what", "target", "measured", "result"], [list(r) for r in run["targets"]])
    if run["skipped"]:
        lines += ["", "## Skipped scenarios", ""]
        lines += [f"- `{name}`: {why}" for name, why in run["skipped"].items()]
    if run["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in run["notes"]]
    return "\n".join(lines) + "\n"


def compare(old_path: Path, new_path: Path) -> str:
    """A table of the main figures of two runs' JSON files, with the relative change."""
    old, new = (json.loads(Path(p).read_text()) for p in (old_path, new_path))
    key = lambda m: (m["scenario"], m["connections"])  # noqa: E731
    olds = {key(m): m for m in old["measurements"]}
    rows = []
    for m in new["measurements"]:
        o = olds.get(key(m))
        if o is None:
            continue
        for field, label in (
            ("rps", "req/s"),
            ("p99_ms", "p99 ms"),
            ("cpu_ms_per_req", "CPU ms/req"),
            ("peak_rss_mib", "RSS MiB"),
        ):
            change = (m[field] - o[field]) / o[field] * 100 if o[field] else float("nan")
            rows.append(
                [m["scenario"], m["connections"], label, f"{o[field]:,.2f}", f"{m[field]:,.2f}", f"{change:+.1f}%"]
            )
    head = [
        f"old: {old['meta']['timestamp']} ({old['meta']['git']}), new: {new['meta']['timestamp']} "
        f"({new['meta']['git']})",
        "",
    ]
    return "\n".join(head + _table(["scenario", "conns", "figure", "old", "new", "change"], rows)) + "\n"
