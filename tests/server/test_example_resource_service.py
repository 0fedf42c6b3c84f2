"""The example resource service (examples/resource_service) against a stand-in issuer: any valid token
on its health check, a user's token with the right scope on its user routes.

Moved here from the verifier's own tests (test_verifier_adapters.py, test_verifier_user_tokens.py):
the example belongs to this repository, not to the verifier distribution. The same against the real
server, over HTTP, is in tests/e2e/test_demo_end_to_end.py.
"""

from __future__ import annotations

import importlib
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
