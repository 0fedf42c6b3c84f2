"""The login page of the authorization endpoint and the login session it starts: the page's markup and headers,
its CSRF token, one generic message for every refused sign-in (a lockout included), the session cookie that
lets later requests skip the form until its idle or absolute lifetime ends, ``prompt``, ``max_age``,
``login_hint``, and the ways a session ends (a new sign-in, log out everywhere)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from authorization_flow import CALLBACK
from authorization_flow import SESSION_COOKIE
from authorization_flow import Flow
from authorization_flow import hidden_fields
from authorization_flow import redirect_params
from authorization_flow import register
from lifecycle_helpers import cli_json

WRONG = "wrong password 123"


@pytest.fixture
def config_overrides():
    return {"BRUTE_FORCE_MAX_FAILURES": 3, "IP_MAX_FAILURES": 1000}


@pytest.fixture
def third(app, make_user):
    make_user()
    return register(app, first_party=True)  # no consent page in the way: these tests are about signing in


def text(resp) -> str:
    return resp.get_data(as_text=True)


def is_login_page(resp) -> bool:
    return resp.status_code == 200 and 'name="action" value="login"' in text(resp)


def cookies(resp) -> dict[str, str]:
    """Each Set-Cookie header of ``resp`` by cookie name, as sent."""
    return {h.split("=", 1)[0]: h for h in resp.headers.getlist("Set-Cookie")}


def signed_in(client, third, **params):
    """The redirect after signing in on the login page of a new authorization request."""
    flow = Flow.start(client, third, **params)
    resp = flow.sign_in(flow.authorize())
    return flow, resp


# ---------------------------------------------------------------- the page


def test_login_page_has_labelled_fields_a_sign_in_button_and_no_script(client, third):
    page = text(Flow.start(client, third).authorize())
    assert '<html lang="en">' in page and "<main>" in page
    assert '<label for="username">Username</label>' in page and 'id="username"' in page
    assert '<label for="password">Password</label>' in page and 'id="password" name="password" type="password"' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert '<button type="submit">Sign in</button>' in page
    assert "<script" not in page and " on" not in re.sub(r'"[^"]*"', "", page)  # no inline handlers
    assert "The third app" in page


def test_login_page_headers_forbid_framing_caching_scripts_and_foreign_forms(client, third):
    resp = Flow.start(client, third).authorize()
    csp = resp.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    # The form posts here; the redirect that answers it goes to the client's origin (browsers check both).
    assert "form-action 'self' https://app.test;" in csp
    assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.mimetype == "text/html"


def test_the_inline_stylesheet_is_the_one_the_csp_hash_allows(client, third):
    import base64
    import hashlib

    resp = Flow.start(client, third).authorize()
    css = re.search(r"<style>(.*?)</style>", text(resp), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in resp.headers["Content-Security-Policy"]


def test_login_hint_prefills_the_username(client, third):
    page = text(Flow.start(client, third, login_hint="alice").authorize())
    assert 'id="username" name="username" type="text" value="alice"' in page


# ---------------------------------------------------------------- CSRF


@pytest.mark.parametrize("tamper", ["no token", "wrong token", "no cookie"])
def test_sign_in_without_the_forms_csrf_token_is_refused_and_starts_no_session(app, third, tamper):
    client = app.test_client()
    flow = Flow.start(client, third)
    form = hidden_fields(text(flow.authorize()))
    if tamper == "no token":
        del form["csrf_token"]
    elif tamper == "wrong token":
        form["csrf_token"] = "0" * 64
    else:
        client.delete_cookie("__Host-authserver_csrf")
    resp = client.post("/oauth/authorize", data={**form, "username": "alice", "password": "correct horse battery"})
    assert resp.status_code == 403 and "Location" not in resp.headers
    assert SESSION_COOKIE not in cookies(resp)
    assert is_login_page(Flow.start(client, third).authorize())


def test_a_forms_token_is_bound_to_its_browser(app, third):
    one, other = app.test_client(), app.test_client()
    form = hidden_fields(text(Flow.start(one, third).authorize()))
    Flow.start(other, third).authorize()  # the other browser has a CSRF cookie of its own
    resp = other.post("/oauth/authorize", data={**form, "username": "alice", "password": "correct horse battery"})
    assert resp.status_code == 403


# ---------------------------------------------------------------- refused sign-ins


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_wrong_credentials_show_one_generic_message_on_the_same_page(client, third, username):
    flow = Flow.start(client, third)
    resp = flow.sign_in(flow.authorize(), username=username, password=WRONG)
    page = text(resp)
    assert is_login_page(resp)
    assert '<p id="login-error" class="error" role="alert">Wrong username or password.</p>' in page
    assert page.count('aria-invalid="true" aria-describedby="login-error"') == 2
    assert f'value="{username}"' in page
    assert SESSION_COOKIE not in cookies(resp)


def test_a_disabled_user_gets_the_same_message(app, client, third, make_user):
    make_user("carol", disabled=True)
    flow = Flow.start(client, third)
    resp = flow.sign_in(flow.authorize(), username="carol")
    assert is_login_page(resp) and "Wrong username or password." in text(resp)


def test_a_locked_account_looks_exactly_like_a_wrong_password(client, third, events):
    flow = Flow.start(client, third)
    for _ in range(3):
        wrong = flow.sign_in(flow.authorize(), password=WRONG)
    locked = flow.sign_in(flow.authorize())  # the right password, during the lockout
    assert is_login_page(locked) and SESSION_COOKIE not in cookies(locked)
    strip = lambda page: re.sub(r'value="[0-9a-f]{64}"', "", page)  # noqa: E731  (the CSRF token may differ)
    assert strip(text(locked)) == strip(text(wrong))
    assert any(getattr(r, "event", None) == "user.locked" and r.door == "login_page" for r in events)
    assert any(getattr(r, "event", None) == "login.throttled" and r.reason == "locked" for r in events)


@pytest.mark.parametrize("config_overrides", [{"IP_MAX_FAILURES": 2}])
def test_past_the_per_ip_ceiling_the_page_answers_429(client, third, config_overrides):
    flow = Flow.start(client, third)
    for user in ("u1", "u2"):
        flow.sign_in(flow.authorize(), username=user, password=WRONG)
    resp = flow.sign_in(flow.authorize(), username="u3", password=WRONG)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "Too many attempts" in text(resp) and resp.headers["X-Frame-Options"] == "DENY"


def test_failed_sign_ins_emit_the_password_grants_events_with_the_pages_door(client, third, events):
    flow = Flow.start(client, third)
    flow.sign_in(flow.authorize(), password=WRONG)
    failed = [r for r in events if getattr(r, "event", None) == "login.failed"]
    assert [r.door for r in failed] == ["login_page"] and failed[0].client_id == third.client_id
    assert WRONG not in repr([vars(r) for r in events])


# ---------------------------------------------------------------- the session


def test_sign_in_sets_a_host_only_httponly_lax_session_cookie_and_redirects_with_the_code(client, third):
    flow, resp = signed_in(client, third)
    assert resp.status_code == 303
    params = redirect_params(resp)
    assert resp.headers["Location"].startswith(CALLBACK + "?code=") and params["state"] == flow.params["state"]
    header = cookies(resp)[SESSION_COOKIE]
    morsel = SimpleCookie(header)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert not morsel["domain"] and int(morsel["max-age"]) == 36000
    assert len(morsel.value) >= 43


def test_the_session_skips_the_form_next_time(client, third):
    signed_in(client, third)
    flow = Flow.start(client, third)
    resp = flow.authorize()
    assert resp.status_code == 302
    assert redirect_params(resp)["code"]


def test_prompt_none_with_a_session_answers_with_the_code(client, third):
    signed_in(client, third)
    flow = Flow.start(client, third, prompt="none")
    assert redirect_params(flow.authorize())["code"]


def test_prompt_login_asks_again_and_a_fresh_sign_in_does_not_loop(client, third):
    signed_in(client, third)
    flow = Flow.start(client, third, prompt="login")
    page = flow.authorize()
    assert is_login_page(page)
    assert redirect_params(flow.sign_in(page))["code"]


@pytest.mark.parametrize("prompt", ["none", "login"])
def test_max_age_zero_asks_again_and_prompt_none_then_is_login_required(client, third, clock, prompt):
    signed_in(client, third)
    clock.advance(1)
    flow = Flow.start(client, third, max_age="0", **({"prompt": "none"} if prompt == "none" else {}))
    resp = flow.authorize()
    if prompt == "none":
        assert redirect_params(resp)["error"] == "login_required"
    else:
        assert is_login_page(resp)
        assert redirect_params(flow.sign_in(resp))["code"]


def test_max_age_counts_from_the_sign_in(client, third, clock):
    signed_in(client, third)
    clock.advance(300)
    assert Flow.start(client, third, max_age="300").authorize().status_code == 302
    clock.advance(1)
    assert is_login_page(Flow.start(client, third, max_age="300").authorize())


def test_the_session_ends_after_its_idle_lifetime(client, third, clock):
    signed_in(client, third)
    clock.advance(1799)
    assert Flow.start(client, third).authorize().status_code == 302  # each use restarts the idle time
    clock.advance(1800)
    assert is_login_page(Flow.start(client, third).authorize())


def test_the_session_ends_at_its_absolute_end_however_active(client, third, clock):
    signed_in(client, third)
    for _ in range(35):
        clock.advance(1000)
        assert Flow.start(client, third).authorize().status_code == 302
    clock.advance(1000)
    assert is_login_page(Flow.start(client, third).authorize())


def test_a_stale_session_cookie_is_cleared(client, third, clock):
    signed_in(client, third)
    clock.advance(1800)
    resp = Flow.start(client, third).authorize()
    assert is_login_page(resp)
    morsel = SimpleCookie(cookies(resp)[SESSION_COOKIE])[SESSION_COOKIE]
    assert morsel.value == "" and morsel["max-age"] == "0"


def test_a_new_sign_in_ends_the_previous_session(app, client, third, make_user):
    make_user("bob")
    _, first = signed_in(client, third)
    old = SimpleCookie(cookies(first)[SESSION_COOKIE])[SESSION_COOKIE].value
    signed_in(client, third, prompt="login", login_hint="bob")
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, old, domain="localhost")
    assert is_login_page(Flow.start(replay, third).authorize())


def test_the_form_is_validated_again_on_every_post(client, third):
    flow = Flow.start(client, third)
    form = hidden_fields(text(flow.authorize()))
    creds = {"username": "alice", "password": "correct horse battery"}
    evil = client.post("/oauth/authorize", data={**form, **creds, "redirect_uri": "https://evil.test/cb"})
    assert evil.status_code == 400 and "Location" not in evil.headers
    wider = client.post("/oauth/authorize", data={**form, **creds, "scope": "openid admin"})
    assert redirect_params(wider)["error"] == "invalid_scope"
    no_pkce = {k: v for k, v in form.items() if not k.startswith("code_challenge")}
    assert redirect_params(client.post("/oauth/authorize", data={**no_pkce, **creds}))["error"] == "invalid_request"


# ---------------------------------------------------------------- log out everywhere


def _access_token(client, third) -> str:
    flow, resp = signed_in(client, third)
    return flow.redeem(redirect_params(resp)["code"]).get_json()["access_token"]


def test_log_out_everywhere_ends_the_login_sessions(client, third):
    token = _access_token(client, third)
    resp = client.post("/oauth/sessions/revoke-all", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert is_login_page(Flow.start(client, third).authorize())


def test_users_revoke_sessions_ends_the_login_sessions_and_their_pending_codes(app, client, third):
    signed_in(client, third)
    flow = Flow.start(client, third)
    code = redirect_params(flow.authorize())["code"]
    cli_json(app, "users", "revoke-sessions", "alice")
    assert is_login_page(Flow.start(client, third).authorize())
    resp = flow.redeem(code)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"
