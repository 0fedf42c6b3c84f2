"""The two phases: key rotations through the CLI (then prunes), and the emergency revoke.

Every moment is the lifecycle's own (:mod:`authserver.keys.lifecycle`): a key may be activated from
:func:`~authserver.keys.lifecycle.activation_eligible_at`, removed from
:func:`~authserver.keys.lifecycle.removal_due_at`, and a revoke must propagate within
:func:`~authserver.keys.lifecycle.revoke_propagation_bound`.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from authserver.keys.keystore import KeyRecord
from authserver.keys.lifecycle import activation_eligible_at
from authserver.keys.lifecycle import removal_due_at
from bench.key_rotation.deployment import Deployment
from bench.key_rotation.load import Load
from bench.key_rotation.settings import POLICY
from bench.key_rotation.settings import PROBE_TOLERANCE
from bench.key_rotation.settings import REVOKE_BOUND
from bench.key_rotation.strict_caches import StrictCachePool
from bench.key_rotation.timeline import Timeline
from bench.key_rotation.tokens import Check
from bench.key_rotation.tokens import Token
from bench.key_rotation.verifiers import NO_MATCHING_KEY


class KeyRotations:
    """``--rotations`` rotations, each activated as early as the CLI allows, and the prunes after them."""

    def __init__(
        self, deployment: Deployment, load: Load, timeline: Timeline, active_kid: str, pool: StrictCachePool | None
    ) -> None:
        self.dep, self.load, self.timeline, self.pool = deployment, load, timeline, pool
        self.opts = deployment.opts
        self.active_kid = active_kid
        self.rotations: list[dict[str, Any]] = []
        self.prunes: list[dict[str, Any]] = []
        self.early_prunes: list[str] = []
        self.cli_latency = 1.0
        self.generate_returned = 0.0

    def _activate(self, record: KeyRecord) -> int:
        """``keys activate`` (or ``keys rotate``); returns how often the CLI refused (published too briefly).

        ``--activate-at eligible``: timed to reach the CLI's clock check as the key becomes eligible (the
        CLI takes ``self.cli_latency`` from launch to its check under this load, so it is launched that
        much early; a refusal is retried at once). ``after-delay``: the publish delay after ``keys
        generate`` returned.
        """
        if self.opts.activate_at == "after-delay":  # docs/keys.md by hand: wait the delay after `generate`
            time.sleep(max(0.0, self.generate_returned + POLICY.publish_delay - time.time()))
        else:  # the first moment the CLI accepts, as `keys rotate --if-due` from cron may
            time.sleep(max(0.0, activation_eligible_at(record, POLICY) - self.cli_latency + 0.05 - time.time()))
        for refusals in range(20):
            if self.opts.mode == "rotate":
                actions = json.loads(self.dep.cli("keys", "rotate", "--json").stdout)
                if record.kid in actions["activated"]:
                    return refusals
            else:
                result = self.dep.cli("keys", "activate", "--json", "--", record.kid, check=False)
                if result.returncode == 0:
                    return refusals
                if "Use --force" not in result.stderr:
                    raise RuntimeError(f"keys activate {record.kid} failed: {result.stderr[-1000:]}")
        raise RuntimeError(f"key {record.kid} not activated after 20 attempts")

    def _generate(self) -> tuple[KeyRecord, subprocess.Popen[str] | None]:
        """A new next key; with ``--activate-at edge`` also the running, timed ``keys activate`` of it."""
        if self.opts.mode == "rotate":
            actions = self.dep.cli_json("keys", "rotate")
            if len(actions["generated"]) != 1:
                raise RuntimeError(f"keys rotate did not generate a key: {actions}")
            return self.dep.record(actions["generated"][0]), None
        if self.opts.activate_at != "edge":
            return self.dep.record(self.dep.cli_json("keys", "generate")["kid"]), None
        # The CLI's clock read late in a second: created_at loses ~1 s.
        activator = self.dep.cli_at("activate-next")  # waits for the next key, then for its eligibility
        try:
            out = self.dep.cli_done(self.dep.cli_at("fraction", "0.96", "keys", "generate", "--json"))[0]
        except BaseException:
            activator.kill()
            activator.wait()
            raise
        return self.dep.record(json.loads(out)["kid"]), activator

    def rotate_once(self, index: int) -> None:
        before = self.active_kid
        launched = time.time()
        record, activator = self._generate()
        kid, eligible = record.kid, activation_eligible_at(record, POLICY)
        self.generate_returned = time.time()
        generated_wall = self.dep.manifest_mtime()
        self.cli_latency = generated_wall - launched  # launch to manifest write, under the current load
        self.timeline.event(
            "generated", kid, at=generated_wall, created_at=record.created_at, cli_latency=f"{self.cli_latency:.2f}s"
        )
        if activator is not None:
            called = self.dep.cli_done(activator)[1]
            self.timeline.say(f"keys activate ran {called - eligible:+.3f} s from eligibility")
            refusals = 0
        else:
            refusals = self._activate(record)
        activated_wall = self.dep.manifest_mtime()
        self.active_kid = kid
        self.timeline.event(
            "activated",
            kid,
            at=activated_wall,
            refusals=refusals,
            after_eligible=f"{activated_wall - eligible:.2f}s",
            published_for=f"{activated_wall - generated_wall:.2f}s",
        )
        self.timeline.event("retired", before, at=activated_wall)
        self.rotations.append(
            {
                "index": index,
                "kid": kid,
                "retired": before,
                "created_at": record.created_at,
                "generated_at": generated_wall,
                "activated_at": activated_wall,
                "activation_eligible_at": eligible,
                "activated_after_eligible_s": round(activated_wall - eligible, 3),
                "published_before_activation_s": round(activated_wall - generated_wall, 3),
                "activate_refusals": refusals,
            }
        )
        if self.pool is not None:
            self.rotations[-1]["strict_caches"] = self.pool.check_new_key(kid, activated_wall)
            self.timeline.say(f"strict caches: {self.rotations[-1]['strict_caches']}")

    def prune(self) -> list[str]:
        """``keys prune``; every key it removes must have been due."""
        before = {r.kid: r for r in self.dep.manifest()}
        actions = self.dep.cli_json("keys", "prune")
        if not actions["removed"]:
            self.timeline.say("keys prune: nothing to do")
            return []
        removed_at = self.dep.manifest_mtime()
        for kid in actions["removed"]:
            due = removal_due_at(before[kid], POLICY) if kid in before else None
            if due is None or removed_at < due:
                self.early_prunes.append(kid)
            self.prunes.append({"kid": kid, "at": removed_at, "removal_due_at": due})
            self.timeline.event("pruned", kid, at=removed_at, due_at=due)
        return actions["removed"]

    def prune_until(self, until: float) -> None:
        """One ``keys prune`` now (nothing is due yet: it must remove nothing), then, before ``until``
        (monotonic), another each time a retired key's removal comes due."""
        self.prune()
        while time.monotonic() < until and not self.load.stop.is_set():
            dues = sorted(d for d in (removal_due_at(r, POLICY) for r in self.dep.manifest()) if d is not None)
            if not dues or time.monotonic() + max(0.0, dues[0] - time.time()) >= until:
                time.sleep(max(0.0, until - time.monotonic()))
                return
            time.sleep(max(0.0, dues[0] - time.time()) + 0.05)
            self.prune()


