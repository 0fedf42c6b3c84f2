"""``authserver admin bootstrap``: the first admin client of the admin API (docs/admin-api.md).

It prints the client's id and secret once (the secret is stored only as its HMAC, as every client's). The
admin then gets an access token at the public token endpoint with ``grant_type=client_credentials`` and the
admin scopes it needs, and calls the admin listener with it.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from authserver.admin import clients
from authserver.admin.access import ADMIN_AUDIENCE
from authserver.admin.access import ADMIN_SCOPES
from authserver.admin.access import CLIENT_CREDENTIALS
from authserver.admin.errors import AdminError
from authserver.cli.output import json_option
from authserver.cli.output import show


@click.group("admin", cls=AppGroup)
def group() -> None:
    """The admin API's own clients."""


@group.command("bootstrap")
@click.option("--name", default="admin", show_default=True, help="The admin client's name.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(ADMIN_SCOPES),
    help="An admin scope it may hold (repeatable; default: all of them).",
)
@json_option
def bootstrap(name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Register an admin client and print its client_id and client_secret once."""
    try:
        client, secret = clients.create_client(
            name=name, grant_types=[CLIENT_CREDENTIALS], scopes=list(scopes or ADMIN_SCOPES), admin=True
        )
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None
    assert secret is not None  # an admin client is confidential
    data = {
        "client_id": client.client_id,
        "client_secret": secret,
        "scopes": list(client.scopes),
        "audience": ADMIN_AUDIENCE,
    }
    text = (
        f"client_id: {client.client_id}\nclient_secret: {secret}\n(the secret is shown only now)\n"
        f"scopes: {' '.join(client.scopes)}\n"
        "token: POST /oauth/token grant_type=client_credentials with these credentials and the scopes you need"
    )
    show(data, as_json, text)
