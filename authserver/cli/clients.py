"""``authserver clients create|list|show|rotate-secret|delete|add-origin|add-redirect-uri|...``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click
from flask.cli import AppGroup

from authserver.admin import clients
from authserver.admin.errors import AdminError
from authserver.admin.records import client_record
from authserver.cli.output import DASHED_ARGUMENT
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.cli.remote import either
from authserver.cli.remote import endpoint_options
from authserver.store.clients import Registration


def _as_dict(client: Registration, secret: str | None = None) -> dict[str, object]:
    return client_record(client, secret)


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None


def _secret_text(data: dict[str, Any]) -> str:
    if data.get("client_secret") is None:
        return f"client_id: {data['client_id']} (public client, no secret)"
    return f"client_id: {data['client_id']}\nclient_secret: {data['client_secret']}\n(the secret is shown only now)"


REMOTE = frozenset({"create", "list", "show", "rotate-secret", "delete"})


@click.group("clients", cls=AppGroup)
@endpoint_options(REMOTE)
def group() -> None:
    """Manage OAuth clients (on the database, or with --endpoint through the admin API: create, list, show,
    rotate-secret, delete)."""


def _path(client_id: str) -> str:
    return "/admin/clients/" + quote(client_id, safe="")


@group.command("create", with_appcontext=False)
@click.option("--name", required=True)
@click.option("--grant", "grants", multiple=True, help="Allowed grant type (repeatable).")
@click.option("--scope", default="", help='Allowed scopes, space-separated, e.g. "read write".')
@click.option("--public", is_flag=True, help="Public client: no secret (auth method none): SPAs, native apps.")
@click.option("--first-party", is_flag=True, help="Our own app: may use the password grant; skips the consent page.")
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
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="Browser origin of its single-page app, exactly scheme://host[:port] (repeatable): JSON API cookie mode.",
)
@click.option("--login-default", is_flag=True, help="The client POST /login serves when a request names none.")
@click.option(
    "--grace-seconds",
    type=int,
    default=None,
    help="Its own refresh grace window, 0-300 s (default: 10 with --origin, else AUTHSERVER_REFRESH_GRACE_SECONDS).",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Where /oauth/authorize may send the user back (repeatable; needed by --grant authorization_code): "
    "https, http on 127.0.0.1 or [::1], or a private-use scheme such as com.example.app:/cb; no fragment.",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Where /oauth/logout may send the user back (repeatable), the same rules.",
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
    origins: tuple[str, ...],
    login_default: bool,
    grace_seconds: int | None,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register a client and print its credentials once."""
    fields: dict[str, Any] = {
        "name": name,
        "grant_types": list(grants),
        "scopes": scope.split(),
        "public": public,
        "first_party": first_party,
        "audience": audience,
        "client_id": client_id,
        "access_token_ttl": access_token_ttl,
        "refresh_token_ttl": refresh_token_ttl,
        "refresh_token_max_lifetime": refresh_token_max_lifetime,
        "introspect": introspect,
        "origins": list(origins),
        "login_default": login_default,
        "grace_seconds": grace_seconds,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
    }

    def local() -> dict[str, Any]:
        uris = {k: tuple(fields[k]) for k in ("origins", "redirect_uris", "post_logout_redirect_uris")}
        client, secret = _run(clients.create_client, **{**fields, **uris})
        return client_record(client, secret)

    data = either(local, lambda api: api.post("/admin/clients", fields))
    show(data, as_json, _secret_text(data))


@group.command("list", with_appcontext=False)
@json_option
def list_(as_json: bool) -> None:
    """List clients (never their secrets)."""
    rows = either(lambda: [_as_dict(c) for c in clients.list_clients()], lambda api: api.items("/admin/clients"))
    text = "\n".join(f"{r['client_id']}\t{r['name']}\t{' '.join(r['grant_types'])}" for r in rows)
    show(rows, as_json, text or "no clients")


