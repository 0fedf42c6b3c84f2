"""The example resource service (examples/resource_service) against a stand-in issuer: any valid token
on its health check, a user's token with the right scope on its user routes.

Moved here from the verifier's own tests (test_verifier_adapters.py, test_verifier_user_tokens.py):
the example belongs to this repository, not to the verifier distribution. The same against the real
server, over HTTP, is in tests/e2e/test_demo_end_to_end.py.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator

import pytest
from conftest import ROOT

from authserver_verifier.testing import LocalIssuer

AUD = "https://api.test"
FORBIDDEN = (
    'Bearer realm="resource-service", error="insufficient_scope", '
    'error_description="the resource requires a token issued to a user"'
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


def client_token(issuer: LocalIssuer, **claims: object) -> str:
    """What the server's client_credentials grant issues: sub is the client_id, no sid."""
    return issuer.token(**{"sub": "app", "client_id": "app", "sid": None, **claims})


def user_token(issuer: LocalIssuer, **claims: object) -> str:
    """What the password and refresh grants issue: sub is the user's id, sid the login session."""
    return issuer.token(**{"sub": "0b7e1f3c-user", "client_id": "app", "sid": "family-1", **claims})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def create_resource_app(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # as gunicorn does, run from the repository root
    return importlib.import_module("examples.resource_service.app").create_app


@pytest.fixture
def resource(issuer: LocalIssuer, create_resource_app):
    return create_resource_app({"RESOURCE_ISSUER": issuer.url, "RESOURCE_AUDIENCE": AUD}).test_client()


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


@pytest.mark.parametrize("path", ["/user/data", "/user/admin"])
def test_example_service_refuses_a_client_credentials_token_on_user_routes(issuer, resource, path):
    reply = resource.get(path, headers=bearer(client_token(issuer, scope="read write admin")))
    assert reply.status_code == 403
    assert reply.headers["WWW-Authenticate"] == FORBIDDEN
    assert reply.get_json() == {
        "error": "insufficient_scope",
        "error_description": "the resource requires a token issued to a user",
    }


def test_example_service_serves_a_user_token(issuer, resource):
    reply = resource.get("/user/data", headers=bearer(user_token(issuer)))
    assert reply.status_code == 200
    assert reply.get_json()["sub"] == "0b7e1f3c-user"
    admin = resource.get("/user/admin", headers=bearer(user_token(issuer, scope="admin")))
    assert admin.status_code == 200 and admin.get_json() == {"sub": "0b7e1f3c-user", "admin": True}


# ---------------------------------------------------------------- CORS for browser apps (issue 14)

APP_ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture
def cors_resource(issuer: LocalIssuer, create_resource_app):
    env = {
        "RESOURCE_ISSUER": issuer.url,
        "RESOURCE_AUDIENCE": AUD,
        "RESOURCE_CORS_ORIGINS": f"{APP_ORIGIN} https://app.test",
    }
    return create_resource_app(env).test_client()


def test_preflight_from_a_configured_origin_allows_the_authorization_header(cors_resource):
    reply = cors_resource.options(
        "/user/data",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert reply.headers["Access-Control-Allow-Methods"] == "GET"
    assert reply.headers["Access-Control-Allow-Headers"] == "Authorization"
    assert int(reply.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in reply.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in reply.headers  # bearer header only, never cookies


def test_data_from_a_configured_origin_is_readable_with_its_www_authenticate(issuer, cors_resource):
    ok = cors_resource.get("/user/data", headers={"Origin": APP_ORIGIN, **bearer(user_token(issuer, scope="read"))})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert ok.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    assert "Origin" in ok.headers["Vary"]


def test_an_expired_token_from_a_browser_gets_401_invalid_token_it_can_read(issuer, cors_resource):
    expired = user_token(issuer, iat=int(time.time()) - 600, exp=int(time.time()) - 60)
    reply = cors_resource.get("/user/data", headers={"Origin": "https://app.test", **bearer(expired)})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="resource-service", error="invalid_token"')
    assert reply.headers["Access-Control-Allow-Origin"] == "https://app.test"
    assert reply.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"


@pytest.mark.parametrize("origin", ["http://127.0.0.1:5174", "https://evil.test", "null"])
def test_an_origin_not_configured_gets_no_cors_header(issuer, cors_resource, origin):
    preflight = cors_resource.options("/user/data", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    data = cors_resource.get("/user/data", headers={"Origin": origin, **bearer(user_token(issuer))})
    for reply in (preflight, data):
        assert not [name for name, _value in reply.headers.items() if name.lower().startswith("access-control-")]
        assert "Origin" in reply.headers["Vary"]


def test_without_configured_origins_no_page_may_call_the_service(issuer, resource):
    reply = resource.get("/user/data", headers={"Origin": APP_ORIGIN, **bearer(user_token(issuer))})
    assert reply.status_code == 200 and "Access-Control-Allow-Origin" not in reply.headers


def test_the_service_never_reads_a_cookie(issuer, cors_resource):
    cors_resource.set_cookie("access_token", user_token(issuer), domain="localhost")
    cors_resource.set_cookie("Authorization", "Bearer " + user_token(issuer), domain="localhost")
    reply = cors_resource.get("/user/data", headers={"Origin": APP_ORIGIN})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="resource-service"'


@pytest.mark.parametrize("origin", ["*", "http://127.0.0.1:5173/", "https://app.test/path", "app.test", "ftp://x.test"])
def test_a_cors_setting_that_is_not_an_origin_is_refused_at_start(issuer, create_resource_app, origin):
    with pytest.raises(RuntimeError, match="RESOURCE_CORS_ORIGINS"):
        create_resource_app({"RESOURCE_ISSUER": issuer.url, "RESOURCE_CORS_ORIGINS": origin})
