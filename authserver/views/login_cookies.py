"""The authorization endpoint's cookies: the login session's, and the CSRF token of its forms.

Both are ``HttpOnly``, ``SameSite=Lax`` (sent on the top-level navigation back from a client, never on a
cross-site POST), ``Path=/``, no ``Domain``, ``Secure`` and ``__Host-``-prefixed when the issuer is https
(RFC 6265bis §4.1.3.2: no other host or path can set or shadow them).

A form's CSRF token is HMAC-SHA-256 of the CSRF cookie under the server's pepper (a keyed double submit):
a site that cannot read the cookie cannot write the token, and one that could set the cookie (a sibling
host, were the prefix missing) still cannot compute the token. Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Response
from flask import g
from flask import request

from authserver.digests import new_token
from authserver.settings import current_settings

SESSION = "authserver_session"
CSRF = "authserver_csrf"


def _https() -> bool:
    return current_settings().issuer.startswith("https://")


def cookie_name(base: str) -> str:
    return f"__Host-{base}" if _https() else base


def _set(response: Response, base: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        cookie_name(base), value, max_age=max_age, path="/", secure=_https(), httponly=True, samesite="Lax"
    )


def session_token() -> str | None:
    return request.cookies.get(cookie_name(SESSION)) or None


def set_session_cookie(response: Response, token: str, max_age: int) -> None:
    _set(response, SESSION, token, max(0, max_age))


def clear_session_cookie(response: Response) -> None:
    _set(response, SESSION, "", 0)


def _csrf_cookie() -> str:
    """This browser's CSRF cookie value, a new one (set on the response by :func:`keep_csrf_cookie`) if none."""
    value = g.get("csrf_cookie")
    if value is None:
        value = request.cookies.get(cookie_name(CSRF)) or ""
        if len(value) < 32 or len(value) > 64:
            value = new_token()
            g.new_csrf_cookie = True
        g.csrf_cookie = value
    return value


def csrf_token() -> str:
    """The token a form of this browser carries."""
    pepper = current_settings().secret_pepper.encode()
    return hmac.new(pepper, b"csrf:" + _csrf_cookie().encode(), hashlib.sha256).hexdigest()


def csrf_ok() -> bool:
    """The POSTed form carries this browser's token (and the browser has its cookie)."""
    if not request.cookies.get(cookie_name(CSRF)):
        return False
    presented = request.form.get("csrf_token", "")
    return hmac.compare_digest(presented.encode(), csrf_token().encode())


def keep_csrf_cookie(response: Response) -> Response:
    """Set the CSRF cookie a page's token was made from, if the browser did not have it (a browser session)."""
    if g.get("new_csrf_cookie"):
        _set(response, CSRF, g.csrf_cookie, None)
    return response
