"""The JSON API from a browser (a registered Origin): the refresh token only in an HttpOnly cookie,
CSRF refusals that change nothing, CORS for registered origins only."""

from __future__ import annotations

import pytest
from json_api_calls import COOKIE
from json_api_calls import ORIGIN
from json_api_calls import JsonApi
from json_api_calls import cookie_value
from json_api_calls import set_cookie
from token_asserts import claims

MAX_LIFETIME = 3600
BROWSER_HEADERS = {"Origin": ORIGIN, "X-CSRF": "1", "Content-Type": "application/json"}


@pytest.fixture
def config_overrides():
    return {"REFRESH_TOKEN_TTL": 1800, "REFRESH_TOKEN_MAX_LIFETIME": MAX_LIFETIME}


@pytest.fixture
def api(app):
    return JsonApi(app.test_client(use_cookies=False))


@pytest.fixture
def spa(make_client, make_user):
    make_user()
    return make_client("spa", public=True, origins=(ORIGIN,))


def logged_in(api) -> str:
    resp = api.browser("/login", body={"username": "alice", "password": "correct horse battery"})
    assert resp.status_code == 200, resp.data
    return cookie_value(resp)


def refresh_token_rows(app):
    from sqlalchemy import select

    from authserver.extensions import db
    from authserver.models import RefreshToken

    with app.app_context():
        return [(r.used_at, r.revoked_at) for r in db.session.execute(select(RefreshToken)).scalars()]


def test_login_sets_the_refresh_cookie_and_keeps_it_out_of_the_body(spa, api, clock):
    resp = api.browser("/login", body={"username": "alice", "password": "correct horse battery"})
    assert resp.status_code == 200, resp.data
    assert set(resp.json) == {"accessToken", "tokenType", "expiresIn", "scope"}
    assert resp.headers["Cache-Control"] == "no-store"
    header = resp.headers["Set-Cookie"]
    morsel = set_cookie(resp)[COOKIE]
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"] == "Strict" and morsel["path"] == "/" and not morsel["domain"]
    assert int(morsel["max-age"]) == 1800  # the idle lifetime, the smaller here
    assert header.startswith(f"{COOKIE}=") and "Domain" not in header
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in resp.headers["Vary"]


def test_refresh_takes_the_cookie_and_rotates_it_with_max_age_shrinking(spa, api, clock):
    cookie = logged_in(api)
    clock.advance(1500)
    resp = api.browser("/auth/refresh", cookie)
    assert resp.status_code == 200, resp.data
    assert "refreshToken" not in resp.json
    successor = cookie_value(resp)
    assert successor != cookie
    assert int(set_cookie(resp)[COOKIE]["max-age"]) == 1800  # the idle lifetime slides
    clock.advance(1500)  # the family's absolute end is now closer than the idle lifetime
    resp = api.browser("/auth/refresh", successor)
    assert resp.status_code == 200, resp.data
    assert int(set_cookie(resp)[COOKIE]["max-age"]) == MAX_LIFETIME - 3000  # never past the absolute end
    assert claims(resp.json["accessToken"])["client_id"] == "spa"


@pytest.mark.parametrize("presented", ["never-issued", "expired"])
def test_a_bad_refresh_cookie_is_401_and_clears_the_cookie(spa, api, clock, presented):
    cookie = logged_in(api)
    if presented == "expired":
        clock.advance(1801)
        presented = cookie
    resp = api.browser("/auth/refresh", presented)
    assert resp.status_code == 401 and resp.json["error"] == "invalid_grant"
    morsel = set_cookie(resp)[COOKIE]
    assert morsel.value == "" and int(morsel["max-age"]) == 0


def test_reuse_outside_the_grace_window_revokes_the_family_and_clears_the_cookie(spa, api, clock, app):
    cookie = logged_in(api)
    successor = cookie_value(api.browser("/auth/refresh", cookie))
    clock.advance(11)  # browser clients default to a 10 s window
    resp = api.browser("/auth/refresh", cookie)
    assert resp.status_code == 401 and resp.json["error"] == "invalid_grant"
    assert set_cookie(resp)[COOKIE].value == ""
    assert api.browser("/auth/refresh", successor).status_code == 401
    assert all(revoked is not None for _used, revoked in refresh_token_rows(app))


def test_within_the_grace_window_tabs_get_the_same_successor(spa, api, clock):
    cookie = logged_in(api)
    first = api.browser("/auth/refresh", cookie)
    clock.advance(10)
    second = api.browser("/auth/refresh", cookie)
    assert second.status_code == 200, second.data
    assert cookie_value(second) == cookie_value(first)
    assert api.browser("/auth/refresh", cookie_value(second)).status_code == 200


def test_logout_ends_the_family_and_clears_the_cookie(spa, api):
    cookie = logged_in(api)
    resp = api.browser("/auth/logout", cookie)
    assert resp.status_code == 204
    assert set_cookie(resp)[COOKIE].value == ""
    assert api.browser("/auth/refresh", cookie).status_code == 401
    assert api.browser("/auth/logout", None).status_code == 204
    assert api.browser("/auth/logout", "unknown").status_code == 204


def test_login_with_a_valid_cookie_ends_that_family_first(spa, api):
    old = logged_in(api)
    resp = api.browser("/login", old, {"username": "alice", "password": "correct horse battery"})
    assert resp.status_code == 200
    assert api.browser("/auth/refresh", old).status_code == 401
    assert api.browser("/auth/refresh", cookie_value(resp)).status_code == 200


