"""The browser app's own origin: its static files, its configuration and a strict Content Security Policy.

    BROWSER_APP_ISSUER=http://127.0.0.1:8000 BROWSER_APP_RESOURCE=http://127.0.0.1:8001 \\
        gunicorn -b 127.0.0.1:8002 "examples.browser_app.app:create_app()"

Configuration (environment):

* ``BROWSER_APP_ISSUER`` (required): the authorization server's origin (its JSON API: ``/login``,
  ``/auth/refresh``, ``/auth/logout``). It must be same-site with this app (the refresh cookie is
  ``SameSite=Strict``): ``127.0.0.1:8000`` beside ``127.0.0.1:8002`` in development,
  ``auth.example.com`` beside ``app.example.com`` in production.
* ``BROWSER_APP_RESOURCE`` (required): the example resource service's origin (``GET /user/data``).

The app itself is static: ``static/`` holds HTML and JavaScript modules, no build step. This server
only adds ``config.json`` (the two origins above) and the security headers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import abort
from flask import jsonify
from flask import send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
FILES = frozenset({"index.html", "main.js", "session.js", "style.css"})


def origin_from_env(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or value != f"{parts.scheme}://{parts.netloc}":
        raise RuntimeError(f"{name} is required: an origin, scheme://host[:port] (got {value!r})")
    return value


def content_security_policy(issuer: str, resource: str) -> str:
    """No inline script or style, no eval, no plugins, no framing; fetch() only to the two origins.

    With Trusted Types required, no string reaches an HTML sink: an injection cannot become script.
    """
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {issuer} {resource}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        )
    )


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    settings = os.environ if env is None else env
    issuer = origin_from_env(settings, "BROWSER_APP_ISSUER")
    resource = origin_from_env(settings, "BROWSER_APP_RESOURCE")
    policy = content_security_policy(issuer, resource)
    app = Flask(__name__, static_folder=None)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/config.json")
    def config() -> Any:
        return jsonify(issuer=issuer, resource=resource)

    @app.get("/")
    @app.get("/<name>")
    def static_file(name: str = "index.html") -> Any:
        if name not in FILES:
            abort(404)
        return send_from_directory(STATIC, name)

    return app
