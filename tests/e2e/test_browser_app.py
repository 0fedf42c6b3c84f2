"""examples/browser_app in a real browser: headless Debian chromium driven by Playwright, against the
server, the example resource service and the app's own static server, each a gunicorn process.

The app is served on 127.0.0.1:<A> and the server on 127.0.0.1:<B>: two origins, one site (cookies
ignore ports), as SameSite=Strict requires. The attacker pages are on 127.0.0.1:<C>, the same site
too, so the browser does send them the refresh cookie: only the server's CSRF and CORS rules stand
between them and the session. Run alone with ``pytest -m browser``. The browser fixtures (``chromium``,
``context``) are in tests/e2e/conftest.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from conftest import LiveServer
from conftest import _free_port
from conftest import start_gunicorn

pytestmark = [pytest.mark.browser, pytest.mark.live]

PASSWORD = "correct horse battery"
SHORT_TTL = 3  # seconds: the app refreshes 1.5 s before expiry


@pytest.fixture(scope="session")
def app_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def app_origin(app_port: int) -> str:
    return f"http://127.0.0.1:{app_port}"


@pytest.fixture(scope="session")
def resource_service(live_server: LiveServer, app_origin: str) -> Iterator[LiveServer]:
    env = {
        **os.environ,
        "RESOURCE_ISSUER": live_server.url,
        "RESOURCE_LEEWAY": "0",  # an expired token is refused at once: the app must have refreshed
        "RESOURCE_CORS_ORIGINS": app_origin,
    }
    server = start_gunicorn("examples.resource_service.app:create_app()", env, _free_port())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spa(live_server: LiveServer, resource_service: LiveServer, app_port: int) -> Iterator[LiveServer]:
    env = {**os.environ, "BROWSER_APP_ISSUER": live_server.url, "BROWSER_APP_RESOURCE": resource_service.url}
    server = start_gunicorn("examples.browser_app.app:create_app()", env, app_port, workers=1)
    yield server
    server.stop()


@pytest.fixture
def register(app, make_user, app_origin) -> Callable[..., dict]:
    """``authserver clients create ... --origin <the app's origin>`` (the CLI, as an operator does) and a user."""

    def run(access_token_ttl: int | None = None) -> dict:
        make_user("alice", PASSWORD)
        args = ["clients", "create", "--name", "spa", "--client-id", "spa", "--public", "--first-party"]
        args += ["--grant", "password", "--grant", "refresh_token", "--scope", "read", "--origin", app_origin, "--json"]
        if access_token_ttl is not None:
            args += ["--access-token-ttl", str(access_token_ttl)]
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


def until(page, expression: str, arg: object = None, timeout: float = 10) -> None:
    """Poll ``expression`` (a function of ``arg``) in the page until it is true.

    Not ``page.wait_for_function``: that polls through ``eval``, which the app's CSP rightly refuses.
    """
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as exc:  # the page is navigating (a reload): ask the next one
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.05)


class Tab:
    """One tab of the app, with what it sent to the server."""

    def __init__(self, context, spa: LiveServer, issuer: str) -> None:
        self.page = context.new_page()
        self.issuer = issuer
        self.refreshes: list[int] = []  # status of every POST /auth/refresh answer
        self.data: list[int] = []  # status of every GET /user/data answer
        self.page.on("response", self._record)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(spa.url + "/")
        self.until_state("signed-in", "signed-out")

    def _record(self, response) -> None:
        if response.url == self.issuer + "/auth/refresh" and response.request.method == "POST":
            self.refreshes.append(response.status)
        elif response.url.endswith("/user/data") and response.request.method == "GET":
            self.data.append(response.status)

    def until_state(self, *states: str, timeout: float = 10) -> None:
        until(self.page, "(states) => states.includes(document.body.dataset.state)", list(states), timeout)

    @property
    def state(self) -> str:
        return self.page.evaluate("document.body.dataset.state")

    def log_in(self, username: str = "alice", password: str = PASSWORD) -> None:
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("#sign-in")
        self.wait_for_data()
        self.refreshes.clear()  # from here on: the refreshes of this session

    def wait_for_data(self, after: float = 0) -> dict:
        """The JSON of the next successful ``/user/data`` shown after ``after`` (ms since the epoch)."""
        until(
            self.page,
            "(after) => Number(document.getElementById('data').dataset.loaded || 0) > after"
            " && document.getElementById('data').textContent.startsWith('{')",
            after,
        )
        return json.loads(self.page.text_content("#data") or "")

    def load_data(self) -> dict:
        now = self.page.evaluate("Date.now()")
        self.page.click("#load")
        return self.wait_for_data(after=now)

    def reload(self) -> None:
        self.page.reload()
        self.until_state("signed-in", "signed-out")


