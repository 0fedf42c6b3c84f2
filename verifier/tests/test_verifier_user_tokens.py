"""User routes need a user's token: a client_credentials token (sub = client_id, no sid) is refused 403.

The rule (authserver_verifier.claims.is_user_token), ``require_user`` in the core, the Flask, WSGI and
ASGI adapters. The example resource service is tested in the server's tests/server/test_example_resource_service.py,
the same against the real server, over HTTP, in tests/e2e/test_demo_end_to_end.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from werkzeug.test import Client

from authserver_verifier import InsufficientScopeError
from authserver_verifier import UserTokenRequiredError
from authserver_verifier import Verifier
from authserver_verifier import is_user_token
from authserver_verifier.asgi import BearerMiddleware as AsgiMiddleware
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.wsgi import BearerMiddleware as WsgiMiddleware

AUD = "https://api.test"
FORBIDDEN = (
    'Bearer realm="resource-service", error="insufficient_scope", '
    'error_description="the resource requires a token issued to a user"'
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


@pytest.fixture
def verifier(issuer: LocalIssuer) -> Verifier:
    return Verifier(issuer.url, AUD, realm="resource-service")


def client_token(issuer: LocalIssuer, **claims: object) -> str:
    """What the server's client_credentials grant issues: sub is the client_id, no sid."""
    return issuer.token(**{"sub": "app", "client_id": "app", "sid": None, **claims})


def user_token(issuer: LocalIssuer, **claims: object) -> str:
    """What the password and refresh grants issue: sub is the user's id, sid the login session."""
    return issuer.token(**{"sub": "0b7e1f3c-user", "client_id": "app", "sid": "family-1", **claims})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("claims", "user"),
    [
        ({"sub": "u-1", "client_id": "app", "sid": "f-1"}, True),
        ({"sub": "app", "client_id": "app"}, False),  # client_credentials
        ({"sub": "u-1", "client_id": "app"}, False),  # no session: not one of our user tokens
        ({"sub": "app", "client_id": "app", "sid": "f-1"}, False),  # sub is the client: never a user
        ({"sub": "u-1", "client_id": "app", "sid": ""}, False),
        ({"sub": "u-1", "client_id": "app", "sid": ["f-1"]}, False),
    ],
)
def test_a_user_token_has_a_session_and_a_subject_other_than_the_client(claims, user):
    assert is_user_token(claims) is user


def test_require_user_refuses_a_client_credentials_token_with_403_insufficient_scope(issuer, verifier):
    assert verifier.verify(client_token(issuer))["sub"] == "app"  # a valid token ...
    with pytest.raises(UserTokenRequiredError) as info:
        verifier.verify(client_token(issuer), require_user=True)  # ... but not a user's
    assert isinstance(info.value, InsufficientScopeError) and info.value.status == 403
    assert info.value.www_authenticate == FORBIDDEN
    assert verifier.verify(user_token(issuer), require_user=True)["sub"] == "0b7e1f3c-user"


def test_require_user_refuses_a_token_whose_sub_is_its_client_even_with_a_sid(issuer, verifier):
    with pytest.raises(UserTokenRequiredError):
        verifier.verify(client_token(issuer, sid="family-1"), require_user=True)


# ---------------------------------------------------------------- WSGI and ASGI


def test_wsgi_middleware_require_user(issuer, verifier):
    def inner(environ, start_response):
        start_response("200 OK", [])
        return [environ["authserver.token_claims"]["sub"].encode()]

    client = Client(WsgiMiddleware(inner, verifier, require_user=True))
    refused = client.get("/", headers=bearer(client_token(issuer)))
    assert refused.status_code == 403 and refused.headers["WWW-Authenticate"] == FORBIDDEN
    served = client.get("/", headers=bearer(user_token(issuer)))
    assert (served.status_code, served.data) == (200, b"0b7e1f3c-user")
    assert Client(WsgiMiddleware(inner, verifier)).get("/", headers=bearer(client_token(issuer))).status_code == 200


def test_asgi_middleware_require_user(issuer, verifier):
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"]["token_claims"]["sub"].encode()})

    def call(app, token: str) -> list[dict]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        headers = [(b"authorization", f"Bearer {token}".encode())]
        asyncio.run(app({"type": "http", "path": "/", "headers": headers}, None, send))
        return sent

    app = AsgiMiddleware(inner, verifier, require_user=True)
    refused = call(app, client_token(issuer))  # cold: verified in a worker thread
    assert refused[0]["status"] == 403
    assert dict(refused[0]["headers"])[b"www-authenticate"] == FORBIDDEN.encode()
    assert call(app, user_token(issuer))[1]["body"] == b"0b7e1f3c-user"  # warm: inline
    assert call(app, client_token(issuer))[0]["status"] == 403
