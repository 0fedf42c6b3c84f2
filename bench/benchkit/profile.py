"""Aggregate py-spy's ``--format raw`` output (collapsed stacks) into top functions.

Each line is ``frame;frame;...;leaf count`` with frames like ``rotate (authserver/store/refresh_token_sql.py:238)``.
Own time = samples where the function is the leaf; total time = samples where it is anywhere on
the stack (counted once per stack). Line numbers are dropped so a function is one row.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def aggregate(raw_file: Path) -> tuple[Counter, Counter, int]:
    own: Counter = Counter()
    total: Counter = Counter()
    samples = 0
    for line in raw_file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f]
        # py-spy puts the thread / process as a first pseudo-frame when asked; drop frames without a file
        frames = [f for f in frames if "(" in f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    return own, total, samples


def summary(raw_file: Path, top: int = 25) -> str:
    own, total, samples = aggregate(raw_file)
    if samples == 0:
        return f"no samples in {raw_file}"
    lines = [f"{samples} samples (non-idle) from {raw_file}", "", f"Top {top} functions by own time:", ""]
    lines += [f"{100 * n / samples:6.2f}%  {name}" for name, n in own.most_common(top)]
    # Frames on (nearly) every stack are gunicorn/Flask plumbing: leave them out of the inclusive list.
    inclusive = [(name, n) for name, n in total.most_common() if n < 0.97 * samples]
    lines += ["", f"Top {top} functions by total (inclusive) time, without frames on >= 97% of stacks:", ""]
    lines += [f"{100 * n / samples:6.2f}%  {name}" for name, n in inclusive[:top]]
    ours = [(name, n) for name, n in total.most_common() if "authserver/" in name]
    lines += ["", f"authserver functions by total time (top {top}):", ""]
    lines += [f"{100 * n / samples:6.2f}%  {name}" for name, n in ours[:top]]
    return "\n".join(lines) + "\n"
