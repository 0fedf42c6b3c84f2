"""CORS on ``/oauth/token`` and ``/oauth/revoke`` for single-page apps doing the code flow with PKCE.

Such an app is a public client; the browser at its redirect URI sends the redirect URI's origin
(:attr:`ClientInfo.cors_origins <authserver.store.clients.ClientInfo.cors_origins>`), so those origins, and
only those, get CORS here (as node-oidc-provider derives them with its ``clientBasedCORS``):

- Exact origin echo in ``Access-Control-Allow-Origin``, never ``*``; an unknown origin gets no CORS header
  at all (and its preflight a ``204`` without allow headers, as the JSON API answers one), so the browser
  keeps the answer from its script. ``Vary: Origin`` on every answer to a request with an ``Origin``.
- No ``Access-Control-Allow-Credentials``: these endpoints read no cookie, the client names itself in
  the body. The preflight allows ``POST`` and the ``Content-Type`` header only. A public client sends no
  ``Authorization`` (it has no secret); a script holding a confidential client's secret is the mistake
  RFC 9700 §2.1.1 warns of, and its preflight fails instead of working by accident.
- The origin must be the named client's own (``client_id`` in the body): an app at origin A calling as
  client B is refused (``invalid_client``) before the grant runs, so a code or refresh token is never used
  up for an answer its page could not read. Across clients CORS is no security boundary (no cookies here,
  and any non-browser caller can send any ``Origin``); it keeps each app to its own registration. At
  the token endpoint such a request may use the code flow's grants only (``unauthorized_client`` else).

A request without ``Origin`` (a server, a native app) pays one header lookup. With one, the origins come
from the client store's cache: one set lookup per request, the database read once per
``CLIENT_CACHE_SECONDS`` and process.
"""

from __future__ import annotations

from flask import Response
from flask import request

from authserver.errors import InvalidClientError
from authserver.errors import UnauthorizedClientError
from authserver.store import current_stores

PREFLIGHT_MAX_AGE = 600
#: What a page may ask the token endpoint for: the code flow's grants. A first-party app's password login
#: from a browser goes through the JSON API, which keeps the refresh token out of the script.
CODE_FLOW_GRANTS = frozenset({"authorization_code", "refresh_token"})
ALLOWED_HEADERS = "Content-Type"
#: Readable by the script beside the CORS-safelisted ones: the challenge of a 401.
EXPOSED_HEADERS = "WWW-Authenticate"


def allowed_origin() -> str | None:
    """The request's ``Origin`` if CORS is answered for it, else ``None``."""
    origin = request.headers.get("Origin")
    if origin is None or origin not in current_stores().clients.cors_origins():
        return None
    return origin


def check_origin_client(*, grant_type: str | None = None) -> None:
    """A request from an allowed origin must name a client whose origin it is, and at the token endpoint
    use a grant of the code flow; checked before any grant runs."""
    origin = allowed_origin()
    if origin is None:
        return
    client_id = request.form.get("client_id")
    client = current_stores().clients.get(client_id) if client_id else None
    if client is None or origin not in client.cors_origins or request.authorization is not None:
        raise InvalidClientError(f"origin {origin} is not a browser origin of client {str(client_id)[:100]!r}")
    if grant_type is not None and grant_type not in CODE_FLOW_GRANTS:
        raise UnauthorizedClientError(f"grant type {grant_type[:40]!r} from browser origin {origin}")


def add_headers(response: Response) -> Response:
    """The CORS headers of an answer (success or error) to a ``POST`` with an ``Origin``."""
    if "Origin" not in request.headers:
        return response
    response.vary.add("Origin")
    origin = allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def preflight() -> Response:
    """The answer to a CORS preflight (Fetch §4.8); allow headers for an allowed origin only."""
    response = Response(status=204)
    response.vary.add("Origin")
    origin = allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response
