"""The UserInfo endpoint (OpenID Connect Core §5.3): the signed-in user's claims, for an access token with ``openid``.

The token comes as ``Authorization: Bearer`` (RFC 6750 §2.1) or, on ``POST``, as the form parameter
``access_token`` (§2.2, which Core §5.3.1 allows); never both (§2: a client MUST NOT use more than one method),
and never in the query (§2.3; RFC 9700 §4.3.2: it leaks into logs and ``Referer``).

CORS: a single-page app calls userinfo from its page, so the origins the token endpoint answers CORS for (the
redirect origins of public code-flow clients, :mod:`authserver.views.token_cors`) get it here too: exact echo,
``Vary: Origin``, no credentials (the token is in a header, no cookie is read), the ``Authorization`` header
allowed in the preflight and ``WWW-Authenticate`` readable by the script.

Any audience is accepted: a code-flow access token carries the audience of the API the client calls, and Core
§5.3 has the client call userinfo with that same token. What authorises the call is the ``openid`` scope, which
only a user's sign-in grants, and the token being active.
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import request

from authserver import clock
from authserver.errors import BearerRequestError
from authserver.errors import InsufficientScopeError
from authserver.errors import InvalidTokenError
from authserver.http import FORM
from authserver.http import JSON_HEADERS
from authserver.oauth import bearer
from authserver.oauth.claims import OPENID
from authserver.oauth.claims import userinfo_claims
from authserver.store import current_stores
from authserver.views import token_cors

bp = Blueprint("userinfo", __name__, url_prefix="/oauth")


def _presented_token() -> str | None:
    """The one access token of the request, by header or (POST) form body."""
    if "access_token" in request.args:
        raise BearerRequestError("access token in the query")
    in_header = bearer.header_token(request.headers.get("Authorization"))
    in_body = None
    if request.method == "POST" and request.mimetype == FORM:
        values = request.form.getlist("access_token")
        if len(values) > 1:
            raise BearerRequestError("access_token repeated")
        in_body = values[0] if values else None
    if in_header is not None and in_body is not None:
        raise BearerRequestError("access token in both the header and the body")
    return in_header if in_header is not None else in_body


#: The preflight's answer for an allowed origin (Fetch §4.8).
PREFLIGHT_MAX_AGE = 600
ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = "Authorization, Content-Type"


def _preflight() -> Response:
    response = Response(status=204)
    response.vary.add("Origin")
    origin = token_cors.allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


@bp.after_request
def _cors(response: Response) -> Response:
    """Every answer (claims or error) to an allowed origin carries its CORS headers."""
    if request.method != "OPTIONS":
        token_cors.add_headers(response)
    return response


@bp.route("/userinfo", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
def userinfo() -> Response:
    if request.method == "OPTIONS":
        return _preflight()
    claims = bearer.user_token_claims(_presented_token(), clock.now(), audience=None)
    scopes = str(claims.get("scope", "")).split()
    if OPENID not in scopes:
        raise InsufficientScopeError("access token without openid", scope=OPENID)
    profile = current_stores().users.profile(claims["sub"])
    if profile is None:  # deleted since the activity check
        raise InvalidTokenError("the token's user is gone")
    return Response(json.dumps(userinfo_claims(profile, scopes)), headers=JSON_HEADERS)
