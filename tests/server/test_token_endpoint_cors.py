"""CORS on ``/oauth/token`` and ``/oauth/revoke`` for single-page apps doing the code flow with PKCE: the
origins of public code-flow clients' redirect URIs get it, every other origin none."""

from __future__ import annotations

import pytest
from authorization_flow import App
from authorization_flow import Flow
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import cli_json

from authserver import web_origins
from authserver.oauth import redirect_uris

SPA = "https://spa.example"
DEV_SPA = "http://127.0.0.1:5173"
OTHER_SPA = "https://other-spa.example"
CONFIDENTIAL = "https://printer.example"
CODE = ("authorization_code", "refresh_token")


@pytest.fixture
def apps(make_user, make_client):
    """Two public SPAs, a confidential code-flow client, and a first-party SPA of the JSON API."""
    make_user()

    def code_client(client_id: str, *uris: str, public: bool = True) -> App:
        reg = make_client(client_id, grants=CODE, public=public, first_party=False, redirect_uris=uris)
        return App(reg.client_id, reg.secret, uris)

    return {
        "spa": code_client("spa", f"{SPA}/callback", f"{DEV_SPA}/callback", "com.example.spa:/callback"),
        "other": code_client("other", f"{OTHER_SPA}/cb"),
        "printer": code_client("printer", f"{CONFIDENTIAL}/cb", public=False),
        "json_api": make_client("json-api", public=True, origins=("https://json-api.example",)),
    }


def family(app, apps, client_id: str) -> str:
    """The refresh token of a new family of alice's with ``client_id``: sign-in, consent, redemption."""
    flow = Flow.start(app.test_client(), apps[client_id], scope="read", nonce=None)
    return assert_tokens(flow.redeem(flow.code()))["refresh_token"]


def refresh(client, token: str, origin: str | None, client_id: str = "spa", **extra: str):
    headers = {} if origin is None else {"Origin": origin}
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id, **extra}
    return client.post("/oauth/token", data=data, headers=headers)


def preflight(client, path: str, origin: str):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return client.options(path, headers=headers)


def assert_cors(resp, origin: str) -> None:
    assert resp.headers.get("Access-Control-Allow-Origin") == origin, dict(resp.headers)
    assert "Origin" in resp.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in resp.headers


def assert_no_cors(resp) -> None:
    assert not [h for h, _ in resp.headers.items() if h.lower().startswith("access-control-")], dict(resp.headers)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
@pytest.mark.parametrize("origin", [SPA, DEV_SPA])
def test_preflight_from_a_public_clients_redirect_origin_allows_post_and_content_type(client, apps, path, origin):
    resp = preflight(client, path, origin)
    assert resp.status_code == 204 and resp.data == b""
    assert_cors(resp, origin)
    assert resp.headers["Access-Control-Allow-Methods"] == "POST"
    assert resp.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert int(resp.headers["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        CONFIDENTIAL,  # a confidential client's redirect origin: its secret has no place in a browser
        "https://json-api.example",  # the JSON API's origins are for its cookie mode, not for this endpoint
        "http://127.0.0.1:5174",  # the loopback port is exact for an origin
        "http://spa.example",  # scheme and host and port, exactly
        "https://spa.example.evil.example",
        "null",
    ],
)
def test_preflight_from_any_other_origin_gets_no_cors_headers(client, apps, path, origin):
    resp = preflight(client, path, origin)
    assert resp.status_code == 204
    assert_no_cors(resp)
    assert "Origin" in resp.headers["Vary"]


def test_code_redemption_from_the_spa_origin_is_readable_by_the_spa(app, apps):
    browser = app.test_client()
    flow = Flow.start(browser, apps["spa"], scope="read", nonce=None)
    data = {
        "grant_type": "authorization_code",
        "code": flow.code(),
        "redirect_uri": flow.params["redirect_uri"],
        "code_verifier": flow.verifier,
        "client_id": "spa",
    }
    resp = browser.post("/oauth/token", data=data, headers={"Origin": SPA})
    assert_tokens(resp)
    assert_cors(resp, SPA)


def test_code_redemption_from_another_spas_origin_is_refused_and_leaves_the_code_usable(app, apps):
    browser = app.test_client()
    flow = Flow.start(browser, apps["spa"], scope="read", nonce=None)
    code = flow.code()
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": flow.verifier, "client_id": "spa"}
    data["redirect_uri"] = flow.params["redirect_uri"]
    assert_error(browser.post("/oauth/token", data=data, headers={"Origin": OTHER_SPA}), 401, "invalid_client")
    assert_tokens(browser.post("/oauth/token", data=data, headers={"Origin": SPA}))


def test_refresh_from_the_spa_origin_is_readable_by_the_spa(app, client, apps):
    resp = refresh(client, family(app, apps, "spa"), SPA)
    assert_tokens(resp)
    assert_cors(resp, SPA)
    assert resp.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"