@pytest.fixture
def open_tab(context, spa, live_server) -> Callable[[], Tab]:
    return lambda: Tab(context, spa, live_server.url)


def refresh_cookie(context, issuer: str) -> dict:
    cookies = [c for c in context.cookies(issuer) if "refresh" in c["name"].lower()]
    assert len(cookies) == 1, context.cookies(issuer)
    return cookies[0]


def test_login_shows_the_users_data_and_no_script_can_reach_a_token(register, open_tab, context, live_server):
    register()
    tab = open_tab()
    assert tab.state == "signed-out"
    tab.log_in()
    data = tab.page.text_content("#data") or ""
    assert json.loads(data)["client_id"] == "spa" and json.loads(data)["scope"] == ["read"]

    cookie = refresh_cookie(context, live_server.url)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    # The cookie's host is the app's too (cookies ignore ports): only HttpOnly keeps it from script.
    storage = tab.page.evaluate(
        """async () => ({
            cookie: document.cookie,
            local: Object.keys(localStorage).length,
            session: Object.keys(sessionStorage).length,
            databases: (await indexedDB.databases()).length,
        })"""
    )
    assert storage == {"cookie": "", "local": 0, "session": 0, "databases": 0}
    assert cookie["value"] not in data and tab.errors == []


def test_the_page_runs_no_injected_script(register, open_tab):
    """The CSP in force: no inline script element (Trusted Types guard the sink), no inline handler."""
    register()
    tab = open_tab()
    outcome = tab.page.evaluate(
        """async () => {
            const tried = {};
            try {
                const script = document.createElement("script");
                script.textContent = "window.injected = 1";
                document.body.append(script);
                tried.inline = String(window.injected);
            } catch (error) { tried.inline = error.name; }
            try {
                const image = document.createElement("img");
                image.setAttribute("onerror", "window.handled = 1");
                image.src = "missing.png";
                document.body.append(image);
                await new Promise((resolve) => setTimeout(resolve, 300));
                tried.handler = String(window.handled);
            } catch (error) { tried.handler = error.name; }
            return tried;
        }"""
    )
    assert outcome == {"inline": "TypeError", "handler": "TypeError"}


def test_wrong_password_is_refused_and_nothing_is_stored(register, open_tab, context, live_server):
    register()
    tab = open_tab()
    tab.page.fill("#username", "alice")
    tab.page.fill("#password", "wrong password here")
    tab.page.click("#sign-in")
    until(tab.page, "() => document.getElementById('login-error').textContent !== ''")
    assert tab.page.text_content("#login-error") == "wrong username or password"
    assert tab.state == "signed-out" and context.cookies(live_server.url) == []


def test_an_expiring_access_token_is_refreshed_silently(register, open_tab):
    register(access_token_ttl=SHORT_TTL)
    tab = open_tab()
    tab.log_in()
    first = tab.page.text_content("#expires")
    tab.page.wait_for_timeout((SHORT_TTL + 1) * 1000)  # past the first token's exp: two refreshes by the timer
    assert tab.refreshes[-2:] == [200, 200] and tab.state == "signed-in"
    assert tab.page.text_content("#expires") != first
    # The resource refuses an expired token at once (leeway 0): the token the app holds is still valid.
    assert tab.load_data()["client_id"] == "spa"
    assert tab.data == [200, 200] and tab.errors == []  # the login's and this one: never a 401


