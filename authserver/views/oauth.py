"""The token endpoint: a list of small named steps, then Authlib's grant dispatch."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from authserver.errors import InvalidRequestError
from authserver.extensions import authorization

bp = Blueprint("oauth", __name__, url_prefix="/oauth")

FORM = "application/x-www-form-urlencoded"


def require_form_body() -> None:
    """RFC 6749 §3.2: parameters come form-encoded in the body; anything else is invalid_request."""
    if request.mimetype != FORM:
        raise InvalidRequestError(f"content type {request.mimetype!r} instead of {FORM}")


def reject_repeated_parameters() -> None:
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once."""
    for name, values in request.form.lists():
        if len(values) > 1:
            raise InvalidRequestError(f"parameter {name[:40]!r} repeated")


@bp.post("/token")
def token() -> Response:
    require_form_body()
    reject_repeated_parameters()
    return authorization.create_token_response()
