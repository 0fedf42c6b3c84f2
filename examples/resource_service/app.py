"""Example resource service: a separate Flask app that trusts access tokens from our authserver.

    RESOURCE_ISSUER=http://127.0.0.1:8000 gunicorn -b 127.0.0.1:8001 "examples.resource_service.app:create_app()"

Configuration (environment):

* ``RESOURCE_ISSUER`` (required): the authorization server's issuer URL; keys are discovered from its
  RFC 8414 metadata.
* ``RESOURCE_AUDIENCE``: the ``aud`` this service accepts (default: the issuer, the server's
  default audience).
* ``RESOURCE_JWKS_URI``: fetch the keys from here instead (e.g. an internal URL in docker-compose).
* ``RESOURCE_LEEWAY``: clock-skew allowance in seconds (default 10).
* ``RESOURCE_INTROSPECTION_CLIENT_ID`` / ``RESOURCE_INTROSPECTION_CLIENT_SECRET``: online mode; ask
  the issuer (RFC 7662) whether each token is still active, e.g. to honour log-outs before ``exp``.
* ``RESOURCE_CORS_ORIGINS``: browser origins (exact ``scheme://host:port``, space- or comma-separated)
  whose pages may call the ``/user/*`` routes (e.g. examples/browser_app).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import g
from flask import jsonify
from flask import request

from authserver_verifier import Introspection
from authserver_verifier import Verifier
from authserver_verifier import scopes_of
from authserver_verifier.flask import init_app
from authserver_verifier.flask import require_token


def verifier_from_env(env: Mapping[str, str]) -> Verifier:
    issuer = env.get("RESOURCE_ISSUER")
    if not issuer:
        raise RuntimeError("RESOURCE_ISSUER is required (the authorization server's issuer URL)")
    introspection = None
    if env.get("RESOURCE_INTROSPECTION_CLIENT_ID"):
        introspection = Introspection(
            env["RESOURCE_INTROSPECTION_CLIENT_ID"], env.get("RESOURCE_INTROSPECTION_CLIENT_SECRET", "")
        )
    return Verifier(
        issuer,
        env.get("RESOURCE_AUDIENCE") or issuer,
        jwks_uri=env.get("RESOURCE_JWKS_URI") or None,
        leeway=float(env.get("RESOURCE_LEEWAY", "10")),
        introspection=introspection,
        realm="resource-service",
    )


def cors_origins_from_env(env: Mapping[str, str]) -> frozenset[str]:
    """``RESOURCE_CORS_ORIGINS``, each an exact origin (no wildcard, no path): refused at start-up otherwise."""
    origins = frozenset(env.get("RESOURCE_CORS_ORIGINS", "").replace(",", " ").split())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or origin != f"{parts.scheme}://{parts.netloc}":
            raise RuntimeError(f"RESOURCE_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port])")
    return origins


def allow_cors(origins: frozenset[str], response: Response) -> Response:
    """CORS without credentials: a browser page of a configured origin may send ``Authorization`` and read
    the answer, ``WWW-Authenticate`` included (RFC 6750 section 3: it says whether to refresh).

    Cookies are never read here, so ``Access-Control-Allow-Credentials`` is never sent: a page cannot make
    this service act on a cookie the browser attaches by itself. An origin not configured gets no CORS
    header at all (never ``*``, never a reflection).
    """
    if request.path.startswith("/user/"):
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET"
                response.headers["Access-Control-Allow-Headers"] = "Authorization"
                response.headers["Access-Control-Max-Age"] = "600"
    return response


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    app = Flask(__name__)
    settings = os.environ if env is None else env
    init_app(app, verifier_from_env(settings))
    origins = cors_origins_from_env(settings)
    app.after_request(lambda response: allow_cors(origins, response))

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    # User routes serve a user's data: a client's own (client_credentials) token is refused, 403.
    @app.get("/user/data")
    @require_token(require_user=True)
    def user_data() -> Any:
        claims = g.token_claims
        return jsonify(sub=claims["sub"], scope=scopes_of(claims), client_id=claims["client_id"])

    @app.get("/user/admin")
    @require_token(scope="admin", require_user=True)
    def user_admin() -> Any:
        return jsonify(sub=g.token_claims["sub"], admin=True)

    return app