def test_a_401_from_the_resource_refreshes_once_and_tries_again(register, open_tab, resource_service, app_origin):
    register()
    tab = open_tab()
    tab.log_in()
    refused = []

    def refuse_once(route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.headers.get("authorization"))
        route.fulfill(
            status=401,
            headers={
                "WWW-Authenticate": 'Bearer realm="resource-service", error="invalid_token"',
                "Access-Control-Allow-Origin": app_origin,
                "Access-Control-Expose-Headers": "WWW-Authenticate",
            },
            body='{"error": "invalid_token"}',
        )

    tab.page.route(resource_service.url + "/user/data", refuse_once)
    before = len(tab.refreshes)
    assert tab.load_data()["client_id"] == "spa"
    assert len(refused) == 1 and tab.refreshes[before:] == [200]


def test_reload_restores_the_session(register, open_tab):
    register()
    tab = open_tab()
    tab.log_in()
    tab.reload()
    assert tab.refreshes == [200] and tab.state == "signed-in"
    assert tab.wait_for_data()["client_id"] == "spa"


def test_two_tabs_whose_tokens_expire_at_once_both_continue(register, open_tab, context, live_server):
    register(access_token_ttl=SHORT_TTL)
    first = open_tab()
    first.log_in()
    second = open_tab()  # restores from the shared cookie
    assert second.state == "signed-in"
    in_flight = {"now": 0, "most": 0}  # POST /auth/refresh requests of both tabs not yet answered

    def sent(request) -> None:
        if request.url == live_server.url + "/auth/refresh" and request.method == "POST":
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def done(request) -> None:
        if request.url == live_server.url + "/auth/refresh" and request.method == "POST":
            in_flight["now"] -= 1

    context.on("request", sent)
    context.on("requestfinished", done)
    context.on("requestfailed", done)
    # Restore both at the same moment: their access tokens now expire within milliseconds of each other.
    first.page.evaluate("location.reload()")
    second.page.evaluate("location.reload()")
    for tab in (first, second):
        until(tab.page, "() => performance.getEntriesByType('navigation')[0].type === 'reload'")
        tab.until_state("signed-in")
    first.page.wait_for_timeout((SHORT_TTL + 1) * 1000)
    for tab in (first, second):
        assert tab.state == "signed-in", tab.page.text_content("#status")
        assert len(tab.refreshes) >= 3 and set(tab.refreshes) == {200}, tab.refreshes  # restore + 2 by timer
        assert tab.load_data()["client_id"] == "spa"
    refresh_cookie(context, live_server.url)  # one cookie, still there
    assert in_flight["most"] == 1  # the Web Lock: one refresh at a time across the tabs


def test_logout_in_one_tab_logs_out_the_other_within_a_second(register, open_tab, context, live_server):
    register()
    first = open_tab()
    first.log_in()
    second = open_tab()
    assert second.state == "signed-in"
    first.page.click("#logout")
    started = time.monotonic()
    second.until_state("signed-out", timeout=1)
    assert time.monotonic() - started < 1
    first.until_state("signed-out")
    assert [c for c in context.cookies(live_server.url) if "refresh" in c["name"].lower()] == []
    second.reload()  # the family is over on the server: nothing to restore
    assert second.state == "signed-out"


def test_a_session_revoked_on_the_server_signs_out_every_tab(register, open_tab, app):
    """invalid_grant, and only it, means signed out: `authserver users revoke-sessions`, then a refresh."""
    register(access_token_ttl=SHORT_TTL)
    first = open_tab()
    first.log_in()
    second = open_tab()
    assert second.state == "signed-in"
    revoked = app.test_cli_runner().invoke(args=["users", "revoke-sessions", "alice"])
    assert revoked.exit_code == 0, revoked.output
    first.until_state("signed-out", timeout=SHORT_TTL + 2)  # its next refresh: 401 invalid_grant
    second.until_state("signed-out", timeout=1)
    assert 401 in first.refreshes or 401 in second.refreshes


