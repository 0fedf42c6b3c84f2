"""``/admin/tokens``: ending tokens over :mod:`authserver.admin.tokens` (what a revocation reaches is said there
and in docs/admin-api.md: refresh tokens at once, access tokens at introspection, never offline verification)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response

from authserver.admin import tokens
from authserver.admin.access import read_scope
from authserver.admin.access import write_scope
from authserver.admin.records import family_record
from authserver.admin.users import user_by_id
from authserver.admin_api.body import json_body
from authserver.admin_api.problems import ApiError
from authserver.admin_api.responses import json_response
from authserver.admin_api.routes import note
from authserver.admin_api.routes import operation

READ, WRITE = read_scope("sessions"), write_scope("sessions")


@operation(
    "/tokens/families/<family_id>",
    "GET",
    action="family_read",
    scope=READ,
    summary="One refresh-token family (one login): its client, user, times and whether it is still active",
    response="Family",
    errors=(404,),
)
def read_family(family_id: str) -> Response:
    return json_response(family_record(tokens.family(family_id)))


@operation(
    "/tokens/families/<family_id>/revoke",
    "POST",
    action="family_revoked",
    scope=WRITE,
    summary="Revoke a family: its refresh tokens stop working, its access tokens introspect inactive",
    response="Revoked",
    errors=(404,),
)
def revoke_family(family_id: str) -> Response:
    revoked = tokens.revoke_family(family_id)
    note(revoked_refresh_tokens=revoked.revoked_refresh_tokens)
    return json_response(asdict(revoked))


@operation(
    "/tokens/revoke-before",
    "POST",
    action="tokens_revoked_before",
    scope=WRITE,
    summary="Revoke everything a client (client_id) or a user (user_id) was issued before a time (default now)",
    request="RevokeBefore",
    response="Revoked",
    errors=(400, 404),
)
def revoke_before() -> Response:
    body = json_body()
    client_id = body.text("client_id")
    user_id = body.text("user_id")
    before = body.number("before")
    body.done()
    if (client_id is None) == (user_id is None):
        raise ApiError("give exactly one of client_id and user_id")
    if client_id is not None:
        note(client_id=client_id, before=before)
        revoked = tokens.revoke_client_tokens_before(client_id, before)
    else:
        note(user_id=user_id, before=before)
        revoked = tokens.revoke_user_tokens_before(user_by_id(user_id).username, before)
    note(revoked_refresh_tokens=revoked.revoked_refresh_tokens)
    return json_response(asdict(revoked))
