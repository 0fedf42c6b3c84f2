"""The admin API's refusals: the server's one JSON error shape (``{"error", "error_description"}``, no-store).

Authentication refusals are the server's own bearer errors (RFC 6750 §3, :mod:`authserver.errors`, fixed
descriptions and a ``WWW-Authenticate`` challenge). Every other refusal is an :class:`ApiError` here, whose
description is the operator-facing reason (the same text the CLI prints): the caller is an authenticated
admin client, and the reason names only what it sent.

::

    ApiError                     400 invalid_request (an AdminError of the domain functions)
    ├── ForbiddenApiError        403 access_denied (an admin client beyond the caller's own scopes)
    ├── NotFoundApiError         404 not_found
    ├── ConflictApiError         409 conflict (exists already, or a key-lifecycle step refused)
    ├── PreconditionFailedError  412 precondition_failed (If-Match names another version)
    └── PreconditionRequiredError 428 precondition_required (If-Match missing on an update)
"""

from __future__ import annotations

import json

from flask import Response

from authserver.admin.errors import AdminError
from authserver.admin.errors import ConflictError
from authserver.admin.errors import NotFoundError
from authserver.http import NO_STORE

MAX_DESCRIPTION = 500


class ApiError(Exception):
    """A refused admin request: the wire code, the status, and the reason (``error_description``)."""

    error = "invalid_request"
    status = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description[:MAX_DESCRIPTION]


class NotFoundApiError(ApiError):
    error = "not_found"
    status = 404


class ForbiddenApiError(ApiError):
    """Authenticated and scoped, yet refused: it would give away admin scopes the caller does not hold."""

    error = "access_denied"
    status = 403


class ConflictApiError(ApiError):
    error = "conflict"
    status = 409


class PreconditionFailedError(ApiError):
    error = "precondition_failed"
    status = 412


class PreconditionRequiredError(ApiError):
    error = "precondition_required"
    status = 428


def from_admin_error(exc: AdminError) -> ApiError:
    if isinstance(exc, NotFoundError):
        return NotFoundApiError(str(exc))
    if isinstance(exc, ConflictError):
        return ConflictApiError(str(exc))
    return ApiError(str(exc))


def render(exc: ApiError) -> Response:
    body = {"error": exc.error, "error_description": exc.description}
    response = Response(json.dumps(body), status=exc.status, mimetype="application/json")
    for name, value in NO_STORE:
        response.headers[name] = value
    return response
