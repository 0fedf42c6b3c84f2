"""examples/third_party_app in a real browser: headless Debian chromium (Playwright) signing in through the
server's login and consent pages, against the server, the example resource service and the app, each a
gunicorn process.

The app is a confidential client registered through the CLI for its own loopback origin (its
``/callback`` and, after logout, its ``/``). With ``AUTHSERVER_SCREENSHOTS=docs/images`` the first test
writes ``login-page.png`` and ``consent-page.png`` there (the README's pictures); without it, nothing is
written. Run alone with ``pytest -m browser``; the browser fixtures are in tests/e2e/conftest.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from conftest import ROOT
from conftest import Database
from conftest import LiveServer
from conftest import _free_port
from conftest import start_gunicorn
from conftest import start_server

from e2e.third_party import PASSWORD
from e2e.third_party import Client
from e2e.third_party import User
from e2e.third_party import cli
from e2e.third_party import create_client
from e2e.third_party import create_user

pytestmark = [pytest.mark.browser, pytest.mark.live]

MAX_FAILURES = 3  # the server's lockout threshold here (AUTHSERVER_BRUTE_FORCE_MAX_FAILURES)
CLIENT_NAME = "Example third-party app"


@pytest.fixture(scope="module")
def server(database: Database, keys_dir: Path) -> Iterator[LiveServer]:
    live = start_server(database, keys_dir, workers=2, AUTHSERVER_BRUTE_FORCE_MAX_FAILURES=str(MAX_FAILURES))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def resource_service(server: LiveServer) -> Iterator[LiveServer]:
    env = {**os.environ, "RESOURCE_ISSUER": server.url}
    live = start_gunicorn("examples.resource_service.app:create_app()", env, _free_port(), workers=1)
    try:
        yield live
    finally:
        live.stop()


@dataclass
class App:
    url: str
    server: LiveServer
    user: User
    client: Client


@pytest.fixture
def third_party_app(app, server: LiveServer, resource_service: LiveServer) -> Iterator[App]:
    """A user and the app's registration (``clients create --redirect-uri <app>/callback
    --post-logout-redirect-uri <app>/``), then the app under gunicorn, as its README runs it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    user = create_user(app, "alice", "Alice Example")  # the tables are emptied before each test
    client = create_client(app, f"{url}/callback", post_logout_redirect_uri=f"{url}/", name=CLIENT_NAME)
    env = {
        **os.environ,
        "THIRD_PARTY_APP_ISSUER": server.url,
        "THIRD_PARTY_APP_CLIENT_ID": client.client_id,
        "THIRD_PARTY_APP_CLIENT_SECRET": client.secret or "",
        "THIRD_PARTY_APP_RESOURCE": resource_service.url,
        "THIRD_PARTY_APP_URL": url,
    }
    live = start_gunicorn("examples.third_party_app.app:create_app()", env, port, workers=1)
    try:
        yield App(url, server, user, client)
    finally:
        live.stop()


@pytest.fixture
def page(context) -> object:
    return context.new_page()


def screenshot(page, name: str) -> None:
    """Only with AUTHSERVER_SCREENSHOTS set (a directory, relative to the repository): CI leaves the tree clean."""
    target = os.environ.get("AUTHSERVER_SCREENSHOTS")
    if target:
        directory = ROOT / target
        directory.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 880, "height": 540})
        page.screenshot(path=str(directory / name))


def start_sign_in(page, app: App) -> None:
    page.goto(app.url + "/")
    page.get_by_role("link", name="Sign in with authserver").click()


def on_login_page(page, app: App) -> bool:
    return page.url.startswith(app.server.url) and page.get_by_role("button", name="Sign in").count() == 1


