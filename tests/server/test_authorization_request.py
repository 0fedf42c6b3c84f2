"""The authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 9207) before anyone signs in: which errors are an
HTML page that redirects nowhere (unknown client, redirect URI not registered), which are redirected back with
``error``, ``error_description``, ``state`` and ``iss``, and which redirect URIs match."""

from __future__ import annotations

from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from authorization_flow import CALLBACK
from authorization_flow import ISSUER
from authorization_flow import Flow
from authorization_flow import redirect_params
from authorization_flow import register


@pytest.fixture
def third(app, make_user):
    make_user()
    return register(app, redirect_uris=(CALLBACK, "https://app.test/other"))


def assert_error_page(resp) -> None:
    """RFC 6749 §4.1.2.1: the user is told, the client is not (no Location, an HTML page)."""
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.mimetype == "text/html"
    assert "This sign-in link is not valid" in resp.get_data(as_text=True)


def assert_error_redirect(resp, flow: Flow, error: str, target: str = CALLBACK) -> dict[str, str]:
    params = redirect_params(resp)
    assert resp.headers["Location"].startswith(target + "?")
    assert params["error"] == error
    assert params["error_description"]
    assert params["iss"] == ISSUER
    assert params["state"] == flow.params["state"]
    assert "code" not in params
    return params


def is_login_page(resp) -> bool:
    return resp.status_code == 200 and '<label for="password">Password</label>' in resp.get_data(as_text=True)


# ---------------------------------------------------------------- errors shown, never redirected


def test_unknown_client_is_an_error_page_not_a_redirect(client, third):
    assert_error_page(Flow.start(client, third, client_id="nobody").authorize())


def test_missing_client_id_is_an_error_page(client, third):
    assert_error_page(Flow.start(client, third, client_id=None).authorize())


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.test/callback",
        "https://app.test/callback/",  # no prefix matching
        "https://app.test/callback?x=1",
        "https://app.test/call",
        "https://APP.test/callback",
        "http://app.test/callback",
        "https://app.test:443/callback",  # only loopback http URIs may vary the port
    ],
)
def test_unregistered_redirect_uri_is_an_error_page(client, third, redirect_uri):
    assert_error_page(Flow.start(client, third, redirect_uri=redirect_uri).authorize())


def test_omitted_redirect_uri_with_two_registered_is_an_error_page(client, third):
    assert_error_page(Flow.start(client, third, redirect_uri=None).authorize())


def test_repeated_client_id_or_redirect_uri_is_an_error_page(client, third):
    flow = Flow.start(client, third)
    for name in ("client_id", "redirect_uri"):
        query = urlencode([*flow.params.items(), (name, flow.params[name])])
        assert_error_page(client.get("/oauth/authorize?" + query))


def test_error_page_has_the_pages_headers(client, third):
    resp = Flow.start(client, third, client_id="nobody").authorize()
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- redirect URI matching


def test_omitted_redirect_uri_with_one_registered_uses_it(app, client, make_user):
    make_user()
    only = register(app, "only")
    flow = Flow.start(client, only, redirect_uri=None)
    assert is_login_page(flow.authorize())
    code = flow.code()
    assert code
    # Omitted at /authorize, so not required at /token (RFC 6749 §4.1.3).
    assert flow.redeem(code, redirect_uri=None).status_code == 200


def test_loopback_redirect_uri_may_vary_the_port_only(app, client, make_user):
    make_user()
    native = register(app, "native", redirect_uris=("http://127.0.0.1/callback",), public=True)
    flow = Flow.start(client, native, redirect_uri="http://127.0.0.1:51004/callback")
    resp = flow.authorize()
    assert is_login_page(resp)
    resp = flow.sign_in(resp)
    resp = flow.decide(resp)
    assert resp.headers["Location"].startswith("http://127.0.0.1:51004/callback?code=")
    for other in ("http://127.0.0.1:51004/other", "http://localhost:51004/callback", "http://[::1]:51004/callback"):
        assert_error_page(Flow.start(client, native, redirect_uri=other).authorize())


def test_a_registered_query_is_kept_and_the_answer_added(app, client, make_user):
    make_user()
    with_query = register(app, "q", redirect_uris=("https://app.test/cb?tenant=7",))
    flow = Flow.start(client, with_query, response_type="token")
    resp = flow.authorize()
    params = redirect_params(resp)
    assert urlsplit(resp.headers["Location"]).path == "/cb"
    assert params["tenant"] == "7" and params["error"] == "unsupported_response_type"


# ---------------------------------------------------------------- errors redirected


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE missing
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),  # means plain (RFC 7636 §4.3)
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": "openid\x7fx"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request": "eyJ..."}, "invalid_request"),
        ({"nonce": "n" * 513}, "invalid_request"),
    ],
)
def test_bad_request_is_redirected_with_error_state_and_iss(client, third, changes, error):
    flow = Flow.start(client, third, **changes)
    assert_error_redirect(flow.authorize(), flow, error)


def test_pkce_is_required_for_confidential_clients_too(client, third):
    assert third.secret is not None
    flow = Flow.start(client, third, code_challenge=None, code_challenge_method=None)
    assert_error_redirect(flow.authorize(), flow, "invalid_request")


def test_repeated_parameter_is_invalid_request(client, third):
    flow = Flow.start(client, third)
    for name in ("scope", "state", "code_challenge", "response_type", "nonce"):
        query = urlencode([*flow.params.items(), (name, flow.params[name])])
        params = redirect_params(client.get("/oauth/authorize?" + query))
        assert params["error"] == "invalid_request" and params["iss"] == ISSUER, name


def test_client_without_the_grant_is_unauthorized_client(app, client, make_user):
    make_user()
    other = register(app, "pw", grants=("client_credentials",))
    flow = Flow.start(client, other)
    assert_error_redirect(flow.authorize(), flow, "unauthorized_client")


def test_error_redirect_goes_to_the_redirect_uri_sent(client, third):
    flow = Flow.start(client, third, redirect_uri="https://app.test/other", response_type="token")
    assert_error_redirect(flow.authorize(), flow, "unsupported_response_type", "https://app.test/other")


def test_error_redirect_without_state_carries_none(client, third):
    flow = Flow.start(client, third, state=None, scope="admin")
    params = redirect_params(flow.authorize())
    assert params["error"] == "invalid_scope" and "state" not in params and params["iss"] == ISSUER


def test_a_post_authorization_request_is_answered_like_a_get(client, third):
    flow = Flow.start(client, third, scope="admin")
    resp = flow.authorize("POST")
    assert resp.status_code == 303
    assert_error_redirect(resp, flow, "invalid_scope")
    assert is_login_page(Flow.start(client, third).authorize("POST"))


def test_post_parameters_come_from_the_body_only(client, third):
    flow = Flow.start(client, third)
    resp = client.post("/oauth/authorize?" + urlencode(flow.params), data={})
    assert_error_page(resp)


def test_valid_request_without_a_session_shows_the_login_page(client, third):
    assert is_login_page(Flow.start(client, third).authorize())


def test_prompt_none_without_a_session_is_login_required(client, third):
    flow = Flow.start(client, third, prompt="none")
    assert_error_redirect(flow.authorize(), flow, "login_required")
