"""The token endpoint: a list of small named steps, then Authlib's grant dispatch."""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import request

from authserver import clock
from authserver.errors import InvalidRequestError
from authserver.http import FORM
from authserver.http import NO_STORE
from authserver.oauth import bearer
from authserver.oauth import families
from authserver.oauth.server import current_authorization_server
from authserver.settings import current_settings
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit
from authserver.telemetry import metrics
from authserver.views import token_cors

bp = Blueprint("oauth", __name__, url_prefix="/oauth")

NO_STORE_HEADERS = dict(NO_STORE)


def require_form_body() -> None:
    """RFC 6749 §3.2: parameters come form-encoded in the body; anything else is invalid_request."""
    if request.mimetype != FORM:
        raise InvalidRequestError(f"content type {request.mimetype!r} instead of {FORM}")


MAX_PARAMETER_CHARS = 4096  # our longest legitimate value is a JWT access token (well under this)


def reject_repeated_parameters() -> None:
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once; values are bounded."""
    for name, values in request.form.lists():
        if len(values) > 1:
            raise InvalidRequestError(f"parameter {name[:40]!r} repeated")
        if "\x00" in name or "\x00" in values[0]:
            raise InvalidRequestError("NUL in a parameter")
        if len(values[0]) > MAX_PARAMETER_CHARS or len(name) > 64:
            raise InvalidRequestError(f"parameter {name[:40]!r} too long")


def form_request() -> None:
    """The steps every endpoint here shares before its own handler."""
    require_form_body()
    reject_repeated_parameters()


@bp.route("/token", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def token() -> Response:
    if request.method == "OPTIONS":
        return token_cors.preflight()
    form_request()
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("missing grant_type")  # RFC 6749 §5.2, not unsupported_grant_type
    token_cors.check_origin_client(grant_type=grant_type)
    response = current_authorization_server().create_token_response()
    if response.status_code == 200:
        metrics.token_issued(grant_type)
    return response


@bp.route("/revoke", methods=["POST", "OPTIONS"], provide_automatic_options=False)
def revoke() -> Response:
    if request.method == "OPTIONS":
        return token_cors.preflight()
    form_request()
    token_cors.check_origin_client()
    return current_authorization_server().create_endpoint_response("revocation")


#: The endpoints a single-page app calls (:mod:`authserver.views.token_cors`).
CORS_ENDPOINTS = frozenset({"oauth.token", "oauth.revoke"})


@bp.after_request
def cors_headers(response: Response) -> Response:
    if "Origin" in request.headers and request.method == "POST" and request.endpoint in CORS_ENDPOINTS:
        token_cors.add_headers(response)
    return response


@bp.post("/introspect")
def introspect() -> Response:
    form_request()
    return current_authorization_server().create_endpoint_response("introspection")


@bp.post("/sessions/revoke-all")
def revoke_all_sessions() -> Response:
    """Log out everywhere, for the user of the presented access token (RFC 6750 bearer)."""
    user_id = bearer_user()
    count = run_with_retry(lambda: families.revoke_user_families(user_id, clock.now()))
    emit("user.sessions_revoked", user_id=user_id, families=count)
    return Response(json.dumps({"revoked": True}), mimetype="application/json", headers=NO_STORE_HEADERS)


def bearer_user() -> str:
    """The ``sub`` of a valid, active user access token in ``Authorization: Bearer``, else 401 (RFC 6750 §3).

    The token must be meant for this server: its ``aud`` must be the issuer. A token issued for another
    resource server (a client created with ``--audience https://api...``) is refused, whatever its scope.
    """
    token = bearer.header_token(request.headers.get("Authorization"))
    return bearer.user_token_claims(token, clock.now(), audience=current_settings().issuer)["sub"]
