"""``authserver keys list|generate|activate|retire|prune|rotate|revoke``: the signing-key lifecycle.

Each command parses options, calls one function of :mod:`authserver.keys.lifecycle` (which holds the keys
directory's file lock), and prints the result; ``--json`` for scripts. A command that writes first
proves AUTHSERVER_KEYS_PASSPHRASE opens every existing key and afterwards that the directory loads as
a server loads it; otherwise it fails (exit 1) with the directory as it was.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.clock import now
from authserver.keys import keystore
from authserver.keys import lifecycle
from authserver.settings import current_settings


def _context() -> tuple[Path, lifecycle.Policy]:
    keys = current_settings().keys
    return Path(keys.keys_dir), lifecycle.Policy.from_settings(keys)


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except keystore.KeystoreError as exc:
        raise click.ClickException(str(exc)) from None


def _show_actions(actions: lifecycle.Actions, as_json: bool) -> None:
    lines = [f"{verb} {kid}" for verb, kids in asdict(actions).items() for kid in kids]
    show(asdict(actions), as_json, "\n".join(lines) or "nothing to do")


@click.group("keys", cls=AppGroup)
def group() -> None:
    """Manage signing keys (runbook: docs/keys.md)."""


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List keys: kid, alg, state, created, activated, retired, removal due."""
    keys_dir, policy = _context()
    rows: list[dict[str, Any]] = []
    for r in _run(keystore.read_manifest, keys_dir):
        row = asdict(r)
        row["activation_eligible_at"] = lifecycle.activation_eligible_at(r, policy) if r.state == "next" else None
        row["removal_due_at"] = lifecycle.removal_due_at(r, policy)
        rows.append(row)
    text = "\n".join(
        f"{r['kid']}  {r['alg']}  {r['state']:<8} created={r['created_at']} "
        f"activated={r['activated_at']} retired={r['retired_at']} removal_due={r['removal_due_at']}"
        for r in rows
    )
    show(rows, as_json, text or "no keys")


@group.command("generate")
@click.option("--alg", type=click.Choice(sorted(keystore.ALGORITHMS)), default="RS256", show_default=True)
@click.option("--size", type=click.Choice(["2048", "3072", "4096"]), default="2048", help="RSA modulus bits.")
@click.option("--activate", is_flag=True, help="First key only: make it active at once.")
@json_option
def generate(alg: str, size: str, activate: bool, as_json: bool) -> None:
    """Add a new key in state next (published, not signing)."""
    keys_dir, policy = _context()
    policy = lifecycle.Policy(**{**asdict(policy), "alg": alg, "size": int(size)})
    record = _run(lifecycle.generate_first if activate else lifecycle.generate, keys_dir, policy, now())
    show(asdict(record), as_json, f"generated {record.alg} key {record.kid} ({record.state})")


@group.command("activate", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@click.option("--force", is_flag=True, help="Activate before the publish delay (caches may not have the key yet).")
@json_option
def activate(kid: str, force: bool, as_json: bool) -> None:
    """Make a next key the signing key; the current one is retired."""
    keys_dir, policy = _context()
    _show_actions(_run(lifecycle.activate, keys_dir, kid, policy, now(), force), as_json)


@group.command("retire", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@json_option
def retire(kid: str, as_json: bool) -> None:
    """Retire a next key that will not be used (the active key is retired by activating its successor)."""
    keys_dir, policy = _context()
    _show_actions(_run(lifecycle.retire, keys_dir, kid, policy, now()), as_json)


@group.command("prune")
@json_option
def prune(as_json: bool) -> None:
    """Remove retired keys whose tokens have all expired."""
    keys_dir, policy = _context()
    _show_actions(_run(lifecycle.prune, keys_dir, policy, now()), as_json)


@group.command("rotate")
@click.option("--if-due", is_flag=True, help="Only what the schedule (AUTHSERVER_KEY_ROTATION_PERIOD) says is due.")
@json_option
def rotate(if_due: bool, as_json: bool) -> None:
    """One step: ensure a next key, activate it once published long enough, retire the old one, prune."""
    keys_dir, policy = _context()
    _show_actions(_run(lifecycle.rotate, keys_dir, policy, now(), if_due), as_json)


@group.command("revoke", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Confirm: tokens signed with this key will fail verification.")
@json_option
def revoke(kid: str, yes: bool, as_json: bool) -> None:
    """Emergency: drop a compromised key at once."""
    if not yes:
        raise click.UsageError("revoking a key makes every token it signed fail: pass --yes")
    keys_dir, policy = _context()
    _show_actions(_run(lifecycle.revoke, keys_dir, kid, policy, now()), as_json)
