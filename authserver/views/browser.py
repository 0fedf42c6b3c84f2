"""What the JSON API does for browsers: the refresh cookie, the CSRF checks, CORS.

A request with an ``Origin`` header is a browser's (the Fetch standard sends it on every cross-origin
request and on every POST). The refresh token then travels only in an HttpOnly cookie
(the browser-apps draft's token-mediating backend; RFC 9700 §4.14), and the request must prove it
comes from the app's own script: a JSON content type and an ``X-CSRF`` header (neither can be sent
cross-site without a CORS preflight, which only registered origins pass) from a registered origin.
"""

from __future__ import annotations

from flask import Response
from flask import request

from authserver.errors import AccessDeniedError
from authserver.http import JSON
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import ClientInfo

CSRF_HEADER = "X-CSRF"
PREFLIGHT_MAX_AGE = 600
MAX_ORIGIN_CHARS = 300
_NAME = "refresh_token"


def cookie_name() -> str:
    """``__Host-`` (https, ``Path=/``, RFC 6265bis §4.1.3.2) or ``__Secure-`` (https under a prefix)."""
    settings = current_settings()
    if not settings.issuer.startswith("https://"):
        return _NAME
    return ("__Host-" if settings.cookie_path == "/" else "__Secure-") + _NAME


def presented_cookie() -> str | None:
    return request.cookies.get(cookie_name()) or None


def browser_origin() -> str | None:
    return request.headers.get("Origin")


def origin_client() -> ClientInfo | None:
    """The client that registered the request's exact ``Origin``, if any."""
    origin = browser_origin()
    if origin is None or len(origin) > MAX_ORIGIN_CHARS or not origin.isprintable():
        return None  # never registered (the store takes at most 300 characters, PostgreSQL no NUL)
    return current_stores().clients.for_origin(origin)


def browser_client() -> ClientInfo:
    """The client of a browser request, after the CSRF checks; ``403`` (nothing read, nothing changed) else."""
    client = origin_client()
    if client is None:
        raise AccessDeniedError(f"origin {str(browser_origin())[:100]!r} is registered by no client")
    if request.mimetype != JSON:
        raise AccessDeniedError(f"browser request with content type {request.mimetype!r}")
    if request.headers.get(CSRF_HEADER) != "1":
        raise AccessDeniedError(f"browser request without {CSRF_HEADER}: 1")
    return client


def refuse_cookie_without_origin() -> None:
    """The refresh cookie sent without ``Origin``: not our app's script (a form post, a navigation)."""
    if presented_cookie() is not None:
        raise AccessDeniedError("refresh cookie without an Origin header")


def set_refresh_cookie(response: Response, token: str, max_age: int) -> None:
    settings = current_settings()
    response.set_cookie(
        cookie_name(),
        token,
        max_age=max(0, max_age),
        path=settings.cookie_path,
        secure=settings.issuer.startswith("https://"),
        httponly=True,
        samesite=settings.cookie_same_site,
    )


def clear_refresh_cookie(response: Response) -> None:
    set_refresh_cookie(response, "", 0)


def add_cors_headers(response: Response) -> Response:
    """Credentialed CORS for registered origins only: never ``*``, never an unknown origin reflected."""
    response.vary.add("Origin")
    if origin_client() is not None:
        response.headers["Access-Control-Allow-Origin"] = str(browser_origin())
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


def preflight() -> Response:
    """The answer to a CORS preflight (Fetch §4.8); its origin headers come from :func:`add_cors_headers`."""
    response = Response(status=204)
    if origin_client() is not None:
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = f"Content-Type, {CSRF_HEADER}"
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response