def submit_login(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def login_error(page) -> str:
    """The message the Password field is described by (aria-describedby): the one generic error."""
    ids = (page.get_by_label("Password").get_attribute("aria-describedby") or "").split()
    assert ids, "the Password field is not described by an error message"
    return " ".join(page.locator(f"[id='{i}']").inner_text().strip() for i in ids)


def signed_in_as(page, app: App) -> None:
    assert page.url == app.url + "/", page.url
    assert page.get_by_role("heading", level=1).inner_text() == f"Signed in as {app.user.username}"


def test_sign_in_and_consent_land_on_the_app_with_the_userinfo(page, context, third_party_app):
    app = third_party_app
    start_sign_in(page, app)
    assert on_login_page(page, app), page.url
    screenshot(page, "login-page.png")
    submit_login(page, app.user.username, PASSWORD)

    # The consent page: the client's name and what it asks for, in words.
    allow = page.get_by_role("button", name="Allow")
    allow.wait_for()
    assert page.get_by_role("button", name="Deny").count() == 1
    text = page.locator("body").inner_text()
    assert CLIENT_NAME in text
    for words in ("your name", "your email address"):  # the scopes profile and email, in words
        assert words in text, text
    screenshot(page, "consent-page.png")
    allow.click()

    page.wait_for_url(app.url + "/")
    signed_in_as(page, app)
    claims = {cell.get_attribute("data-claim"): cell.inner_text() for cell in page.locator("td[data-claim]").all()}
    assert claims == {
        "sub": app.user.user_id,
        "name": app.user.name,
        "preferred_username": app.user.username,
        "email": app.user.email,
        "email_verified": "True",
    }
    assert set(page.locator("#scope").inner_text().split()) == {"openid", "profile", "email", "read"}
    # The server's login session, as the browser keeps it (an http issuer: no __Host- prefix, not Secure).
    (cookie,) = [c for c in context.cookies(app.server.url) if c["name"] == "authserver_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"

    # The access token works at the resource service, and a refresh gives a new one.
    page.get_by_role("link", name="Call the resource service").click()
    assert page.locator("#status").inner_text() == "200"
    assert f'"sub": "{app.user.user_id}"' in page.locator("#data").inner_text()
    page.goto(app.url + "/")
    page.get_by_role("button", name="Refresh the tokens").click()
    assert page.locator("#message").inner_text().startswith("Refreshed: a new access token")


def test_wrong_password_shows_the_generic_error_and_a_locked_account_looks_the_same(page, third_party_app):
    app = third_party_app
    start_sign_in(page, app)
    submit_login(page, app.user.username, "not the password")
    assert on_login_page(page, app)
    message = login_error(page)
    assert message and "not the password" not in page.content()  # the password is never sent back
    for _ in range(MAX_FAILURES - 1):  # the lockout threshold: the next attempt is refused whatever it says
        submit_login(page, app.user.username, "still not the password")
        assert on_login_page(page, app) and login_error(page) == message

    submit_login(page, app.user.username, PASSWORD)  # right, but the account is locked now
    assert on_login_page(page, app), page.url
    assert login_error(page) == message
    assert page.get_by_role("button", name="Allow").count() == 0


def test_a_second_sign_in_skips_the_form_thanks_to_the_servers_session(page, third_party_app):
    app = third_party_app
    start_sign_in(page, app)
    submit_login(page, app.user.username, PASSWORD)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(app.url + "/")

    pages_shown: list[str] = []  # the server's HTML pages rendered during the second sign-in
    page.on(
        "response",
        lambda r: (
            pages_shown.append(r.url)
            if r.url.startswith(app.server.url) and r.status == 200 and "html" in (r.headers.get("content-type") or "")
            else None
        ),
    )
    page.goto(app.url + "/login")  # the session cookie and the remembered consent: straight back with a code
    page.wait_for_url(app.url + "/")
    signed_in_as(page, app)
    assert pages_shown == []


def test_deny_lands_back_at_the_app_with_access_denied(page, third_party_app):
    app = third_party_app
    start_sign_in(page, app)
    submit_login(page, app.user.username, PASSWORD)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(re.compile(re.escape(app.url + "/callback") + r"\?"))
    assert page.locator("#error").inner_text() == "access_denied"
    page.goto(app.url + "/")
    assert page.get_by_role("link", name="Sign in with authserver").count() == 1  # not signed in


def test_rp_initiated_logout_ends_the_servers_session(page, third_party_app):
    app = third_party_app
    start_sign_in(page, app)
    submit_login(page, app.user.username, PASSWORD)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(app.url + "/")

    page.get_by_role("button", name="Sign out").click()  # to the end_session_endpoint and back, with state
    page.wait_for_url(re.compile(re.escape(app.url + "/") + r"\?state="))
    assert page.locator("#message").inner_text() == "You are signed out, here and at the authorization server."

    start_sign_in(page, app)  # the server's session has ended: the form again
    assert on_login_page(page, app), page.url


def test_the_server_refuses_an_unregistered_redirect_with_an_error_page(page, third_party_app):
    """Before any sign-in, never redirected to (RFC 6749 §4.1.2.1): the browser stays on the server."""
    app = third_party_app
    attacker = "https://attacker.example/callback"  # (another loopback port would match: RFC 8252 §7.3)
    response = page.goto(
        f"{app.server.url}/oauth/authorize?response_type=code&client_id={app.client.client_id}"
        f"&redirect_uri={attacker}&scope=openid&state=s&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    assert response is not None and response.status == 400
    assert page.url.startswith(app.server.url)
    assert page.get_by_role("button", name="Sign in").count() == 0


@pytest.mark.parametrize("iss", ["https://mix-up.example", None])
def test_the_app_refuses_an_answer_without_its_issuers_iss(page, third_party_app, iss):
    """RFC 9207: an answer for this browser's state that names another issuer, or none, is not redeemed."""
    app = third_party_app
    start_sign_in(page, app)
    assert on_login_page(page, app)
    state = parse_qs(urlsplit(page.url).query)["state"][0]  # the app's authorization request, on the login page
    forged = {"code": "from-another-server", "state": state, **({"iss": iss} if iss else {})}
    page.goto(f"{app.url}/callback?{urlencode(forged)}")
    assert page.locator("#error").inner_text() == "invalid_issuer"
    page.goto(app.url + "/")
    assert page.get_by_role("link", name="Sign in with authserver").count() == 1


def test_revoke_sessions_at_the_server_signs_the_app_out_at_its_next_refresh(app, page, third_party_app):
    """``authserver users revoke-sessions``: the app's refresh token is refused (invalid_grant), so the app
    forgets the user, and the server's login session is gone too (the form again)."""
    tp = third_party_app
    start_sign_in(page, tp)
    submit_login(page, tp.user.username, PASSWORD)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(tp.url + "/")

    cli(app, "users", "revoke-sessions", tp.user.username)
    page.get_by_role("button", name="Refresh the tokens").click()
    assert page.locator("#error").inner_text() == "invalid_grant"
    page.goto(tp.url + "/")
    assert page.get_by_role("link", name="Sign in with authserver").count() == 1
    start_sign_in(page, tp)
    assert on_login_page(page, tp), page.url
