"""The run's figures (:func:`tally`), the checks they must pass (:func:`problems`) and the text (:func:`render`)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.key_rotation.load import Load
from bench.key_rotation.phases import KeyRotations
from bench.key_rotation.settings import POLICY
from bench.key_rotation.settings import PROPAGATION_SLACK
from bench.key_rotation.settings import REVOKE_BOUND
from bench.key_rotation.settings import TIMINGS
from bench.key_rotation.settings import Options
from bench.key_rotation.timeline import Timeline
from bench.key_rotation.tokens import Check
from bench.key_rotation.verifiers import EXPIRED
from bench.key_rotation.verifiers import NO_MATCHING_KEY
from bench.key_rotation.verifiers import max_age


def classify(check: Check, r: dict[str, Any] | None, revoke: dict[str, Any]) -> str:
    """ok | failed | late (checked after exp: the harness was slow) | revoked | window (documented)."""
    if r is None:
        return "failed"
    if r["ok"]:
        return "ok"
    t, code = check.token, (r.get("error") or {}).get("code")
    if t.kid == revoke["revoked_kid"] and r["at"] >= revoke["revoked_at"]:
        return "revoked"
    if (
        t.kid == revoke["replacement_kid"]
        and code == NO_MATCHING_KEY
        and r["at"] - revoke["revoked_at"] <= REVOKE_BOUND + PROPAGATION_SLACK
    ):
        return "window"
    if code == EXPIRED and r["at"] >= t.exp:
        return "late"
    return "failed"


def tally(
    load: Load, rotations: KeyRotations, revoke: dict[str, Any], timeline: Timeline, server_log: str, opts: Options
) -> dict[str, Any]:
    """Every figure of the run, as the JSON written by ``--json-out``."""
    per: dict[str, Any] = {}
    with load.lock:
        checks = [c for c in load.checks.values() if c.kind != "probe"]
        results = {v: dict(r) for v, r in load.results.items()}
        tokens = list(load.tokens)
    for v, res in results.items():
        outcome: Counter[str] = Counter()
        kids: Counter[str] = Counter()
        failed: set[int] = set()
        not_ok: set[int] = set()
        failures: list[dict[str, Any]] = []
        window = 0.0
        lag = 0.0
        for check in checks:
            r = res.get(check.job_id)
            kind = classify(check, r, revoke)
            outcome[kind] += 1
            if r is not None:
                lag = max(lag, r["at"] - check.due)
            if kind != "ok":
                not_ok.add(check.token.seq)
            if kind == "ok":
                kids[check.token.kid] += 1
            elif kind == "window":
                window = max(window, r["at"] - revoke["revoked_at"])  # type: ignore[index]
            elif kind == "failed":
                failed.add(check.token.seq)
                err = (r or {}).get("error") or {"code": "no result"}
                failures.append(
                    {
                        "job": check.job_id,
                        "kid": check.token.kid,
                        "phase": check.token.phase,
                        "reason": err.get("code"),
                        "message": err.get("message"),
                        "issued_at": round(check.token.issued_at, 3),
                        "verified_at": round(r["at"], 3) if r else None,
                    }
                )
        revoked = [t for t in tokens if t.kid == revoke["revoked_kid"]]
        per[v] = {
            "checks": len(checks),
            "checks_ok": outcome["ok"],
            "tokens_verified_ok": sum(1 for t in tokens if t.seq not in not_ok),  # every check of it passed
            "valid_tokens_failed": len(failed),
            "late_expired_checks": outcome["late"],
            "revoked_key_rejections": outcome["revoked"],
            "revoked_key_tokens": len(revoked),
            "replacement_rejections": outcome["window"],
            "replacement_window_s": round(window, 3),
            "kids_verified": dict(kids),
            "max_check_lag_s": round(lag, 3),
            "failures": failures[:50],
        }
    for verifier in load.verifiers:
        s = verifier.stats()
        per[verifier.name]["jwks_fetches"] = len(s.get("fetches", []))
        per[verifier.name]["fetch_log"] = [
            {"at": round(f["at"], 3), "kids": [k[:12] for k in f.get("kids") or []]} for f in s.get("fetches", [])
        ]
        per[verifier.name]["version"] = verifier.version
        if verifier.name == "jose":
            per["jose"]["max_ages_seen"] = sorted(
                {max_age(f.get("cache_control") or "") for f in s.get("fetches", []) if f.get("cache_control")}
            )
    after = [
        t.issued_at - revoke["revoked_at"]
        for t in tokens
        if t.kid == revoke["revoked_kid"] and t.issued_at > revoke["revoked_at"]
    ]
    revoke["tokens_signed_by_revoked_key_after_revoke"] = len(after)
    revoke["last_such_token_after_s"] = round(max(after, default=0.0), 3)
    rotation_tokens = [t for t in tokens if t.phase == "rotation"]
    return {
        "timings": {
            **TIMINGS,
            "publish_delay_s": POLICY.publish_delay,
            "revoke_bound_s": REVOKE_BOUND,
            "jwks_max_age_sent_s": load.max_age,
        },
        "workers": opts.workers,
        "mode": opts.mode,
        "activate_at": opts.activate_at,
        "rotations_done": len(rotations.rotations),
        "rotations": rotations.rotations,
        "prunes": rotations.prunes,
        "early_prunes": rotations.early_prunes,
        "tokens_issued": {"rotation": len(rotation_tokens), "revoke": len(tokens) - len(rotation_tokens)},
        "kids_issued": dict(Counter(t.kid for t in tokens)),
        "server_key_reloads": server_log.count('"event": "key.reloaded"'),
        "server_key_reload_failures": server_log.count('"event": "key.reload_failed"'),
        "issue_errors": len(load.issue_errors),
        "issue_error_samples": load.issue_errors[:10],
        "load_seconds": round(time.monotonic() - load.started, 1),
        "verifiers": per,
        "revoke": revoke,
        "events": [{**e, "at": round(e["at"], 3)} for e in timeline.events],
    }


def problems(result: dict[str, Any], rotations: int) -> list[str]:
    """Every check this run must pass; empty when all hold."""
    out = []
    if result["rotations_done"] != rotations:
        out.append(f"{result['rotations_done']} rotations done, expected {rotations}")
    if result["issue_errors"]:
        out.append(f"{result['issue_errors']} token requests failed: {result['issue_error_samples'][:3]}")
    if result["early_prunes"]:
        out.append(f"keys prune removed keys before their removal was due: {result['early_prunes']}")
    for r in result["rotations"]:
        pool = r.get("strict_caches")
        if pool and pool["failures"]:
            out.append(
                f"key {r['kid'][:12]} signed {r['published_before_activation_s']:.2f} s after it was written "
                f"to the manifest: {pool['failures']} of {pool['checks']} verifications through strict "
                f"caches ({pool['lacking_the_key']} of {pool['fresh_at_activation']} lacked the key) failed"
            )
    bound = result["revoke"]["bound_s"]
    for name, v in result["verifiers"].items():
        if v["valid_tokens_failed"]:
            out.append(f"{name}: {v['valid_tokens_failed']} valid tokens failed verification: {v['failures'][:3]}")
        if len(v["kids_verified"]) < 2:
            out.append(f"{name}: verified tokens of {len(v['kids_verified'])} kid(s), expected at least 2")
        prop = result["revoke"]["propagation_s"][name]
        if prop is None:
            out.append(f"{name}: never rejected the revoked key's token")
        elif prop > bound + PROPAGATION_SLACK:
            out.append(f"{name}: revoke took {prop:.2f} s, documented bound {bound} s")
        if result["revoke"]["accepted_after_rejection"][name]:
            out.append(f"{name}: accepted the revoked key's token again after rejecting it")
        if result["revoke"]["other_probe_errors"][name]:
            out.append(f"{name}: probe failed for other reasons: {result['revoke']['other_probe_errors'][name]}")
    return out


def render(result: dict[str, Any]) -> str:
    t = result["timings"]
    lines = [
        f"authserver rotation under load: gunicorn -w {result['workers']}, PostgreSQL, mode {result['mode']}, "
        f"activate at {result['activate_at']}",
        f"timings: JWKS max-age {t['JWKS_MAX_AGE']} s (sent: {t['jwks_max_age_sent_s']} s), reload "
        f"{t['KEYS_RELOAD_INTERVAL']} s, access tokens {t['ACCESS_TOKEN_TTL']} s; publish delay "
        f"{t['publish_delay_s']} s, revoke bound {t['revoke_bound_s']} s",
        f"rotations done: {result['rotations_done']}; each key in the manifest before it signed: "
        + ", ".join(f"{r['published_before_activation_s']:.2f}s" for r in result["rotations"])
        + " (activated "
        + ", ".join(f"{r['activated_after_eligible_s']:+.2f}s" for r in result["rotations"])
        + f" from the CLI's eligibility; activate refused {sum(r['activate_refusals'] for r in result['rotations'])}x)",
        f"keys pruned: {len(result['prunes'])} (early: {len(result['early_prunes'])})",
        f"tokens issued: {result['tokens_issued']['rotation']} during rotations, "
        f"{result['tokens_issued']['revoke']} during the revoke phase; issue errors: {result['issue_errors']}; "
        f"load {result['load_seconds']} s",
        f"kids that signed: {len(result['kids_issued'])}; worker key reloads: {result['server_key_reloads']} "
        f"(failed: {result['server_key_reload_failures']})",
        "",
        f"{'verifier':<8} {'version':<8} {'checks':>7} {'tokens OK':>10} {'FAILED':>7} {'late':>5} "
        f"{'kids':>5} {'fetches':>8} {'revoke prop.':>13}",
    ]
    short = [r for r in result["rotations"] if r["published_before_activation_s"] < t["publish_delay_s"]]
    if short:
        lines.insert(
            4,
            f"NOTE: {len(short)} key(s) signed less than the publish delay after they were written "
            "to the manifest (created_at is truncated to the second): "
            + ", ".join(f"{r['kid'][:12]} {r['published_before_activation_s']:.2f}s" for r in short),
        )
    rv = result["revoke"]
    for name, v in result["verifiers"].items():
        prop = rv["propagation_s"][name]
        lines.append(
            f"{name:<8} {v['version']:<8} {v['checks']:>7} {v['tokens_verified_ok']:>10} "
            f"{v['valid_tokens_failed']:>7} {v['late_expired_checks']:>5} {len(v['kids_verified']):>5} "
            f"{v['jwks_fetches']:>8} {'never' if prop is None else f'{prop:.2f} s':>13}"
        )
    lines += [
        "",
        f"valid tokens that failed verification: {sum(v['valid_tokens_failed'] for v in result['verifiers'].values())}",
        f"revoke of {rv['revoked_kid'][:12]}: rejected after "
        + ", ".join(f"{n} {p if p is None else f'{p:.2f}'} s" for n, p in rv["propagation_s"].items())
        + f" (bound {rv['bound_s']} s); tokens still signed by it after the revoke: "
        f"{rv['tokens_signed_by_revoked_key_after_revoke']} (last +{rv['last_such_token_after_s']:.2f} s)",
        "replacement key rejected by strict caches (documented window): "
        + ", ".join(
            f"{n} {v['replacement_rejections']} checks until +{v['replacement_window_s']:.2f} s"
            for n, v in result["verifiers"].items()
        ),
    ]
    return "\n".join(lines)
