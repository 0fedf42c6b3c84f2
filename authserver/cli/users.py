"""``authserver users create|update|set-password|disable|list``."""

from __future__ import annotations

import sys
from datetime import UTC
from datetime import datetime

import click
from flask.cli import AppGroup

from authserver.admin import consents
from authserver.admin import users
from authserver.admin.errors import AdminError
from authserver.admin.records import user_record
from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.cli.remote import AdminApi
from authserver.cli.remote import either
from authserver.cli.remote import endpoint_options
from authserver.store.throttle_counters import StoreError
from authserver.store.users import UserRecord


def _as_dict(user: UserRecord) -> dict[str, object]:
    return user_record(user)


def _read_password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _run(fn, *args):
    try:
        return fn(*args)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None
    except StoreError as exc:
        raise click.ClickException(f"the throttle store is unavailable: {exc}") from None


REMOTE = frozenset({"create", "disable", "revoke-sessions", "unlock", "list"})


@click.group("users", cls=AppGroup)
@endpoint_options(REMOTE)
def group() -> None:
    """Manage users (resource owners); with --endpoint through the admin API: create, disable, revoke-sessions,
    unlock, list."""


def _user_path(api: AdminApi, username: str, tail: str = "") -> str:
    """The admin API's path of the user (found by any spelling of the username), with ``tail``."""
    found = api.get("/admin/users", username=username)["items"]
    if not found:
        raise click.ClickException(f"no user {username!r}")
    return f"/admin/users/{found[0]['id']}{tail}"


@group.command("create", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--name", default=None, help="Full name: the `name` claim (scope profile).")
@click.option("--email", default=None, help="Email address: the `email` claim (scope email).")
@click.option("--email-verified", is_flag=True, help="The email address has been verified (`email_verified`).")
@json_option
def create(
    username: str, password_stdin: bool, name: str | None, email: str | None, email_verified: bool, as_json: bool
) -> None:
    """Create a user."""
    password = _read_password(password_stdin)
    body = {"username": username, "password": password, "name": name, "email": email, "email_verified": email_verified}
    user = either(
        lambda: _as_dict(
            _run(lambda: users.create_user(username, password, name=name, email=email, email_verified=email_verified))
        ),
        lambda api: api.post("/admin/users", body),
    )
    show(user, as_json, f"created user {user['username']} (sub {user['id']})")


@group.command("update", context_settings=DASHED_ARGUMENT)
@click.argument("username")
@click.option("--name", default=None, help='New full name ("" clears it).')
@click.option("--email", default=None, help='New email address ("" clears it; a new one is unverified).')
@click.option("--email-verified/--no-email-verified", default=None, help="Whether the email address has been verified.")
@json_option
def update(username: str, name: str | None, email: str | None, email_verified: bool | None, as_json: bool) -> None:
    """Change a user's profile (the OpenID Connect claims); options not given stay as they are."""
    user = _run(lambda: users.update_profile(username, name=name, email=email, email_verified=email_verified))
    show(_as_dict(user), as_json, f"updated user {user.username}")


@group.command("set-password", context_settings=DASHED_ARGUMENT)
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@json_option
def set_password(username: str, password_stdin: bool, as_json: bool) -> None:
    """Set a user's password."""
    user = _run(users.set_password, username, _read_password(password_stdin))
    show(_as_dict(user), as_json, f"password of {user.username} changed")


@group.command("disable", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("username")
@json_option
def disable(username: str, as_json: bool) -> None:
    """Disable a user: they can no longer log in or refresh."""
    user = either(
        lambda: _as_dict(_run(users.disable_user, username)),
        lambda api: api.post(_user_path(api, username, "/disable")),
    )
    show(user, as_json, f"user {user['username']} disabled")


@group.command("revoke-sessions", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("username")
@json_option
def revoke_sessions(username: str, as_json: bool) -> None:
    """Log a user out everywhere: revoke every refresh-token family, end every login session; older access
    tokens go inactive."""
    count = either(
        lambda: _run(users.revoke_families, username),
        lambda api: api.request("DELETE", _user_path(api, username, "/sessions"))[0]["revoked_refresh_tokens"],
    )
    show(
        {"username": username, "revoked_refresh_tokens": count},
        as_json,
        f"revoked {count} refresh tokens of {username}; access tokens issued before now are inactive",
    )


@group.command("unlock", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("username")
@json_option
def unlock(username: str, as_json: bool) -> None:
    """Lift a failed-login lockout (temporary or permanent)."""
    either(lambda: _run(users.unlock_user, username), lambda api: api.post(_user_path(api, username, "/unlock")))
    show({"username": username, "unlocked": True}, as_json, f"{username} unlocked")


@group.command("list", with_appcontext=False)
@json_option
def list_(as_json: bool) -> None:
    """List users."""
    rows = either(lambda: [_as_dict(u) for u in users.list_users()], lambda api: api.items("/admin/users"))
    text = "\n".join(f"{r['username']}\t{r['id']}\t{'disabled' if r['disabled'] else 'active'}" for r in rows)
    show(rows, as_json, text or "no users")


@group.command("consents", context_settings=DASHED_ARGUMENT)
@click.argument("username")
@json_option
def consents_(username: str, as_json: bool) -> None:
    """List the clients a user allowed (the consent page's Allow) and the scopes allowed."""
    rows = [
        {"client_id": c.client_id, "client_name": c.client_name, "scopes": list(c.scopes), "granted_at": c.granted_at}
        for c in _run(consents.list_consents, username)
    ]
    text = "\n".join(
        f"{r['client_id']}\t{r['client_name']}\t{' '.join(r['scopes'])}\t{_utc(r['granted_at'])}" for r in rows
    )
    show(rows, as_json, text or f"{username} has consented to no client")


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@group.command("revoke-consent", context_settings=DASHED_ARGUMENT)
@click.argument("username")
@click.argument("client_id")
@json_option
def revoke_consent(username: str, client_id: str, as_json: bool) -> None:
    """Withdraw a user's consent to a client: its refresh tokens for the user end too; it asks again."""
    count = _run(consents.revoke_consent, username, client_id)
    show(
        {"username": username, "client_id": client_id, "revoked_refresh_tokens": count},
        as_json,
        f"consent of {username} to {client_id} withdrawn; revoked {count} of its refresh tokens",
    )
