"""``authserver tokens purge``: housekeeping of expired token rows."""

from __future__ import annotations

from dataclasses import asdict

import click
from flask.cli import AppGroup

from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.clock import now
from authserver.oauth import families
from authserver.settings import current_settings
from authserver.store import current_stores


@click.group("tokens", cls=AppGroup)
def group() -> None:
    """Token housekeeping."""


@group.command("purge")
@click.option("--batch-size", type=click.IntRange(100, 100_000), default=5000, show_default=True)
@json_option
def purge(batch_size: int, as_json: bool) -> None:
    """Delete expired refresh tokens and revoked-jti rows in batches; erase lapsed grace successors."""
    tokens = current_settings().tokens
    result = asdict(families.purge(now(), tokens.refresh_grace_seconds, batch_size, tokens.access_token_max_ttl))
    result["throttle_entries"] = current_stores().throttle_counters.purge_expired(now())
    show(result, as_json, ", ".join(f"{k}: {v}" for k, v in result.items()))