def test_a_refresh_token_in_the_body_is_refused_in_cookie_mode(spa, api):
    cookie = logged_in(api)
    resp = api.browser("/auth/refresh", None, {"refreshToken": cookie})
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


FORGED = [
    pytest.param({"Origin": "https://evil.test"}, {}, id="unregistered origin"),
    pytest.param({"Origin": "null"}, {}, id="opaque origin"),
    pytest.param({"X-CSRF": ""}, {}, id="no X-CSRF"),
    pytest.param({"X-CSRF": "0"}, {}, id="X-CSRF not 1"),
    pytest.param({"Content-Type": "text/plain"}, {}, id="text/plain"),
    pytest.param({"Content-Type": "text/plain; application/json"}, {}, id="text/plain; application/json"),
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, {}, id="form post"),
    pytest.param({"Origin": None}, {}, id="cookie without Origin"),
]


@pytest.mark.parametrize("headers,_", FORGED)
@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout", "/login"])
def test_forged_requests_get_403_and_change_nothing(spa, api, app, headers, _, path):
    cookie = logged_in(api)
    before = refresh_token_rows(app)
    sent = {"Origin": ORIGIN, "X-CSRF": "1", "Content-Type": "application/json", "Cookie": f"{COOKIE}={cookie}"}
    sent.update(headers)
    sent = {k: v for k, v in sent.items() if v is not None}
    body = '{"username": "alice", "password": "correct horse battery"}' if path == "/login" else "{}"
    resp = api.client.post(path, data=body, headers=sent)
    assert resp.status_code == 403, resp.data
    assert resp.json["error"] == "access_denied"
    assert "Set-Cookie" not in resp.headers
    assert refresh_token_rows(app) == before
    assert api.browser("/auth/refresh", cookie).status_code == 200  # the session survived


def test_preflight_answers_registered_origins_only(spa, api):
    for path in ("/login", "/auth/refresh", "/auth/logout"):
        ok = api.client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert ok.status_code == 204
        assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert ok.headers["Access-Control-Allow-Credentials"] == "true"
        assert ok.headers["Access-Control-Allow-Methods"] == "POST"
        assert ok.headers["Access-Control-Allow-Headers"] == "Content-Type, X-CSRF"
        assert int(ok.headers["Access-Control-Max-Age"]) > 0
        assert "Origin" in ok.headers["Vary"]
        evil = api.client.options(
            path, headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}
        )
        assert not [name for name, _value in evil.headers if name.lower().startswith("access-control-")]
        assert "Origin" in evil.headers["Vary"]


def test_other_routes_ignore_the_cookie_and_send_no_cors(spa, api, make_client, oauth):
    cookie = logged_in(api)
    resp = api.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": "spa"},
        headers={"Cookie": f"{COOKIE}={cookie}", "Origin": ORIGIN},
    )
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"  # no refresh_token: not read
    assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("config_overrides", [{"COOKIE_SAME_SITE": "Lax", "COOKIE_PATH": "/auth"}])
def test_same_site_lax_and_a_path_prefix_are_settings(spa, api):
    resp = api.browser("/login", body={"username": "alice", "password": "correct horse battery"})
    header = resp.headers["Set-Cookie"]
    assert header.startswith("__Secure-refresh_token=")  # __Host- requires Path=/
    assert "SameSite=Lax" in header and "Path=/auth" in header


@pytest.mark.parametrize("config_overrides", [{"ISSUER": "http://127.0.0.1:8000"}])
def test_an_http_issuer_sets_neither_secure_nor_the_host_prefix(spa, api):
    header = api.browser("/login", body={"username": "alice", "password": "correct horse battery"}).headers[
        "Set-Cookie"
    ]
    assert header.startswith("refresh_token=") and "Secure" not in header and "HttpOnly" in header


def test_refresh_without_the_cookie_is_invalid_grant(spa, api):
    """A page reload after logout: the app must read "logged out", not a malformed request to retry."""
    resp = api.browser("/auth/refresh", None)
    assert resp.status_code == 401 and resp.json["error"] == "invalid_grant"


def test_errors_in_cookie_mode_carry_cors_so_the_app_can_read_them(spa, api):
    resp = api.browser("/login", body={"username": "a" * 20000, "password": "x"})
    assert resp.status_code == 413
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    resp = api.browser("/login", body={"username": "alice", "password": "wrong"})
    assert resp.status_code == 401 and resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "WWW-Authenticate" not in resp.headers  # no Basic dialog in a browser


@pytest.mark.parametrize("origin", ["https://app.test\x00", "https://" + "a" * 400 + ".test"])
def test_strange_origins_are_refused_not_5xx(spa, api, origin):
    resp = api.client.post("/auth/refresh", data="{}", headers={**BROWSER_HEADERS, "Origin": origin})
    assert resp.status_code == 403 and resp.json["error"] == "access_denied"


def test_purge_keeps_a_browser_clients_sealed_successor_within_its_window(spa, api, app, clock):
    """The server's window is 0 here; the browser client's is 10 s: purge must not cut the tabs' replay short."""
    from lifecycle_helpers import cli_json

    cookie = logged_in(api)
    successor = cookie_value(api.browser("/auth/refresh", cookie))
    clock.advance(5)
    cli_json(app, "tokens", "purge")
    again = api.browser("/auth/refresh", cookie)
    assert again.status_code == 200 and cookie_value(again) == successor