def revoke_phase(dep: Deployment, load: Load, timeline: Timeline, victim: str) -> dict[str, Any]:
    """``keys revoke <active kid> --yes`` with the load still on; time until each verifier rejects."""
    load.wait_for(
        lambda: load.verified_by_all(lambda t: t.kid == victim), 20, "a token of the active key verified by both"
    )
    with load.lock:
        probe_token = next(t for t in reversed(load.tokens) if t.kid == victim)
    load.phase = "revoke"
    t_cli = time.time()
    actions = json.loads(dep.cli("keys", "revoke", "--yes", "--json", "--", victim).stdout)
    t_revoked = dep.manifest_mtime()
    replacement = actions["activated"][0]
    timeline.event("revoked", victim, at=t_revoked, replacement=replacement[:12], cli=f"{time.time() - t_cli:.2f}s")
    info = {"revoked_kid": victim, "replacement_kid": replacement, "revoked_at": t_revoked}
    probes, first_reject = _probe_until_rejected(load, timeline, probe_token, t_revoked, dep.opts.probe_interval)
    # Keep the load on until the replacement key is in every cache, then stop and drain.
    time.sleep(max(0.0, t_revoked + REVOKE_BOUND + 1.5 - time.time()))
    load.drain()
    with load.lock:
        probe_rows = {
            v: [
                (
                    load.results[v][j]["at"] - t_revoked,
                    load.results[v][j]["ok"],
                    (load.results[v][j].get("error") or {}).get("code"),
                )
                for j in probes
            ]
            for v in load.results
        }
    out: dict[str, Any] = {
        **info,
        "bound_s": REVOKE_BOUND,
        "probe_token_seq": probe_token.seq,
        "probes": len(probes),
        "propagation_s": {},
        "accepted_after_rejection": {},
        "other_probe_errors": {},
    }
    for v, rows in probe_rows.items():
        first = first_reject.get(v)
        out["propagation_s"][v] = None if first is None else round(first, 3)
        out["accepted_after_rejection"][v] = 0 if first is None else sum(1 for at, ok, _ in rows if ok and at > first)
        out["other_probe_errors"][v] = sorted({c for _, ok, c in rows if not ok and c != NO_MATCHING_KEY})
    return out


def _probe_until_rejected(
    load: Load, timeline: Timeline, probe_token: Token, t_revoked: float, interval: float
) -> tuple[list[str], dict[str, float]]:
    """Re-verify the revoked key's token through each verifier's cached JWKS until both reject it (and
    a second longer: it must stay rejected); the probe job ids and each verifier's first rejection."""
    first_reject: dict[str, float] = {}
    probes: list[str] = []
    deadline = time.monotonic() + REVOKE_BOUND + 8
    confirm_until: float | None = None
    while time.monotonic() < deadline:
        check = Check(f"probe{len(probes) + 1}", probe_token, "probe", PROBE_TOLERANCE, time.time())
        load.submit(check)
        probes.append(check.job_id)
        time.sleep(interval)
        with load.lock:
            for v in load.results:
                rejected = [
                    load.results[v][j]["at"]
                    for j in probes
                    if j in load.results[v]
                    and not load.results[v][j]["ok"]
                    and load.results[v][j]["error"]["code"] == NO_MATCHING_KEY
                ]
                if v not in first_reject and rejected:
                    first_reject[v] = min(rejected) - t_revoked
                    timeline.say(f"{v}: rejects the revoked key's token {first_reject[v]:.2f} s after the revoke")
        if confirm_until is None and len(first_reject) == len(load.results):
            confirm_until = time.monotonic() + 1.0
        if confirm_until is not None and time.monotonic() >= confirm_until:
            break
    return probes, first_reject
