"""``authserver clients create|list|rotate-secret|delete``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from authserver.admin import clients
from authserver.admin.errors import AdminError
from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.store.clients import Registration


def _as_dict(client: Registration, secret: str | None = None) -> dict[str, object]:
    data: dict[str, object] = {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "grant_types": list(client.grant_types),
        "scopes": list(client.scopes),
        "audience": client.audience,
        "first_party": client.first_party,
        "access_token_ttl": client.access_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "refresh_token_max_lifetime": client.refresh_token_max_lifetime,
        "introspect": client.can_introspect,
    }
    if secret is not None:
        data["client_secret"] = secret
    return data


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None


def _secret_text(client: Registration, secret: str | None) -> str:
    if secret is None:
        return f"client_id: {client.client_id} (public client, no secret)"
    return f"client_id: {client.client_id}\nclient_secret: {secret}\n(the secret is shown only now)"


@click.group("clients", cls=AppGroup)
def group() -> None:
    """Manage OAuth clients."""


@group.command("create")
@click.option("--name", required=True)
@click.option("--grant", "grants", multiple=True, help="Allowed grant type (repeatable).")
@click.option("--scope", default="", help='Allowed scopes, space-separated, e.g. "read write".')
@click.option("--public", is_flag=True, help="Public client: no secret (auth method none).")
@click.option("--first-party", is_flag=True, help="Our own app: may use the password grant.")
@click.option(
    "--audience",
    default=None,
    help="aud of its access tokens (default AUTHSERVER_DEFAULT_AUDIENCE); "
    "with --introspect, the audience whose access tokens it may introspect.",
)
@click.option("--client-id", default=None, help="Choose the client_id (default: random).")
@click.option("--access-token-ttl", type=int, default=None, help="Seconds; overrides the server default.")
@click.option("--refresh-token-ttl", type=int, default=None, help="Seconds; overrides the server default.")
@click.option("--refresh-token-max-lifetime", type=int, default=None, help="Seconds from login; overrides the default.")
@click.option(
    "--introspect",
    is_flag=True,
    help="A resource server allowed to call the introspection endpoint, "
    "for access tokens of its --audience and refresh tokens issued to it.",
)
@json_option
def create(
    name: str,
    grants: tuple[str, ...],
    scope: str,
    public: bool,
    first_party: bool,
    audience: str | None,
    client_id: str | None,
    access_token_ttl: int | None,
    refresh_token_ttl: int | None,
    refresh_token_max_lifetime: int | None,
    introspect: bool,
    as_json: bool,
) -> None:
    """Register a client and print its credentials once."""
    client, secret = _run(
        clients.create_client,
        name=name,
        grant_types=list(grants),
        scopes=scope.split(),
        public=public,
        first_party=first_party,
        audience=audience,
        client_id=client_id,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        refresh_token_max_lifetime=refresh_token_max_lifetime,
        introspect=introspect,
    )
    show(_as_dict(client, secret), as_json, _secret_text(client, secret))


@group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List clients (never their secrets)."""
    rows = [_as_dict(c) for c in clients.list_clients()]
    text = "\n".join(f"{r['client_id']}\t{r['name']}\t{' '.join(r['grant_types'])}" for r in rows)  # type: ignore[arg-type]
    show(rows, as_json, text or "no clients")


@group.command("rotate-secret", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@json_option
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Replace a client's secret; the old one stops working at once."""
    client, secret = _run(clients.rotate_secret, client_id)
    show(_as_dict(client, secret), as_json, _secret_text(client, secret))


@group.command("delete", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Confirm: the client and all its refresh tokens are deleted.")
@json_option
def delete(client_id: str, yes: bool, as_json: bool) -> None:
    """Delete a client and its refresh tokens."""
    if not yes:
        raise click.UsageError("deleting a client is destructive: pass --yes")
    _run(clients.delete_client, client_id)
    show({"deleted": client_id}, as_json, f"deleted client {client_id}")
