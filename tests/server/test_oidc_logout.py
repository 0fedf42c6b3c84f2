"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at /oauth/logout, after a real sign-in through
the authorization endpoint: redirects only to a registered post-logout URI with ``state``, an error page and no
redirect otherwise, the login session and its families ended, the session cookie cleared, and a confirmation
asked before a sign-out the request cannot show the RP meant (forced logout)."""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from authorization_flow import CALLBACK
from authorization_flow import PASSWORD
from authorization_flow import SESSION_COOKIE
from authorization_flow import App
from authorization_flow import Flow
from authorization_flow import hidden_fields

from authserver.digests import secret_digest
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import Registration

SIGNED_OUT = "https://app.test/signed-out"


def _register(app, client_id: str = "rp", post_logout: tuple[str, ...] = (SIGNED_OUT,)) -> App:
    secret = secrets.token_urlsafe(32)
    with app.app_context():
        registration = Registration(
            client_id=client_id,
            name=f"The {client_id} app",
            public=False,
            grant_types=("authorization_code", "refresh_token"),
            scopes=("openid", "profile", "read"),
            audience=None,
            first_party=True,
            access_token_ttl=None,
            refresh_token_ttl=None,
            refresh_token_max_lifetime=None,
            can_introspect=False,
            redirect_uris=(CALLBACK,),
            post_logout_redirect_uris=post_logout,
        )
        current_stores().clients.create(registration, secret_digest(current_settings().secret_pepper, secret))
    return App(client_id, secret, (CALLBACK,))


def _sign_in(browser, rp: App, username: str = "alice") -> dict:
    flow = Flow.start(browser, rp, scope="openid profile")
    resp = flow.redeem(flow.code(username))
    assert resp.status_code == 200, resp.data
    return resp.json


@pytest.fixture
def rp(app, make_user) -> App:
    make_user("alice", PASSWORD)
    return _register(app)


@pytest.fixture
def tokens(client, rp) -> dict:
    return _sign_in(client, rp)


def _logout(browser, method: str = "GET", **params: str):
    if method == "POST":
        return browser.post("/oauth/logout", data=params)
    return browser.get("/oauth/logout?" + urlencode(params))


def _session_cleared(resp) -> bool:
    cookies = [SimpleCookie(v) for v in resp.headers.getlist("Set-Cookie")]
    return any(
        SESSION_COOKIE in c and c[SESSION_COOKIE].value == "" and c[SESSION_COOKIE]["max-age"] == "0" for c in cookies
    )


def _signed_in(browser, rp: App) -> bool:
    """The browser's login session still skips the form."""
    resp = Flow.start(browser, rp).authorize()
    return resp.status_code == 302


def _userinfo(browser, tokens: dict) -> int:
    return browser.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code


def _refresh(browser, rp: App, tokens: dict) -> int:
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    return browser.post("/oauth/token", data=data, headers=rp.basic).status_code


def _assert_page(resp, status: int, text: str) -> None:
    assert resp.status_code == status
    assert resp.mimetype == "text/html"
    assert "Location" not in resp.headers
    assert text in resp.get_data(as_text=True)
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_logout_with_hint_redirects_with_state_and_ends_the_session_and_its_families(client, rp, tokens):
    resp = _logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT, state="xyz")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SIGNED_OUT
    assert parse_qs(location.query) == {"state": ["xyz"]}
    assert _session_cleared(resp)
    assert _refresh(client, rp, tokens) == 400  # the family issued under the session is revoked
    assert _userinfo(client, tokens) == 401  # and so its access token is inactive
    assert not _signed_in(client, rp)  # the next authorization request shows the login form


def test_logout_by_post_redirects_with_303(client, rp, tokens):
    resp = _logout(client, "POST", id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT)
    assert resp.status_code == 303
    assert resp.headers["Location"] == SIGNED_OUT
    assert _refresh(client, rp, tokens) == 400


def test_logout_without_a_redirect_shows_signed_out(client, rp, tokens):
    resp = _logout(client, id_token_hint=tokens["id_token"])
    _assert_page(resp, 200, "Signed out")
    assert _session_cleared(resp)
    assert not _signed_in(client, rp)


def test_an_expired_hint_is_accepted(client, rp, tokens, clock):
    clock.advance(24 * 3600)
    resp = _logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT)
    assert resp.status_code == 302
    assert not _signed_in(client, rp)


@pytest.mark.parametrize(
    "params",
    [
        {"post_logout_redirect_uri": "https://evil.test/"},
        {"post_logout_redirect_uri": SIGNED_OUT + "/more"},
        {"post_logout_redirect_uri": SIGNED_OUT.upper()},
        {"post_logout_redirect_uri": CALLBACK},  # a redirect URI, not a post-logout one
    ],
)
def test_an_unregistered_post_logout_uri_is_refused_with_a_page_and_nothing_ended(client, rp, tokens, params):
    resp = _logout(client, id_token_hint=tokens["id_token"], **params)
    _assert_page(resp, 400, "not valid")
    assert not _session_cleared(resp)
    assert _signed_in(client, rp)
    assert _userinfo(client, tokens) == 200


