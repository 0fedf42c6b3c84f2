"""Adapters (Flask decorator, WSGI and ASGI middleware), the example resource service, and the
verifier's import hygiene: it stands alone, without Flask, SQLAlchemy or Authlib."""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import subprocess
import sys
import wsgiref.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask import g
from flask import jsonify

from authserver.verifier import Verifier
from authserver.verifier import require_token
from authserver.verifier import scopes_of
from authserver.verifier.asgi import BearerMiddleware as AsgiMiddleware
from authserver.verifier.flask import init_app
from authserver.verifier.testing import LocalIssuer
from authserver.verifier.wsgi import BearerMiddleware as WsgiMiddleware

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "authserver" / "verifier"
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
    assert reply.headers["WWW-Authenticate"] == ('Bearer realm="api", error="invalid_token", '
                                                 'error_description="the access token is invalid or expired"')
    assert reply.get_json() == {"error": "invalid_token", "error_description": "the access token is invalid or expired"}


def test_flask_insufficient_scope_is_403(flask_app, issuer):
    reply = flask_app.test_client().get("/admin", headers=bearer(issuer.token()))
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"].endswith('error="insufficient_scope", '
                                                      'error_description="the access token lacks a required scope", '
                                                      'scope="admin"')
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


# ---------------------------------------------------------------- the example resource service


@pytest.fixture
def create_resource_app(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # as gunicorn does, run from the repository root
    return importlib.import_module("examples.resource_service.app").create_app


def test_example_resource_service(issuer, create_resource_app):
    app = create_resource_app({"RESOURCE_ISSUER": issuer.url, "RESOURCE_AUDIENCE": AUD})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    data = client.get("/user/data", headers=bearer(issuer.token(sub="demo-id", scope="read write")))
    assert data.status_code == 200
    assert data.get_json() == {"sub": "demo-id", "scope": ["read", "write"], "client_id": "app"}
    admin = client.get("/user/admin", headers=bearer(issuer.token()))
    assert admin.status_code == 403 and 'error="insufficient_scope"' in admin.headers["WWW-Authenticate"]
    assert client.get("/user/data").status_code == 401
    with pytest.raises(RuntimeError, match="RESOURCE_ISSUER"):
        create_resource_app({})


# ---------------------------------------------------------------- import hygiene


def test_verifier_imports_nothing_else_from_authserver():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("authserver"):
                    assert name.startswith("authserver.verifier"), f"{path.name} imports {name}"
                top = name.split(".")[0]
                if top in ("sqlalchemy", "flask_sqlalchemy", "authlib", "requests"):
                    pytest.fail(f"{path.name} imports {name}")
                if top == "flask":
                    assert path.name == "flask.py", f"{path.name} imports flask"


def test_verifier_package_loads_without_flask_sqlalchemy_or_authlib():
    """Loaded on its own (the parent package stubbed), importing every module but the Flask adapter."""
    script = f"""
import sys, types
stub = types.ModuleType("authserver"); stub.__path__ = [{str(PACKAGE.parent)!r}]
sys.modules["authserver"] = stub
import authserver.verifier, authserver.verifier.wsgi, authserver.verifier.asgi, authserver.verifier.testing
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"flask", "sqlalchemy", "flask_sqlalchemy", "authlib"}})
others = sorted(m for m in sys.modules if m.startswith("authserver.") and not m.startswith("authserver.verifier"))
print(heavy, others)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"
