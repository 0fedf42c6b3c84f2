"""The login and consent pages in a real browser (headless Debian chromium, Playwright): under their strict CSP
the forms submit, and the redirect that answers them reaches the client's callback. Browsers apply
``form-action`` to the redirects after a form submission too, so a ``form-action 'self'`` alone would block
the way back to the client: this is the test that it does not."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from authorization_flow import pkce
from authorization_flow import register
from conftest import Database
from conftest import LiveServer
from conftest import start_server

from authserver.testing.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.live]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PASSWORD = "correct horse battery"


class _Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>callback</title><p>back at the client</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def callback() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/callback"
    server.shutdown()


@pytest.fixture
def live(database: Database, keys_dir) -> Iterator[LiveServer]:
    server = start_server(database, keys_dir)
    yield server
    server.stop()


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make services` (.ci/browser) installs Debian's chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser.new_context().new_page()
        browser.close()


def test_sign_in_and_allow_land_on_the_clients_callback_under_the_csp(app, make_user, live, callback, page):
    make_user()
    third = register(app, "browser-third", redirect_uris=(callback,), name="Browser Third", public=True)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    _verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": third.client_id,
        "redirect_uri": callback,
        "scope": "openid profile",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(f"{live.url}/oauth/authorize?{urlencode(query)}")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{callback}?*")
    params = parse_qs(urlsplit(page.url).query)
    assert params["state"] == ["xyz"] and params["iss"] == [live.url] and params["code"]
    assert page.get_by_text("back at the client").is_visible()
    assert violations == []
