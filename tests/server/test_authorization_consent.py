"""The consent page for clients that are not first-party: the client's name and the scopes in words, Allow and
Deny; a remembered consent skips it, ``prompt=consent`` shows it again, ``prompt=none`` without one is
``consent_required``; first-party clients never see it."""

from __future__ import annotations

import pytest
from authorization_flow import ISSUER
from authorization_flow import Flow
from authorization_flow import hidden_fields
from authorization_flow import redirect_params
from authorization_flow import register

from authserver.store import current_stores


@pytest.fixture
def third(app, make_user):
    make_user()
    return register(app, name="Photo Printer", scopes="openid profile email read frobnicate")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def is_consent_page(resp) -> bool:
    return resp.status_code == 200 and 'name="action" value="consent"' in text(resp)


def consent_page(client, third, **params):
    flow = Flow.start(client, third, **params)
    page = flow.authorize()
    if 'value="login"' in text(page):
        page = flow.sign_in(page)
    return flow, page


def test_consent_page_names_the_client_and_the_scopes_in_words(client, third):
    _, page = consent_page(client, third, scope="openid profile email frobnicate")
    body = text(page)
    assert is_consent_page(page)
    assert "Allow <strong>Photo Printer</strong> access to your account?" in body
    assert "Signed in as alice" in body
    assert "<li>See your name and username</li>" in body
    assert "<li>See your email address and whether it is verified</li>" in body
    assert "<li>frobnicate</li>" in body  # an unknown scope as it is
    assert "<li>Stay signed in: it can renew its access without asking you again</li>" in body  # refresh_token
    assert '<button type="submit" name="decision" value="allow">Allow</button>' in body
    assert ">Deny</button>" in body
    assert page.headers["X-Frame-Options"] == "DENY" and "<script" not in body


def test_allow_redirects_with_the_code_and_remembers_the_consent(app, client, third):
    flow, page = consent_page(client, third)
    resp = flow.decide(page, "allow")
    params = redirect_params(resp)
    assert resp.status_code == 303 and params["code"] and params["iss"] == ISSUER
    assert flow.redeem(params["code"]).status_code == 200
    again = Flow.start(client, third)
    assert redirect_params(again.authorize())["code"]  # no page the second time
    with app.app_context():
        user_id = current_stores().users.login("alice").id
        assert current_stores().consents.covers(user_id, third.client_id, ["openid", "profile"])


def test_a_wider_scope_asks_again(client, third):
    flow, page = consent_page(client, third, scope="openid")
    flow.decide(page)
    assert is_consent_page(Flow.start(client, third, scope="openid email").authorize())
    assert Flow.start(client, third, scope="openid").authorize().status_code == 302


def test_deny_redirects_with_access_denied_and_remembers_nothing(client, third):
    flow, page = consent_page(client, third)
    params = redirect_params(flow.decide(page, "deny"))
    assert params["error"] == "access_denied" and params["state"] == flow.params["state"]
    assert params["iss"] == ISSUER and "code" not in params
    assert is_consent_page(Flow.start(client, third).authorize())


def test_prompt_consent_shows_the_page_despite_a_remembered_consent(client, third):
    flow, page = consent_page(client, third)
    flow.decide(page)
    forced = Flow.start(client, third, prompt="consent")
    page = forced.authorize()
    assert is_consent_page(page)
    assert redirect_params(forced.decide(page))["code"]


def test_prompt_none_without_consent_is_consent_required(client, third):
    flow, page = consent_page(client, third)
    flow.decide(page, "deny")
    quiet = Flow.start(client, third, prompt="none")
    assert redirect_params(quiet.authorize())["error"] == "consent_required"


def test_prompt_login_with_consent_needed_does_not_loop(client, third):
    flow, page = consent_page(client, third)
    flow.decide(page)
    again = Flow.start(client, third, prompt="login consent")
    page = again.sign_in(again.authorize())
    assert is_consent_page(page)
    assert redirect_params(again.decide(page))["code"]


def test_a_stale_consent_form_cannot_skip_prompt_login(client, third, clock):
    flow, page = consent_page(client, third)
    form = hidden_fields(text(page))
    flow.decide(page)
    clock.advance(601)
    again = Flow.start(client, third, prompt="login")
    stale = {**form, **{k: v for k, v in again.params.items()}, "decision": "allow"}
    resp = client.post("/oauth/authorize", data=stale)
    assert resp.status_code == 200 and 'value="login"' in text(resp)


def test_first_party_clients_skip_the_consent_page(app, client, third):
    mine = register(app, "mine", first_party=True)
    code = Flow.start(client, mine).code()
    assert code
    with app.app_context():
        user_id = current_stores().users.login("alice").id
        assert current_stores().consents.list_for_user(user_id) == []


def test_the_consent_form_is_validated_again(client, third):
    _, page = consent_page(client, third)
    form = hidden_fields(text(page))
    resp = client.post("/oauth/authorize", data={**form, "scope": "openid admin", "decision": "allow"})
    assert redirect_params(resp)["error"] == "invalid_scope"
    resp = client.post("/oauth/authorize", data={**form, "client_id": "nobody", "decision": "allow"})
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_consent_without_the_forms_csrf_token_is_refused(client, third):
    _, page = consent_page(client, third)
    form = hidden_fields(text(page))
    del form["csrf_token"]
    resp = client.post("/oauth/authorize", data={**form, "decision": "allow"})
    assert resp.status_code == 403 and "Location" not in resp.headers
