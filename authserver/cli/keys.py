"""``authserver keys list|generate|activate|retire|prune|rotate|revoke|import-directory``: the signing-key lifecycle.

Each command parses options, calls one function of :mod:`authserver.admin.keys` (the admin API calls
the same ones; each runs one step of :mod:`authserver.keys.lifecycle` under the key store's lock), and
prints the result; ``--json`` for scripts. A command that writes first proves AUTHSERVER_KEYS_PASSPHRASE
opens every existing key and afterwards that the store loads as a server loads it; otherwise it fails
(exit 1) with the store as it was.
"""

from __future__ import annotations

from dataclasses import asdict

import click
from flask.cli import AppGroup

from authserver.admin import keys
from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.keys import keystore
from authserver.keys import lifecycle


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
    rows = _run(keys.list_keys)
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
    record = _run(keys.generate, alg, int(size), activate)
    show(asdict(record), as_json, f"generated {record.alg} key {record.kid} ({record.state})")


@group.command("activate", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@click.option("--force", is_flag=True, help="Activate before the publish delay (caches may not have the key yet).")
@json_option
def activate(kid: str, force: bool, as_json: bool) -> None:
    """Make a next key the signing key; the current one is retired."""
    _show_actions(_run(keys.activate, kid, force), as_json)


@group.command("retire", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@json_option
def retire(kid: str, as_json: bool) -> None:
    """Retire a next key that will not be used (the active key is retired by activating its successor)."""
    _show_actions(_run(keys.retire, kid), as_json)


@group.command("prune")
@json_option
def prune(as_json: bool) -> None:
    """Remove retired keys whose tokens have all expired."""
    _show_actions(_run(keys.prune), as_json)


@group.command("rotate")
@click.option("--if-due", is_flag=True, help="Only what the schedule (AUTHSERVER_KEY_ROTATION_PERIOD) says is due.")
@json_option
def rotate(if_due: bool, as_json: bool) -> None:
    """One step: ensure a next key, activate it once published long enough, retire the old one, prune."""
    _show_actions(_run(keys.rotate, if_due), as_json)


@group.command("revoke", context_settings=DASHED_ARGUMENT)
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Confirm: tokens signed with this key will fail verification.")
@json_option
def revoke(kid: str, yes: bool, as_json: bool) -> None:
    """Emergency: drop a compromised key at once."""
    if not yes:
        raise click.UsageError("revoking a key makes every token it signed fail: pass --yes")
    _show_actions(_run(keys.revoke, kid), as_json)


@group.command("import-directory")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@json_option
def import_directory(directory: str | None, as_json: bool) -> None:
    """Copy a keys directory (default AUTHSERVER_KEYS_DIR) into the database store, states and times kept."""
    result = _run(keys.import_directory, directory)
    lines = [f"imported {kid}" for kid in result.imported] + [f"unchanged {kid}" for kid in result.unchanged]
    show(asdict(result), as_json, "\n".join(lines) or "nothing to import")
