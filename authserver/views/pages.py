"""The authorization endpoint's HTML pages: login, consent and messages, server-rendered, no JavaScript.

Every page is ``no-store``, cannot be framed (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``), loads
nothing (``default-src 'none'``) but its one inline stylesheet, pinned by its hash, and sends no referrer
(its URL carries the authorization request). A form posts only to this server and, since a browser applies
``form-action`` to the redirects that follow a submission too, to the origin of the client's redirect URI
the answer redirects to.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response
from flask import render_template

from authserver.store.clients import ClientInfo

_CSS_PATH = Path(__file__).resolve().parent.parent / "templates" / "pages.css"
#: A CSP source expression we are sure of: scheme://host[:port], or a bare scheme for private-use schemes.
_SOURCE = re.compile(
    r"^(?:https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?|http://\[::1\](?::[0-9]{1,5})?|[a-z][a-z0-9+.\-]*:)$"
)

#: What each scope lets the client do, in words (an unknown scope is shown as it is).
SCOPE_WORDS = {
    "openid": "Know who you are: your account's identifier at this server",
    "profile": "See your name and username",
    "email": "See your email address and whether it is verified",
    "offline_access": "Keep access while you are not using it",
    "read": "Read your data",
    "write": "Change your data",
}
REFRESH_WORDS = "Stay signed in: it can renew its access without asking you again"


@functools.cache
def stylesheet() -> tuple[str, str]:
    """The pages' CSS and its CSP hash source (``'sha256-...'``)."""
    css = _CSS_PATH.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return css, f"'sha256-{digest}'"


def form_target(redirect_uri: str | None) -> str | None:
    """The CSP source of ``redirect_uri``'s origin, or ``None`` if it is not one we can state safely."""
    if redirect_uri is None:
        return None
    parts = urlsplit(redirect_uri)
    source = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else f"{parts.scheme}:"
    return source if _SOURCE.match(source) else None


def content_security_policy(redirect_uri: str | None) -> str:
    target = form_target(redirect_uri)
    form_action = "'self'" + (f" {target}" if target else "")
    return (
        f"default-src 'none'; style-src {stylesheet()[1]}; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def page(template: str, status: int = 200, *, redirect_uri: str | None = None, **context: object) -> Response:
    """A rendered page with the headers every page of ours carries."""
    body = render_template(template, css=stylesheet()[0], **context)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(redirect_uri)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def scope_lines(client: ClientInfo, scopes: Iterable[str]) -> list[str]:
    """The consent page's list: each scope in words, and what a refresh token means."""
    lines = [SCOPE_WORDS.get(scope, scope) for scope in scopes]
    if client.allows_grant("refresh_token") and "offline_access" not in scopes:
        lines.append(REFRESH_WORDS)
    return lines


def message(title: str, text: str, status: int) -> Response:
    """A page that only says something: an error that must not be redirected, an expired form, a throttle."""
    return page("message.html", status, title=title, text=text)
