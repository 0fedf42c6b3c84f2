"""The audit after every scenario, from the load's own records and from the database.

- **Nothing lost**: every family the client holds still refreshes with the newest token it was answered
  with 200 (one more refresh each, at the end), unless the load itself revoked it. A family the load lost
  during the run (a final 4xx) counts too.
- **No double-mint**: no refresh token row has two children (``parent_id``): a token is never answered
  with two different successors (a grace replay hands back the *same* successor, it adds no row).
- **No false reuse detection**: every family revoked in the database, or named by a
  ``refresh_token.reused`` event in the server's log, is one the load revoked on purpose.
- **Verifications**: every access token verified at the resource service when issued, and the ones not
  yet expired verify again at the end (after the faults, key rotations included).
- **Failures**: only in flight at a fault (started before it was over), only a closed connection or a
  5xx, and the retry succeeded; a 4xx on the way is a wrong answer that makes a client drop its tokens.
- **Reuse detection still catches theft**: replaying a token two generations old is caught at once, and
  replaying the immediately preceding one after the grace window is caught too (both revoke the family).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from bench.faults.load import Attempt
from bench.faults.load import Client
from bench.faults.load import Load
from bench.faults.load import tokens_of
from bench.faults.system import System

#: A fault's failures may come this long after it was undone (reconnections, a worker's restart).
AFTERMATH = 5.0
REUSE_REFUSED = {"token": 400, "json": 401}


@dataclass
class Result:
    scenario: str
    seconds: float
    requests: int = 0
    by_op: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # status (or "closed") -> count
    outside_faults: int = 0  # transient failures that started after every fault was over
    wrong_4xx: list[str] = field(default_factory=list)
    gave_up: int = 0
    recovery: list[float] = field(default_factory=list)
    families: int = 0
    refreshes: int = 0
    lost: list[str] = field(default_factory=list)
    double_mints: int = 0
    false_reuse: list[str] = field(default_factory=list)
    verified: int = 0
    verify_failed: list[str] = field(default_factory=list)
    theft_missed: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # scenario-specific (name, ok, detail)
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (
            self.lost
            or self.double_mints
            or self.false_reuse
            or self.verify_failed
            or self.wrong_4xx
            or self.gave_up
            or self.theft_missed
            or self.outside_faults
            or any(not ok for _, ok, _ in self.checks)
        )


def _attributed(attempt: Attempt, windows: list[tuple[float, float]]) -> bool:
    return any(attempt.t1 >= start - 0.5 and attempt.t0 <= end + AFTERMATH for start, end in windows)


def recovery_times(attempts: list[Attempt], windows: list[tuple[float, float]]) -> list[float]:
    """Per fault: from its injection until a request succeeds after the last failure it caused (0 if none)."""
    times = []
    for start, end in windows:
        failed = [a for a in attempts if a.transient and a.t1 >= start - 0.5 and a.t0 <= end + AFTERMATH]
        if not failed:
            times.append(0.0)
            continue
        last = max(a.t1 for a in failed)
        later = [a.t1 for a in attempts if a.ok and a.op != "verify" and a.t0 >= last]
        times.append((min(later) if later else last) - start)
    return times


def theft_probe(load: Load, grace: int, result: Result) -> None:
    """Reuse detection still catches a thief: two live families the load gives up on purpose."""
    client = load.client("theft-probe")
    with load.records.lock:  # the login thread's families: refreshed once, then no thread touches them
        quiet = [f for f in load.records.families[:-2] if f.label.startswith("login") and f.refreshes and not f.lost]
    by_door = {door: [f for f in quiet if f.door == door] for door in ("token", "json")}
    if not by_door["token"] or not by_door["json"]:
        result.theft_missed.append("no quiet family at each door to probe")
        return
    older, stale = by_door["token"][0], by_door["json"][0]
    older.own_revocation = stale.own_revocation = True

    def chain(family, steps):
        held = [family.token]
        for _ in range(steps):
            attempt, body = client.with_retry("refresh", family.door, client.refresh_request(family.door, held[-1]))
            if not attempt.ok or body is None:
                return None
            held.append(tokens_of(family.door, body)[1])
        return held

    # 1. A token two generations old, at once (inside any grace window): reuse, family revoked.
    held = chain(older, 2)
    if held is None:
        result.theft_missed.append(f"{older.label}: could not refresh before the probe")
    else:
        attempt, _ = client.refresh_once(older.door, held[0])
        after, _ = client.refresh_once(older.door, held[2])
        if attempt.status != REUSE_REFUSED[older.door] or after.status != REUSE_REFUSED[older.door]:
            result.theft_missed.append(
                f"{older.label}: replay of a token 2 back answered {attempt.status}, its newest then {after.status}"
            )
    # 2. The immediately preceding token, after the grace window: reuse, family revoked.
    held = chain(stale, 1)
    if held is None:
        result.theft_missed.append(f"{stale.label}: could not refresh before the probe")
        return
    time.sleep(grace + 1.5)
    attempt, _ = client.refresh_once(stale.door, held[0])
    after, _ = client.refresh_once(stale.door, held[1])
    if attempt.status != REUSE_REFUSED[stale.door] or after.status != REUSE_REFUSED[stale.door]:
        result.theft_missed.append(
            f"{stale.label}: replay {grace + 1.5:.1f} s later answered {attempt.status}, "
            f"its successor then {after.status}"
        )


def audit(name: str, system: System, load: Load, seconds: float) -> Result:
    records = load.records
    result = Result(name, seconds)

    # Nothing lost: one more refresh of every family the client still holds.
    final = load.client("audit")
    for family in records.families:
        if family.own_revocation:
            continue
        if family.lost:
            result.lost.append(f"{family.label}: {family.lost}")
            continue
        if not load.refresh(final, family):
            result.lost.append(f"{family.label}: final refresh {family.lost or 'gave up'}")

    # Access tokens not yet expired verify again, now that every fault is over.
    now = time.time()
    for token in records.access_tokens:
        if token.exp - now > 2:
            final.verify(token.token, token.user)

    result.families = len(records.families)
    result.refreshes = sum(f.refreshes for f in records.families)
    result.verified = sum(1 for a in records.attempts if a.op == "verify" and a.ok) + sum(
        1 for a in records.attempts if a.op == "verify" and a.status == 403
    )
    result.verify_failed = list(records.verify_failures)

    # The database: double-mints and revoked families.
    result.double_mints = system.query(
        "SELECT count(*) FROM (SELECT parent_id FROM refresh_tokens WHERE parent_id IS NOT NULL "
        "GROUP BY parent_id HAVING count(*) > 1) AS twice"
    )[0][0]
    own = {f.sid for f in records.families if f.own_revocation}
    revoked = {
        row[0] for row in system.query("SELECT DISTINCT family_id FROM refresh_tokens WHERE revoked_at IS NOT NULL")
    }
    reused = {str(e.get("family_id")) for e in system.server_events("refresh_token.reused")}
    result.false_reuse = sorted((revoked | reused) - own)

    # Failures and recovery.
    windows = [(f.injected, f.restored or f.injected) for f in records.faults]
    result.requests = len(records.attempts)
    result.by_op = Counter(a.op for a in records.attempts)
    for attempt in records.attempts:
        if attempt.ok or (attempt.op == "verify" and attempt.status == 403):
            continue
        if attempt.transient:
            result.failures["closed" if attempt.status is None else str(attempt.status)] += 1
            if not _attributed(attempt, windows):
                result.outside_faults += 1
        elif not (attempt.op == "refresh" and attempt.thread == "theft-probe"):
            result.failures[str(attempt.status)] += 1
            if attempt.op != "verify":  # verification failures are counted apart
                result.wrong_4xx.append(f"{attempt.op}@{attempt.door}: {attempt.status} {attempt.detail}")
    result.gave_up = len(records.gave_up)
    result.recovery = recovery_times(records.attempts, windows)
    result.faults = (
        [
            f"{f.name} at +{f.injected - records.attempts[0].t0:.1f} s"
            + (f" (undone after {f.restored - f.injected:.1f} s)" if f.restored else "")
            + (f": {f.note}" if f.note else "")
            for f in records.faults
        ]
        if records.attempts
        else []
    )
    result.notes = list(records.notes)
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def probe_client(load: Load) -> Client:
    return load.client("probe")
