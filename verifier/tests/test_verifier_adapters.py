"""Adapters: the Flask decorator, WSGI and ASGI middleware. The example resource service is tested in
the server's tests/server/test_example_resource_service.py; import hygiene in test_verifier_imports.py."""

from __future__ import annotations

import asyncio
import json
import wsgiref.util
from collections.abc import Iterator

import pytest
from flask import Flask
from flask import g
from flask import jsonify

from authserver_verifier import Verifier
from authserver_verifier import require_token
from authserver_verifier import scopes_of
from authserver_verifier.asgi import BearerMiddleware as AsgiMiddleware
from authserver_verifier.flask import init_app
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.wsgi import BearerMiddleware as WsgiMiddleware

AUD = "https://api.test"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


@pytest.fixture
def verifier(issuer: LocalIssuer) -> Verifier:
    return Verifier(issuer.url, AUD, realm="api")


@pytest.fixture
def flask_app(verifier: Verifier) -> Flask:
    app = Flask(__name__)
    init_app(app, verifier)

    @app.get("/me")
    @require_token
    def me():
        return jsonify(sub=g.token_claims["sub"], scope=scopes_of(g.token_claims))

    @app.get("/write")
    @require_token(scope="read write")
    def write():
        return jsonify(ok=True)

    @app.get("/admin")
    @require_token(["admin"], verifier=verifier)
    def admin():
        return jsonify(ok=True)

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- Flask


def test_flask_valid_token_exposes_claims(flask_app, issuer):
    reply = flask_app.test_client().get("/me", headers=bearer(issuer.token(sub="u-7", scope="read")))
    assert reply.status_code == 200
    assert reply.get_json() == {"sub": "u-7", "scope": ["read"]}
    assert flask_app.test_client().get("/write", headers=bearer(issuer.token())).status_code == 200


def test_flask_missing_token_is_401_with_a_bare_challenge(flask_app):
    reply = flask_app.test_client().get("/me")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="api"'  # RFC 6750 §3.1: no error code
    assert reply.headers["Cache-Control"] == "no-store"
    other_scheme = flask_app.test_client().get("/me", headers={"Authorization": "Basic YTpi"})
    assert other_scheme.status_code == 401 and "error=" not in other_scheme.headers["WWW-Authenticate"]


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b"])
def test_flask_malformed_bearer_header_is_400(flask_app, value):
    reply = flask_app.test_client().get("/me", headers={"Authorization": value})
    assert reply.status_code == 400
    assert 'error="invalid_request"' in reply.headers["WWW-Authenticate"]


def test_flask_invalid_token_is_401_invalid_token(flask_app, issuer):
    reply = flask_app.test_client().get("/me", headers=bearer(issuer.token(aud="https://elsewhere.test")))
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="the access token is invalid or expired"'
    )
    assert reply.get_json() == {"error": "invalid_token", "error_description": "the access token is invalid or expired"}


def test_flask_insufficient_scope_is_403(flask_app, issuer):
    reply = flask_app.test_client().get("/admin", headers=bearer(issuer.token()))
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"].endswith(
        'error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"'
    )
    assert reply.get_json()["error"] == "insufficient_scope"


def test_flask_unavailable_keys_are_503_with_retry_after():
    app = Flask(__name__)
    unreachable = Verifier("http://127.0.0.1:9", AUD)

    @app.get("/x")
    @require_token(verifier=unreachable)
    def x():
        return "never"

    reply = app.test_client().get("/x", headers=bearer("a.b.c"))
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert reply.headers["WWW-Authenticate"] == "Bearer"


def test_flask_without_a_verifier_says_how_to_configure_one():
    app = Flask(__name__)
    app.testing = True

    @app.get("/x")
    @require_token
    def x():
        return "never"

    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/x", headers=bearer("a.b.c"))


# ---------------------------------------------------------------- WSGI and ASGI


def call_wsgi(app, authorization: str | None = None, path: str = "/"):
    environ: dict = {"PATH_INFO": path}
    wsgiref.util.setup_testing_defaults(environ)
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    captured: dict = {}

    def start_response(status, headers, exc_info=None):
        captured.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def inner_wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(environ["authserver.token_claims"]["sub"]).encode()]


def test_wsgi_middleware(verifier, issuer):
    app = WsgiMiddleware(inner_wsgi, verifier, required_scopes=["read"])
    assert call_wsgi(app, f"Bearer {issuer.token(sub='w-1')}")[::2] == ("200 OK", b'"w-1"')
    status, headers, body = call_wsgi(app)
    assert (status, headers["WWW-Authenticate"]) == ("401 Unauthorized", 'Bearer realm="api"')
    status, headers, body = call_wsgi(app, f"Bearer {issuer.token(scope='write')}")
    assert status == "403 Forbidden" and 'scope="read"' in headers["WWW-Authenticate"]
    assert json.loads(body)["error"] == "insufficient_scope"
    status, headers, _ = call_wsgi(app, "Bearer not-a-jwt")
    assert status == "401 Unauthorized" and 'error="invalid_token"' in headers["WWW-Authenticate"]
    exempt = WsgiMiddleware(lambda e, s: s("204 No Content", []) or [b""], verifier)
    assert call_wsgi(exempt, path="/healthz")[0] == "204 No Content"


def call_asgi(app, authorization: str | None = None):
    sent: list[dict] = []
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    scope = {"type": "http", "path": "/", "headers": headers}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, scope


def test_asgi_middleware(verifier, issuer):
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"]["token_claims"]["sub"].encode()})

    app = AsgiMiddleware(inner, verifier, required_scopes=["read"])
    sent, scope = call_asgi(app, f"Bearer {issuer.token(sub='a-1')}")  # cold: verified in a worker thread
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"a-1")
    assert scope["state"]["token_claims"]["scope"] == "read write"
    sent, _ = call_asgi(app, f"Bearer {issuer.token(sub='a-2')}")  # warm: inline
    assert sent[1]["body"] == b"a-2"
    sent, _ = call_asgi(app)
    assert sent[0]["status"] == 401 and (b"www-authenticate", b'Bearer realm="api"') in sent[0]["headers"]
