"""``authserver demo seed``: a demo user and first-party client for the README's walk-through."""

from __future__ import annotations

import secrets

import click
from flask.cli import AppGroup

from authserver import clients
from authserver import users
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.extensions import db
from authserver.models import Client

DEMO_USER = "demo"
DEMO_CLIENT = "demo-app"


@click.group("demo", cls=AppGroup)
def group() -> None:
    """Demo set-up for local development."""


@group.command("seed")
@json_option
def seed(as_json: bool) -> None:
    """Create (or reset) user `demo` and client `demo-app`, printing fresh credentials."""
    password = secrets.token_urlsafe(12)
    try:
        users.set_password(DEMO_USER, password)
    except users.UserError:
        users.create_user(DEMO_USER, password)
    if db.session.get(Client, DEMO_CLIENT) is None:
        _client, secret = clients.create_client(
            name="Demo app", client_id=DEMO_CLIENT, grant_types=["password", "refresh_token"],
            scopes=["read", "write"], first_party=True)
    else:
        _client, secret = clients.rotate_secret(DEMO_CLIENT)
    data = {"username": DEMO_USER, "password": password, "client_id": DEMO_CLIENT, "client_secret": secret}
    text = "\n".join(f"  {k}: {v}" for k, v in data.items())
    show(data, as_json, f"demo credentials (development only):\n{text}")
