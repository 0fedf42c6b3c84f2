"""``/admin/clients``: registered clients over :mod:`authserver.admin.clients` (the CLI's ``clients`` commands)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import request

from authserver.admin import clients
from authserver.admin.access import is_admin_scope
from authserver.admin.access import read_scope
from authserver.admin.access import write_scope
from authserver.admin.client_updates import UPDATABLE
from authserver.admin.client_updates import update_client
from authserver.admin.records import client_record
from authserver.admin_api.body import Body
from authserver.admin_api.body import json_body
from authserver.admin_api.conditional import check_if_match
from authserver.admin_api.pagination import paged
from authserver.admin_api.problems import ApiError
from authserver.admin_api.problems import ForbiddenApiError
from authserver.admin_api.responses import json_response
from authserver.admin_api.responses import no_content
from authserver.admin_api.routes import current_caller
from authserver.admin_api.routes import note
from authserver.admin_api.routes import operation

READ, WRITE = read_scope("clients"), write_scope("clients")
_NOT_FOUND = (400, 404)


def _record(client_id: str) -> dict[str, Any]:
    return client_record(clients.registration(client_id))


def _guarded_record(client_id: str) -> dict[str, Any]:
    """The client, which the caller may change: an admin client only by a caller holding all its scopes
    (otherwise rotating its secret would hand over more than the caller has)."""
    client = clients.registration(client_id)
    if client.admin:
        _no_escalation(list(client.scopes))
    return client_record(client)


def _tagged(client_id: str, status: int = 200) -> Response:
    record = _record(client_id)
    return json_response(record, status, etag_of=record)


def _no_escalation(scopes: list[str]) -> None:
    """An admin client created or changed through the API gets no admin scope its creator lacks."""
    caller = current_caller()
    beyond = [s for s in scopes if is_admin_scope(s) and not caller.may(s)]
    if beyond:
        raise ForbiddenApiError(f"this needs the admin scopes {' '.join(beyond)}, which the caller does not hold")


@operation(
    "/clients",
    "GET",
    action="clients_listed",
    scope=READ,
    summary="List clients by client_id, a page at a time",
    response="ClientPage",
    paginated=True,
)
def list_clients() -> Response:
    return paged(clients.page_clients, lambda c: c.client_id, client_record)


@operation(
    "/clients",
    "POST",
    action="client_created",
    scope=WRITE,
    summary="Register a client; the answer holds its secret, shown only now",
    status=201,
    request="ClientCreate",
    response="ClientWithSecret",
    errors=(400, 409),
)
def create_client() -> Response:
    body = json_body()
    fields = _create_fields(body)
    body.done()
    if fields["admin"]:
        _no_escalation(fields["scopes"])
    client, secret = clients.create_client(**fields)
    note(client_id=client.client_id)
    record = client_record(client)
    response = json_response(client_record(client, secret), 201, etag_of=record)
    response.headers["Location"] = f"{request.root_path}/admin/clients/{client.client_id}"
    return response


def _create_fields(body: Body) -> dict[str, Any]:
    return {
        "name": body.text("name", required=True),
        "grant_types": body.texts("grant_types", default=[]),
        "scopes": body.texts("scopes", default=[]),
        "public": body.flag("public"),
        "first_party": body.flag("first_party"),
        "audience": body.text("audience", nullable=True),
        "client_id": body.text("client_id", nullable=True),
        "access_token_ttl": body.number("access_token_ttl"),
        "refresh_token_ttl": body.number("refresh_token_ttl"),
        "refresh_token_max_lifetime": body.number("refresh_token_max_lifetime"),
        "introspect": body.flag("introspect"),
        "origins": tuple(body.texts("origins")),
        "login_default": body.flag("login_default"),
        "grace_seconds": body.number("grace_seconds"),
        "redirect_uris": tuple(body.texts("redirect_uris")),
        "post_logout_redirect_uris": tuple(body.texts("post_logout_redirect_uris")),
        "admin": body.flag("admin"),
    }


@operation(
    "/clients/<client_id>",
    "GET",
    action="client_read",
    scope=READ,
    summary="Read one client (never its secret); the ETag names this version",
    response="Client",
    errors=_NOT_FOUND,
)
def read_client(client_id: str) -> Response:
    return _tagged(client_id)


_TEXT_FIELDS = ("name", "audience")
_LIST_FIELDS = ("grant_types", "scopes")
_FLAG_FIELDS = ("first_party", "introspect", "login_default")
_NUMBER_FIELDS = ("access_token_ttl", "refresh_token_ttl", "refresh_token_max_lifetime", "grace_seconds")


@operation(
    "/clients/<client_id>",
    "PATCH",
    action="client_updated",
    scope=WRITE,
    summary="Change fields of a client (JSON merge: the fields given replace theirs)",
    request="ClientUpdate",
    response="Client",
    if_match="required",
    errors=(400, 404, 412, 428),
)
def update(client_id: str) -> Response:
    check_if_match(_guarded_record(client_id), required=True)
    body = json_body()
    changes: dict[str, Any] = {}
    for name in UPDATABLE:
        if not body.has(name):
            continue
        if name in _TEXT_FIELDS:
            changes[name] = body.text(name, nullable=name == "audience")
        elif name in _LIST_FIELDS:
            changes[name] = body.texts(name)
        elif name in _FLAG_FIELDS:
            changes[name] = body.flag(name)
        else:
            changes[name] = body.number(name)
    body.done()
    if "scopes" in changes:
        _no_escalation(changes["scopes"])
    note(fields=sorted(changes))
    update_client(client_id, changes)
    return _tagged(client_id)


@operation(
    "/clients/<client_id>",
    "DELETE",
    action="client_deleted",
    scope=WRITE,
    summary="Delete a client and all its refresh tokens",
    status=204,
    if_match="required",
    errors=(404, 412, 428),
)
def delete(client_id: str) -> Response:
    check_if_match(_guarded_record(client_id), required=True)
    clients.delete_client(client_id)
    return no_content()


@operation(
    "/clients/<client_id>/rotate-secret",
    "POST",
    action="client_secret_rotated",
    scope=WRITE,
    summary="Give a client a new secret (shown only now); the old one works for overlap_seconds more",
    request="SecretRotation",
    response="ClientWithSecret",
    if_match="optional",
    errors=(400, 404, 412),
)
def rotate_secret(client_id: str) -> Response:
    check_if_match(_guarded_record(client_id), required=False)
    body = json_body(optional=True)
    overlap = body.number("overlap_seconds", default=0, nullable=False)
    body.done()
    note(overlap_seconds=overlap)
    client, secret = clients.rotate_secret(client_id, overlap)
    record = client_record(client)
    return json_response(client_record(client, secret), etag_of=record)


@operation(
    "/clients/<client_id>/origins",
    "POST",
    action="client_origin_added",
    scope=WRITE,
    summary="Register one more browser origin (scheme://host[:port]) for the JSON API's cookie mode",
    request="Origin",
    response="Client",
    if_match="optional",
    errors=(400, 404, 409, 412),
)
def add_origin(client_id: str) -> Response:
    check_if_match(_record(client_id), required=False)
    body = json_body()
    origin = body.text("origin", required=True)
    body.done()
    note(origin=clients.add_origin(client_id, origin))
    return _tagged(client_id)


@operation(
    "/clients/<client_id>/origins",
    "DELETE",
    action="client_origin_removed",
    scope=WRITE,
    summary="Remove one of a client's browser origins (?origin=...)",
    response="Client",
    if_match="optional",
    query=(("origin", "string", "The origin to remove, as registered"),),
    errors=(400, 404, 412),
)
def remove_origin(client_id: str) -> Response:
    check_if_match(_record(client_id), required=False)
    origin = _query("origin")
    note(origin=origin)
    clients.remove_origin(client_id, origin)
    return _tagged(client_id)


@operation(
    "/clients/<client_id>/redirect-uris",
    "POST",
    action="client_redirect_uri_added",
    scope=WRITE,
    summary="Register one more redirect URI (post_logout: a post-logout redirect URI)",
    request="RedirectUri",
    response="Client",
    if_match="optional",
    errors=(400, 404, 412),
)
def add_redirect_uri(client_id: str) -> Response:
    check_if_match(_record(client_id), required=False)
    body = json_body()
    uri, post_logout = body.text("uri", required=True), body.flag("post_logout")
    body.done()
    clients.add_redirect_uri(client_id, uri, post_logout=post_logout)
    return _tagged(client_id)


@operation(
    "/clients/<client_id>/redirect-uris",
    "DELETE",
    action="client_redirect_uri_removed",
    scope=WRITE,
    summary="Remove one of a client's redirect URIs (?uri=...&post_logout=true|false)",
    response="Client",
    if_match="optional",
    query=(
        ("uri", "string", "The URI to remove, exactly as registered"),
        ("post_logout", "boolean", "A post-logout redirect URI (default false)"),
    ),
    errors=(400, 404, 412),
)
def remove_redirect_uri(client_id: str) -> Response:
    check_if_match(_record(client_id), required=False)
    uri = _query("uri")
    post_logout = request.args.get("post_logout", "false")
    if post_logout not in ("true", "false"):
        raise ApiError("post_logout must be true or false")
    clients.remove_redirect_uri(client_id, uri, post_logout=post_logout == "true")
    return _tagged(client_id)


def _query(name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise ApiError(f"the query parameter {name} is required")
    return value
