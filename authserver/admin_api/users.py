"""``/admin/users``: users over :mod:`authserver.admin.users` and :mod:`authserver.admin.consents` (the CLI's
``users`` commands). A user is addressed by its id (the ``sub`` of its tokens): a username may hold a ``/``."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import request

from authserver import clock
from authserver.admin import consents
from authserver.admin import users
from authserver.admin.access import read_scope
from authserver.admin.access import write_scope
from authserver.admin.errors import NotFoundError
from authserver.admin.records import consent_record
from authserver.admin.records import family_record
from authserver.admin.records import user_record
from authserver.admin_api.body import json_body
from authserver.admin_api.conditional import check_if_match
from authserver.admin_api.pagination import paged
from authserver.admin_api.responses import json_response
from authserver.admin_api.responses import no_content
from authserver.admin_api.routes import note
from authserver.admin_api.routes import operation
from authserver.usernames import normal_form

READ, WRITE = read_scope("users"), write_scope("users")
SESSIONS_READ, SESSIONS_WRITE = read_scope("sessions"), write_scope("sessions")
_FOUND = (400, 404)


def _record(user_id: str) -> dict[str, Any]:
    return user_record(users.user_by_id(user_id))


def _tagged(user_id: str, status: int = 200) -> Response:
    record = _record(user_id)
    return json_response(record, status, etag_of=record)


@operation(
    "/users",
    "GET",
    action="users_listed",
    scope=READ,
    summary="List users by normal username, a page at a time (?username= finds one by any spelling)",
    response="UserPage",
    paginated=True,
    query=(("username", "string", "Only the user with this username (compared by its normal form)"),),
)
def list_users() -> Response:
    wanted = request.args.get("username")
    if wanted is not None:
        try:
            found = [user_record(users.get_user(wanted))]
        except NotFoundError:
            found = []
        return json_response({"items": found, "next_cursor": None, "next": None})
    return paged(users.page_users, lambda u: normal_form(u.username), user_record)


@operation(
    "/users",
    "POST",
    action="user_created",
    scope=WRITE,
    summary="Create a user (the password policy applies)",
    status=201,
    request="UserCreate",
    response="User",
    errors=(400, 409),
)
def create_user() -> Response:
    body = json_body()
    username, password = body.text("username", required=True), body.text("password", required=True)
    name, email = body.text("name", nullable=True), body.text("email", nullable=True)
    verified = body.flag("email_verified")
    body.done()
    user = users.create_user(username, password, name=name, email=email, email_verified=verified)
    note(user_id=user.id)
    response = _tagged(user.id, 201)
    response.headers["Location"] = f"{request.root_path}/admin/users/{user.id}"
    return response


@operation(
    "/users/<user_id>",
    "GET",
    action="user_read",
    scope=READ,
    summary="Read one user (never its password hash); the ETag names this version",
    response="User",
    errors=_FOUND,
)
def read_user(user_id: str) -> Response:
    return _tagged(user_id)


@operation(
    "/users/<user_id>",
    "PATCH",
    action="user_updated",
    scope=WRITE,
    summary='Change the profile: name, email ("" or null clears), email_verified',
    request="UserUpdate",
    response="User",
    if_match="required",
    errors=(400, 404, 412, 428),
)
def update_user(user_id: str) -> Response:
    record = _record(user_id)
    check_if_match(record, required=True)
    body = json_body()
    name = body.text("name", nullable=True)
    email = body.text("email", nullable=True)
    verified = body.flag("email_verified", default=None)
    body.done()
    users.update_profile(
        record["username"],
        name=None if not body.has("name") else (name or ""),
        email=None if not body.has("email") else (email or ""),
        email_verified=verified,
    )
    return _tagged(user_id)


@operation(
    "/users/<user_id>/disable",
    "POST",
    action="user_disabled",
    scope=WRITE,
    summary="Disable a user: no more logins or refreshes; every family ends",
    response="User",
    if_match="optional",
    errors=(404, 412),
)
def disable_user(user_id: str) -> Response:
    record = _record(user_id)
    check_if_match(record, required=False)
    users.disable_user(record["username"])
    return _tagged(user_id)


@operation(
    "/users/<user_id>/unlock",
    "POST",
    action="user_unlocked",
    scope=WRITE,
    summary="Lift a failed-login lockout",
    status=204,
    errors=(404,),
)
def unlock_user(user_id: str) -> Response:
    users.unlock_user(_record(user_id)["username"])
    return no_content()


@operation(
    "/users/<user_id>/password",
    "PUT",
    action="user_password_set",
    scope=WRITE,
    summary="Set a user's password (the password policy applies)",
    status=204,
    request="Password",
    if_match="optional",
    errors=(400, 404, 412),
)
def set_password(user_id: str) -> Response:
    record = _record(user_id)
    check_if_match(record, required=False)
    body = json_body()
    password = body.text("password", required=True)
    body.done()
    users.set_password(record["username"], password)
    return no_content()


@operation(
    "/users/<user_id>/sessions",
    "GET",
    action="user_sessions_listed",
    scope=SESSIONS_READ,
    summary="The user's refresh-token families (one per login), the latest first",
    response="FamilyList",
    errors=_FOUND,
)
def list_sessions(user_id: str) -> Response:
    families = users.families_of(_record(user_id)["username"])
    return json_response({"items": [family_record(f) for f in families]})


@operation(
    "/users/<user_id>/sessions",
    "DELETE",
    action="user_sessions_revoked",
    scope=SESSIONS_WRITE,
    summary="Log the user out everywhere: every family revoked, login sessions ended, older access tokens inactive",
    response="Revoked",
    errors=_FOUND,
)
def revoke_sessions(user_id: str) -> Response:
    revoked = users.revoke_families(_record(user_id)["username"])
    note(revoked_refresh_tokens=revoked)
    return json_response({"revoked_refresh_tokens": revoked, "not_before": clock.now()})


@operation(
    "/users/<user_id>/consents",
    "GET",
    action="user_consents_listed",
    scope=READ,
    summary="The clients the user allowed (the consent page's Allow), with the scopes",
    response="ConsentList",
    errors=_FOUND,
)
def list_consents(user_id: str) -> Response:
    found = consents.list_consents(_record(user_id)["username"])
    return json_response({"items": [consent_record(c) for c in found]})


@operation(
    "/users/<user_id>/consents/<client_id>",
    "DELETE",
    action="user_consent_revoked",
    scope=SESSIONS_WRITE,
    summary="Withdraw the user's consent to a client; the client's families for the user end",
    response="Revoked",
    errors=_FOUND,
)
def revoke_consent(user_id: str, client_id: str) -> Response:
    revoked = consents.revoke_consent(_record(user_id)["username"], client_id)
    note(revoked_refresh_tokens=revoked)
    return json_response({"revoked_refresh_tokens": revoked, "not_before": None})
