"""The table per scenario, and the Markdown file of a whole run (bench/results/<UTC>-<sha>-faults.md)."""

from __future__ import annotations

from bench.faults.audit import Result
from bench.faults.audit import median


def _failures(result: Result) -> str:
    if not result.failures:
        return "0"
    return ", ".join(f"{status}: {n}" for status, n in sorted(result.failures.items()))


def summary_table(results: list[Result]) -> str:
    rows = [
        "| scenario | s | requests | refreshes | failures by status | outside faults | wrong 4xx | retries gave up "
        "| recovery max (median) | tokens lost | double-mints | false reuse | verifications failed | theft caught "
        "| checks | verdict |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        checks = sum(1 for _, ok, _ in r.checks if ok)
        recovery = f"{max(r.recovery, default=0):.1f} s ({median(r.recovery):.1f} s)"
        rows.append(
            f"| {r.scenario} | {r.seconds:.0f} | {r.requests:,} | {r.refreshes:,} | {_failures(r)} "
            f"| {r.outside_faults} "
            f"| {len(r.wrong_4xx)} | {r.gave_up} | {recovery} | {len(r.lost)} of {r.families} | {r.double_mints} "
            f"| {len(r.false_reuse)} | {len(r.verify_failed)} of {r.verified + len(r.verify_failed):,} "
            f"| {'yes' if not r.theft_missed else 'NO'} | {checks}/{len(r.checks)} | {'pass' if r.passed else 'FAIL'} |"
        )
    return "\n".join(rows)


def details(result: Result) -> str:
    lines = [f"### {result.scenario}", ""]
    ops = ", ".join(f"{op} {n:,}" for op, n in sorted(result.by_op.items()))
    lines.append(f"- requests by kind: {ops}")
    lines.append(f"- faults ({len(result.faults)}):")
    shown = result.faults if len(result.faults) <= 8 else [*result.faults[:3], "…", *result.faults[-3:]]
    lines += [f"  - {f}" for f in shown]
    if result.recovery:
        lines.append(
            "- time to recover per fault (s): "
            + ", ".join(f"{t:.1f}" for t in (result.recovery if len(result.recovery) <= 20 else result.recovery[-20:]))
        )
    for name, ok, detail in result.checks:
        lines.append(f"- check {'ok' if ok else 'FAILED'}: {name}: {detail}")
    for note in result.notes:
        lines.append(f"- {note}")
    for label, items in (
        ("lost", result.lost),
        ("false reuse detections (families)", result.false_reuse),
        ("verification failures", result.verify_failed),
        ("wrong 4xx", result.wrong_4xx),
        ("theft not caught", result.theft_missed),
    ):
        if items:
            lines.append(f"- **{label}** ({len(items)}): " + "; ".join(items[:10]) + (" …" if len(items) > 10 else ""))
    return "\n".join(lines)