@group.command("show", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("client_id")
@json_option
def show_(client_id: str, as_json: bool) -> None:
    """Show one client as registered (never its secret)."""
    data = either(lambda: _as_dict(_run(clients.registration, client_id)), lambda api: api.get(_path(client_id)))
    show(data, as_json, "\n".join(f"{k}: {_text(v)}" for k, v in data.items()))


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(value) or "-"
    return "-" if value is None else str(value)


@group.command("rotate-secret", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("client_id")
@click.option(
    "--overlap",
    "overlap_seconds",
    type=click.IntRange(0, clients.MAX_SECRET_OVERLAP),
    default=0,
    help="Seconds the old secret keeps working (deploy the new one meanwhile); default 0: it stops at once.",
)
@json_option
def rotate_secret(client_id: str, overlap_seconds: int, as_json: bool) -> None:
    """Replace a client's secret; the old one stops working at once, or after --overlap seconds."""

    def local() -> dict[str, Any]:
        client, secret = _run(clients.rotate_secret, client_id, overlap_seconds)
        return client_record(client, secret)

    body = {"overlap_seconds": overlap_seconds}
    data = either(local, lambda api: api.post(_path(client_id) + "/rotate-secret", body))
    show(data, as_json, _secret_text(data))


@group.command("delete", context_settings=DASHED_ARGUMENT, with_appcontext=False)
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Confirm: the client and all its refresh tokens are deleted.")
@json_option
def delete(client_id: str, yes: bool, as_json: bool) -> None:
    """Delete a client and its refresh tokens."""
    if not yes:
        raise click.UsageError("deleting a client is destructive: pass --yes")
    either(lambda: _run(clients.delete_client, client_id), lambda api: api.change("DELETE", _path(client_id)))
    show({"deleted": client_id}, as_json, f"deleted client {client_id}")


@group.command("add-origin", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.argument("origin")
@json_option
def add_origin(client_id: str, origin: str, as_json: bool) -> None:
    """Register one more browser origin for a client."""
    stored = _run(clients.add_origin, client_id, origin)
    show(_as_dict(clients.registration(client_id)), as_json, f"client {client_id}: origin {stored} added")


@group.command("remove-origin", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.argument("origin")
@json_option
def remove_origin(client_id: str, origin: str, as_json: bool) -> None:
    """Remove one of a client's browser origins."""
    _run(clients.remove_origin, client_id, origin)
    show(_as_dict(clients.registration(client_id)), as_json, f"client {client_id}: origin {origin} removed")


@group.command("set-login-default", context_settings=DASHED_ARGUMENT)
@click.argument("client_id", required=False)
@click.option("--none", "clear", is_flag=True, help="No client is the login default any more.")
@json_option
def set_login_default(client_id: str | None, clear: bool, as_json: bool) -> None:
    """Make a client the login default of POST /login (the previous one stops being it)."""
    if (client_id is None) == (not clear):
        raise click.UsageError("give a CLIENT_ID or --none")
    _run(clients.set_login_default, None if clear else client_id)
    show({"login_default": client_id}, as_json, f"login default: {client_id or 'none'}")


@group.command("set-grace-seconds", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.argument("seconds", type=int)
@json_option
def set_grace_seconds(client_id: str, seconds: int, as_json: bool) -> None:
    """Give a client its own refresh grace window (0-300 s)."""
    _run(clients.set_grace_seconds, client_id, seconds)
    show(_as_dict(clients.registration(client_id)), as_json, f"client {client_id}: grace {seconds} s")


_POST_LOGOUT = click.option(
    "--post-logout", is_flag=True, help="A post-logout redirect URI (RP-initiated logout) instead of a redirect URI."
)


@group.command("add-redirect-uri", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.argument("uri")
@_POST_LOGOUT
@json_option
def add_redirect_uri(client_id: str, uri: str, post_logout: bool, as_json: bool) -> None:
    """Register one more redirect URI (or, with --post-logout, post-logout redirect URI) for a client."""
    _run(clients.add_redirect_uri, client_id, uri, post_logout=post_logout)
    show(_as_dict(clients.registration(client_id)), as_json, f"client {client_id}: {_kind(post_logout)} {uri} added")


@group.command("remove-redirect-uri", context_settings=DASHED_ARGUMENT)
@click.argument("client_id")
@click.argument("uri")
@_POST_LOGOUT
@json_option
def remove_redirect_uri(client_id: str, uri: str, post_logout: bool, as_json: bool) -> None:
    """Remove one of a client's redirect URIs (or, with --post-logout, post-logout redirect URIs)."""
    _run(clients.remove_redirect_uri, client_id, uri, post_logout=post_logout)
    show(_as_dict(clients.registration(client_id)), as_json, f"client {client_id}: {_kind(post_logout)} {uri} removed")


def _kind(post_logout: bool) -> str:
    return "post-logout redirect URI" if post_logout else "redirect URI"