def test_an_error_answer_to_the_spa_origin_is_readable_too(client, apps):
    resp = refresh(client, "not-a-refresh-token", SPA)
    assert_error(resp, 400, "invalid_grant")
    assert_cors(resp, SPA)


def test_revocation_from_the_spa_origin_is_readable_and_ends_the_family(app, client, apps):
    token = family(app, apps, "spa")
    resp = client.post("/oauth/revoke", data={"token": token, "client_id": "spa"}, headers={"Origin": DEV_SPA})
    assert resp.status_code == 200, resp.data
    assert_cors(resp, DEV_SPA)
    assert_error(refresh(client, token, SPA), 400, "invalid_grant")


def test_an_unknown_origin_gets_no_cors_headers_on_post(app, client, apps):
    resp = refresh(client, family(app, apps, "spa"), "https://evil.example")
    assert_tokens(resp)  # served as without CORS (no cookies here); the browser keeps it from the page
    assert_no_cors(resp)
    assert "Origin" in resp.headers["Vary"]


def test_a_request_without_origin_gets_no_cors_headers_at_all(app, client, apps):
    resp = refresh(client, family(app, apps, "spa"), None)
    assert_tokens(resp)
    assert_no_cors(resp)
    assert "Vary" not in resp.headers


def test_a_confidential_clients_request_from_its_redirect_origin_gets_no_cors(app, client, apps):
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": family(app, apps, "printer")},
        headers={"Origin": CONFIDENTIAL, **apps["printer"].basic},
    )
    assert_tokens(resp)
    assert_no_cors(resp)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_an_origin_calling_as_another_client_is_refused_before_the_grant_runs(app, client, apps, path):
    token = family(app, apps, "other")
    data = {"grant_type": "refresh_token", "token": token, "refresh_token": token, "client_id": "other"}
    resp = client.post(path, data=data, headers={"Origin": SPA})
    assert_error(resp, 401, "invalid_client")
    assert_cors(resp, SPA)  # the page may read why
    assert_tokens(refresh(client, token, OTHER_SPA, client_id="other"))  # the token was not used up


@pytest.mark.parametrize("named", [{}, {"client_id": "nobody"}, {"client_id": "printer"}])
def test_an_allowed_origin_must_name_its_own_public_client(app, client, apps, named):
    token = family(app, apps, "spa")
    data = {"grant_type": "refresh_token", "refresh_token": token, **named}
    assert_error(client.post("/oauth/token", data=data, headers={"Origin": SPA}), 401, "invalid_client")
    assert_tokens(refresh(client, token, SPA))


def test_a_browser_origin_may_not_use_the_password_grant_at_the_token_endpoint(client, make_client, apps):
    make_client(
        "both", grants=("password", *CODE), public=True, first_party=True, redirect_uris=("https://both.example/cb",)
    )
    data = {"grant_type": "password", "username": "alice", "password": "correct horse battery", "client_id": "both"}
    resp = client.post("/oauth/token", data=data, headers={"Origin": "https://both.example"})
    assert_error(resp, 400, "unauthorized_client")
    assert_cors(resp, "https://both.example")
    assert_tokens(client.post("/oauth/token", data=data))  # the same request from a server works


def test_adding_and_removing_a_redirect_uri_changes_cors_at_once(app, client, apps):
    origin = "https://new-spa.example"
    assert_no_cors(preflight(client, "/oauth/token", origin))
    cli_json(app, "clients", "add-redirect-uri", "spa", f"{origin}/callback")
    assert_cors(preflight(client, "/oauth/token", origin), origin)
    cli_json(app, "clients", "remove-redirect-uri", "spa", f"{origin}/callback")
    assert_no_cors(preflight(client, "/oauth/token", origin))


def test_a_deleted_client_loses_its_cors_at_once(app, client, apps):
    assert_cors(preflight(client, "/oauth/token", OTHER_SPA), OTHER_SPA)
    cli_json(app, "clients", "delete", "other", "--yes")
    assert_no_cors(preflight(client, "/oauth/token", OTHER_SPA))


def test_other_oauth_endpoints_get_no_cors(client, apps):
    resp = client.post("/oauth/introspect", data={"token": "x"}, headers={"Origin": SPA})
    assert_no_cors(resp)


@pytest.mark.parametrize(
    ("redirect_uri", "origin"),
    [
        ("https://Caps.Example:443/cb", "https://caps.example"),  # as browsers send it: lower case, no default port
        ("https://spa.example:8443/cb?x=1", "https://spa.example:8443"),
        ("http://[::1]:5173/cb", "http://[::1]:5173"),
    ],
)
def test_the_allowed_origin_is_the_one_a_browser_sends_from_the_redirect_uri(app, client, apps, redirect_uri, origin):
    cli_json(app, "clients", "add-redirect-uri", "other", redirect_uri)
    assert_cors(preflight(client, "/oauth/token", origin), origin)


def test_the_origins_loopback_hosts_are_the_redirect_uri_rules_ones():
    assert web_origins.LOOPBACK_HOSTS == redirect_uris.LOOPBACK_HOSTS