ATTACKS = {
    # A "simple" request: no preflight, the cookie goes along; the server must refuse it.
    "text/plain": """fetch(ISSUER + "/auth/refresh", {method: "POST", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: "{}"})""",
    # JSON without X-CSRF from an origin no client registered: the preflight is refused, nothing is sent.
    "json without X-CSRF": """fetch(ISSUER + "/auth/refresh", {method: "POST", credentials: "include",
        headers: {"Content-Type": "application/json"}, body: "{}"})""",
    # Everything the app sends, from the wrong origin: the preflight is refused.
    "json with X-CSRF": """fetch(ISSUER + "/auth/refresh", {method: "POST", credentials: "include",
        headers: {"Content-Type": "application/json", "X-CSRF": "1"}, body: "{}"})""",
}


class AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><p>attacker</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def attacker_origin() -> Iterator[str]:
    """A real server on 127.0.0.1:<C>, an origin no client registered, same-site with the server.

    Real, not a Playwright route: chromium treats a page it did not load from the network as public,
    and its Local Network Access rules would then block every request to 127.0.0.1, whatever the
    server answered, and the test would prove nothing.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def attacker_page(context, attacker_origin):
    page = context.new_page()
    page.goto(attacker_origin + "/")
    return page


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_unregistered_origin_gets_nothing_from_refresh_and_the_session_survives(
    register, open_tab, context, live_server, attacker_page, attack
):
    register()
    tab = open_tab()
    tab.log_in()
    cookie = refresh_cookie(context, live_server.url)
    outcome = attacker_page.evaluate(
        f"""async (ISSUER) => {{
            try {{ const reply = await {ATTACKS[attack]}; return "read " + reply.status + " " + await reply.text(); }}
            catch (error) {{ return error.name; }}
        }}""",
        live_server.url,
    )
    assert outcome == "TypeError"  # no CORS answer for this origin: the page cannot read anything
    assert refresh_cookie(context, live_server.url)["value"] == cookie["value"]  # not rotated, not cleared
    tab.reload()
    assert tab.state == "signed-in" and tab.refreshes == [200]  # the session survives


def test_a_cross_origin_form_post_to_refresh_gets_no_token_and_the_session_survives(
    register, open_tab, context, live_server, attacker_page
):
    register()
    tab = open_tab()
    tab.log_in()
    cookie = refresh_cookie(context, live_server.url)
    with attacker_page.expect_navigation() as navigation:
        attacker_page.evaluate(
            """(ISSUER) => {
                const form = document.createElement("form");
                form.method = "POST";
                form.action = ISSUER + "/auth/refresh";
                form.enctype = "text/plain";
                const field = document.createElement("input");
                field.name = '{"a":"';
                field.value = '"}';
                form.append(field);
                document.body.append(form);
                form.submit();
            }""",
            live_server.url,
        )
    reply = navigation.value
    assert reply is not None and reply.status == 403
    body = reply.text()
    assert "accessToken" not in body and "refreshToken" not in body
    assert "set-cookie" not in {name.lower() for name in reply.headers}
    assert refresh_cookie(context, live_server.url)["value"] == cookie["value"]
    tab.reload()
    assert tab.state == "signed-in" and tab.refreshes == [200]


@pytest.mark.parametrize("failure", ["network error", "503"])
def test_a_refresh_that_fails_is_retried_with_backoff_and_the_session_survives(
    register, open_tab, live_server, app_origin, failure
):
    """Only invalid_grant means signed out: an unreachable or failing server is retried."""
    register(access_token_ttl=SHORT_TTL)
    tab = open_tab()
    tab.log_in()
    failed: list[float] = []

    def fail_twice(route) -> None:
        if route.request.method != "POST" or len(failed) >= 2:
            route.continue_()
            return
        failed.append(time.monotonic())
        if failure == "network error":
            route.abort("connectionrefused")
        else:
            route.fulfill(
                status=503,
                headers={"Access-Control-Allow-Origin": app_origin, "Access-Control-Allow-Credentials": "true"},
                body='{"error": "server_error"}',
            )

    tab.page.route(live_server.url + "/auth/refresh", fail_twice)
    tab.page.wait_for_timeout((SHORT_TTL + 1) * 1000)
    assert len(failed) == 2 and failed[1] - failed[0] >= 0.25  # the first backoff
    assert tab.refreshes and tab.refreshes[-1] == 200 and tab.state == "signed-in"
    assert tab.load_data()["client_id"] == "spa" and 401 not in tab.data
