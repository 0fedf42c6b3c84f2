"""``authserver tokens purge|revoke-family|revoke-before``: housekeeping of expired token rows, and ending tokens
(:mod:`authserver.admin.tokens`; what a revocation reaches: docs/admin-api.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import click
from flask.cli import AppGroup

from authserver.admin import tokens as admin_tokens
from authserver.admin.errors import AdminError
from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.cli.remote import AdminApi
from authserver.cli.remote import either
from authserver.cli.remote import endpoint_options
from authserver.clock import now
from authserver.oauth import families
from authserver.settings import current_settings
from authserver.store import current_stores

REMOTE = frozenset({"revoke-family", "revoke-before"})


@click.group("tokens", cls=AppGroup)
@endpoint_options(REMOTE)
def group() -> None:
    """Token housekeeping and revocation; with --endpoint through the admin API: revoke-family, revoke-before."""


@group.command("revoke-family", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("family_id")
@json_option
def revoke_family(family_id: str, as_json: bool) -> None:
    """Revoke one refresh-token family (one login): its refresh tokens stop, its access tokens go inactive."""
    path = f"/admin/tokens/families/{quote(family_id, safe='')}/revoke"
    result = either(lambda: asdict(_run(admin_tokens.revoke_family, family_id)), lambda api: api.post(path))
    show(result, as_json, f"revoked family {family_id}: {result['revoked_refresh_tokens']} refresh tokens")


@group.command("revoke-before", with_appcontext=False)
@click.option("--client", "client_id", default=None, help="Everything this client was issued before the time.")
@click.option("--user", "username", default=None, help="Everything this user was issued before the time.")
@click.option("--before", type=int, default=None, help="Unix seconds (default: now; never in the future).")
@json_option
def revoke_before(client_id: str | None, username: str | None, before: int | None, as_json: bool) -> None:
    """Revoke the families a client (or a user) began before a time, and its access tokens issued before it."""
    if (client_id is None) == (username is None):
        raise click.UsageError("give exactly one of --client and --user")

    def local() -> dict[str, Any]:
        if client_id is not None:
            return asdict(_run(admin_tokens.revoke_client_tokens_before, client_id, before))
        assert username is not None
        return asdict(_run(admin_tokens.revoke_user_tokens_before, username, before))

    def remote(api: AdminApi) -> dict[str, Any]:
        body: dict[str, Any] = {} if before is None else {"before": before}
        if client_id is not None:
            return api.post("/admin/tokens/revoke-before", {**body, "client_id": client_id})
        found = api.get("/admin/users", username=username or "")["items"]
        if not found:
            raise click.ClickException(f"no user {username!r}")
        return api.post("/admin/tokens/revoke-before", {**body, "user_id": found[0]["id"]})

    result = either(local, remote)
    show(
        result,
        as_json,
        f"revoked {result['revoked_refresh_tokens']} refresh tokens; access tokens issued before "
        f"{result['not_before']} are inactive at introspection",
    )


def _run(fn, *args):
    try:
        return fn(*args)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None


@group.command("purge")
@click.option("--batch-size", type=click.IntRange(100, 100_000), default=5000, show_default=True)
@json_option
def purge(batch_size: int, as_json: bool) -> None:
    """Delete expired refresh tokens and revoked-jti rows in batches; erase lapsed grace successors."""
    tokens = current_settings().tokens
    result = asdict(families.purge(now(), tokens.refresh_grace_seconds, batch_size, tokens.access_token_max_ttl))
    result["throttle_entries"] = current_stores().throttle_counters.purge_expired(now())
    show(result, as_json, ", ".join(f"{k}: {v}" for k, v in result.items()))
