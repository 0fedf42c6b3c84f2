"""What the third-party tests share: an operator's set-up through the CLI (``clients create --grant
authorization_code --redirect-uri ...``, ``users create --name --email``), run in process against the live
server's database."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask

from authserver.cli.console import main

#: What the example app and the real clients ask for: the OpenID Connect scopes are always known, ``read`` is
#: among the default AUTHSERVER_SCOPES, so the servers run with their default scopes.
CLIENT_SCOPE = "openid profile email read"
PASSWORD = "third party password 789"


@dataclass
class User:
    username: str
    user_id: str
    name: str
    email: str


@dataclass
class Client:
    client_id: str
    secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str | None


def cli(app: Flask, *args: str, stdin: str | None = None) -> str:
    result = app.test_cli_runner().invoke(main, args=list(args), input=stdin)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def create_user(app: Flask, username: str | None = None, name: str | None = None) -> User:
    """``authserver users create USERNAME --password-stdin --name ... --email ... --email-verified``."""
    username = username or f"tp-user-{uuid.uuid4().hex[:10]}"
    name, email = name or f"Test User {username[-4:]}", f"{username}@example.com"
    cli(app, "users", "create", username, "--password-stdin", "--name", name, "--email", email, "--email-verified",
        stdin=PASSWORD + "\n")  # fmt: skip
    from authserver.admin import users

    with app.app_context():
        user_id = users.get_user(username).id
    return User(username, user_id, name, email)


def create_client(
    app: Flask,
    redirect_uri: str,
    *,
    post_logout_redirect_uri: str | None = None,
    name: str = "Example third-party app",
    public: bool = False,
    first_party: bool = False,
) -> Client:
    """``authserver clients create --grant authorization_code --grant refresh_token --redirect-uri ... --json``."""
    args = ["clients", "create", "--name", name, "--grant", "authorization_code", "--grant", "refresh_token"]
    args += ["--scope", CLIENT_SCOPE, "--redirect-uri", redirect_uri, "--json"]
    if post_logout_redirect_uri:
        args += ["--post-logout-redirect-uri", post_logout_redirect_uri]
    if public:
        args.append("--public")
    if first_party:
        args.append("--first-party")
    data: dict[str, Any] = json.loads(cli(app, *args))
    assert data["redirect_uris"] == [redirect_uri], data
    return Client(data["client_id"], data.get("client_secret"), redirect_uri, post_logout_redirect_uri)
