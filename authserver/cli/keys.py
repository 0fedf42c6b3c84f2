"""``authserver keys list|generate``: the first version of the signing-key commands."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from flask import current_app

from authserver import keystore
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.clock import now


@click.group("keys")
def group() -> None:
    """Manage signing keys (see keys/README.md)."""


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List keys and their states."""
    records = keystore.read_manifest(Path(current_app.config["KEYS_DIR"]))
    text = "\n".join(f"{r.kid}\t{r.alg}\t{r.state}\tcreated {r.created_at}" for r in records)
    show([asdict(r) for r in records], as_json, text or "no keys")


@group.command("generate")
@click.option("--alg", type=click.Choice(sorted(keystore.ALGORITHMS)), default="RS256")
@click.option("--size", type=click.Choice(["2048", "3072", "4096"]), default="2048", help="RSA modulus bits.")
@click.option("--activate", is_flag=True, help="Make it the active key at once (only when there is none).")
@json_option
def generate(alg: str, size: str, activate: bool, as_json: bool) -> None:
    """Add a new key (state next, or active with --activate on an empty keystore)."""
    keys_dir = Path(current_app.config["KEYS_DIR"])
    with keystore.locked(keys_dir):
        if activate and any(r.state == "active" for r in keystore.read_manifest(keys_dir)):
            raise click.ClickException("there is already an active key")
        record = keystore.add_key(keys_dir, keystore.generate_private_key(alg, int(size)), alg,
                                  "active" if activate else "next", now())
    show(asdict(record), as_json, f"generated {record.alg} key {record.kid} ({record.state})")