def test_a_post_logout_uri_without_a_client_is_refused(client, rp, tokens):
    _assert_page(_logout(client, post_logout_redirect_uri=SIGNED_OUT, state="s"), 400, "not valid")
    assert _signed_in(client, rp)


def test_a_client_id_other_than_the_hints_audience_is_refused(app, client, rp, tokens):
    _register(app, "other", post_logout=("https://other.test/bye",))
    resp = _logout(
        client, id_token_hint=tokens["id_token"], client_id="other", post_logout_redirect_uri="https://other.test/bye"
    )
    _assert_page(resp, 400, "not valid")
    assert _signed_in(client, rp)


@pytest.mark.parametrize("which", ["access_token", "tampered", "garbage"])
def test_a_hint_that_is_not_our_id_token_is_refused(client, rp, tokens, which):
    head, body, signature = tokens["id_token"].split(".")
    hint = {
        "access_token": tokens["access_token"],  # ours, but typ at+jwt
        "tampered": f"{head}.{body}x.{signature}",
        "garbage": "not.a.jwt",
    }[which]
    _assert_page(_logout(client, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT), 400, "not valid")
    assert _signed_in(client, rp)


def test_without_a_hint_the_user_is_asked_first_then_signed_out(client, rp, tokens):
    page = _logout(client, client_id="rp", post_logout_redirect_uri=SIGNED_OUT, state="abc")
    _assert_page(page, 200, "Sign out?")
    assert "Signed in as alice" in page.get_data(as_text=True)
    assert _signed_in(client, rp) and _userinfo(client, tokens) == 200  # nothing ended yet
    form = hidden_fields(page.get_data(as_text=True))
    assert form["confirm"] == "yes" and form["post_logout_redirect_uri"] == SIGNED_OUT
    resp = client.post("/oauth/logout", data=form)
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"{SIGNED_OUT}?state=abc"
    assert _session_cleared(resp)
    assert _refresh(client, rp, tokens) == 400
    assert not _signed_in(client, rp)


def test_a_confirmation_without_its_csrf_token_ends_nothing(client, rp, tokens):
    page = _logout(client, client_id="rp")
    form = hidden_fields(page.get_data(as_text=True))
    forged = {k: v for k, v in form.items() if k != "csrf_token"}
    resp = client.post("/oauth/logout", data=forged)
    _assert_page(resp, 200, "Sign out?")  # asked again
    assert _signed_in(client, rp)


def test_a_hint_of_another_user_does_not_sign_out_the_browsers_user_unasked(app, client, rp, tokens, make_user):
    make_user("bob", PASSWORD)
    bob = _sign_in(app.test_client(), rp, "bob")
    page = _logout(client, id_token_hint=bob["id_token"], post_logout_redirect_uri=SIGNED_OUT)
    _assert_page(page, 200, "Sign out?")
    assert _signed_in(client, rp)


def test_a_hint_without_the_browsers_cookie_still_ends_the_hints_session(app, client, rp, tokens):
    """A cross-site POST carries no SameSite=Lax cookie: the hint's sid names the session to end."""
    elsewhere = app.test_client()
    resp = _logout(elsewhere, "POST", id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT)
    assert resp.status_code == 303
    assert _refresh(client, rp, tokens) == 400
    assert not _signed_in(client, rp)


def test_logout_ends_only_that_session_not_the_users_others(app, client, rp, tokens):
    laptop = app.test_client()
    other = _sign_in(laptop, rp)
    assert _logout(client, id_token_hint=tokens["id_token"]).status_code == 200
    assert _refresh(laptop, rp, other) == 200
    assert _signed_in(laptop, rp)


def test_logout_with_nothing_to_end_shows_signed_out(client):
    _assert_page(_logout(client), 200, "Signed out")


def test_a_repeated_parameter_is_refused(client, rp, tokens):
    resp = client.get(f"/oauth/logout?state=a&state=b&id_token_hint={tokens['id_token']}")
    _assert_page(resp, 400, "not valid")


def test_an_unknown_client_id_is_refused(client, rp, tokens):
    _assert_page(_logout(client, client_id="nobody", post_logout_redirect_uri=SIGNED_OUT), 400, "not valid")
    assert _signed_in(client, rp)


def test_the_signed_out_page_and_the_question_carry_the_pages_headers(client, rp, tokens):
    page = _logout(client, client_id="rp", post_logout_redirect_uri=SIGNED_OUT)
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self' https://app.test" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
