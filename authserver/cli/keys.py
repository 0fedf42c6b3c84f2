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
from authserver.cli.remote import either
from authserver.cli.remote import endpoint_options
from authserver.keys import keystore


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except keystore.KeystoreError as exc:
        raise click.ClickException(str(exc)) from None


def _show_actions(actions: dict, as_json: bool) -> None:
    lines = [f"{verb} {kid}" for verb, kids in actions.items() for kid in kids]
    show(actions, as_json, "\n".join(lines) or "nothing to do")


REMOTE = frozenset({"list", "generate", "activate", "retire", "prune", "rotate", "revoke"})


@click.group("keys", cls=AppGroup)
@endpoint_options(REMOTE)
def group() -> None:
    """Manage signing keys (runbook: docs/keys.md); with --endpoint through the admin API."""


def _local_actions(fn, *args) -> dict:
    return asdict(_run(fn, *args))


@group.command("list", with_appcontext=False)
@json_option
def list_(as_json: bool) -> None:
    """List keys: kid, alg, state, created, activated, retired, removal due."""
    rows = either(lambda: _run(keys.list_keys), lambda api: api.get("/admin/keys")["items"])
    text = "\n".join(
        f"{r['kid']}  {r['alg']}  {r['state']:<8} created={r['created_at']} "
        f"activated={r['activated_at']} retired={r['retired_at']} removal_due={r['removal_due_at']}"
        for r in rows
    )
    show(rows, as_json, text or "no keys")


@group.command("generate", with_appcontext=False)
@click.option("--alg", type=click.Choice(sorted(keystore.ALGORITHMS)), default="RS256", show_default=True)
@click.option("--size", type=click.Choice(["2048", "3072", "4096"]), default="2048", help="RSA modulus bits.")
@click.option("--activate", is_flag=True, help="First key only: make it active at once.")
@json_option
def generate(alg: str, size: str, activate: bool, as_json: bool) -> None:
    """Add a new key in state next (published, not signing)."""
    body = {"alg": alg, "size": int(size), "activate": activate}
    record = either(
        lambda: asdict(_run(keys.generate, alg, int(size), activate)), lambda api: api.post("/admin/keys", body)
    )
    show(record, as_json, f"generated {record['alg']} key {record['kid']} ({record['state']})")


@group.command("activate", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("kid")
@click.option("--force", is_flag=True, help="Activate before the publish delay (caches may not have the key yet).")
@json_option
def activate(kid: str, force: bool, as_json: bool) -> None:
    """Make a next key the signing key; the current one is retired."""
    _show_actions(
        either(
            lambda: _local_actions(keys.activate, kid, force),
            lambda api: api.post(f"/admin/keys/{kid}/activate", {"force": force}),
        ),
        as_json,
    )


@group.command("retire", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("kid")
@json_option
def retire(kid: str, as_json: bool) -> None:
    """Retire a next key that will not be used (the active key is retired by activating its successor)."""
    _show_actions(
        either(lambda: _local_actions(keys.retire, kid), lambda api: api.post(f"/admin/keys/{kid}/retire")), as_json
    )


@group.command("prune", with_appcontext=False)
@json_option
def prune(as_json: bool) -> None:
    """Remove retired keys whose tokens have all expired."""
    _show_actions(either(lambda: _local_actions(keys.prune), lambda api: api.post("/admin/keys/prune")), as_json)


@group.command("rotate", with_appcontext=False)
@click.option("--if-due", is_flag=True, help="Only what the schedule (AUTHSERVER_KEY_ROTATION_PERIOD) says is due.")
@json_option
def rotate(if_due: bool, as_json: bool) -> None:
    """One step: ensure a next key, activate it once published long enough, retire the old one, prune."""
    _show_actions(
        either(
            lambda: _local_actions(keys.rotate, if_due), lambda api: api.post("/admin/keys/rotate", {"if_due": if_due})
        ),
        as_json,
    )


@group.command("revoke", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Confirm: tokens signed with this key will fail verification.")
@json_option
def revoke(kid: str, yes: bool, as_json: bool) -> None:
    """Emergency: drop a compromised key at once."""
    if not yes:
        raise click.UsageError("revoking a key makes every token it signed fail: pass --yes")
    _show_actions(
        either(lambda: _local_actions(keys.revoke, kid), lambda api: api.post(f"/admin/keys/{kid}/revoke")), as_json
    )


@group.command("import-directory")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@json_option
def import_directory(directory: str | None, as_json: bool) -> None:
    """Copy a keys directory (default AUTHSERVER_KEYS_DIR) into the database store, states and times kept."""
    result = _run(keys.import_directory, directory)
    lines = [f"imported {kid}" for kid in result.imported] + [f"unchanged {kid}" for kid in result.unchanged]
    show(asdict(result), as_json, "\n".join(lines) or "nothing to import")
