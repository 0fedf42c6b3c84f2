"""Remembered consents through the CLI: ``authserver users consents USERNAME`` lists them,
``authserver users revoke-consent USERNAME CLIENT_ID`` withdraws one and ends exactly that client's
refresh-token families for that user (the user's other clients and the client's other users untouched),
and the client's next authorization request shows the consent page again.

Consents are given on the consent page and families started by redeeming codes, through HTTP.
"""

from __future__ import annotations

import pytest
from authorization_flow import App
from authorization_flow import Flow
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import capture_events
from lifecycle_helpers import cli_json
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs
from lifecycle_helpers import refresh_rows
from lifecycle_helpers import run_cli

CODE = ("authorization_code", "refresh_token")


def third_party(make_client, client_id: str, **kw) -> App:
    uri = f"https://{client_id}.example/cb"
    reg = make_client(client_id, grants=CODE, first_party=False, scopes="read write", redirect_uris=(uri,), **kw)
    return App(reg.client_id, reg.secret, (uri,))


def signed_in(browser, app_: App, username: str = "alice", scope: str = "read") -> dict:
    """One authorization (sign-in and consent when asked) and its redemption: a new family's tokens."""
    flow = Flow.start(browser, app_, scope=scope, nonce=None)
    return assert_tokens(flow.redeem(flow.code(username)))


@pytest.fixture
def world(app, clock, make_user, make_client, oauth):
    """alice allowed printer (two logins, one rotated within printer's grace window) and gallery; bob
    allowed printer; alice also uses the first-party web app (password grant)."""
    ids = {"alice": make_user(), "bob": make_user("bob")}
    # A refresh token is introspectable by its holder only.
    printer = third_party(make_client, "printer", grace_seconds=30, introspect=True)
    gallery = third_party(make_client, "gallery")
    web = make_client("web")
    alice, bob = app.test_client(), app.test_client()  # two browsers
    first = signed_in(alice, printer)
    clock.advance(5)
    gallery_tokens = signed_in(alice, gallery, scope="read write")
    rotated = assert_tokens(oauth.refresh(printer, first["refresh_token"]))
    again = signed_in(alice, printer)  # the session and the consent skip both pages
    return {
        "ids": ids,
        "printer": printer,
        "browsers": {"alice": alice, "bob": bob},
        "alice_printer_access": rotated["access_token"],
        "rs": make_rs(make_client),
        "alice_printer_used": first["refresh_token"],  # within the grace window its successor is kept sealed
        "alice_printer": [rotated["refresh_token"], again["refresh_token"]],
        "alice_gallery": (gallery, gallery_tokens["refresh_token"]),
        "alice_web": (web, assert_tokens(oauth.password(web))["refresh_token"]),
        "bob_printer": signed_in(bob, printer, "bob")["refresh_token"],
    }


def test_consents_lists_each_client_with_its_name_scopes_and_time(app, world, clock):
    listed = cli_json(app, "users", "consents", "ALICE")  # any spelling of the username
    assert listed == [
        {"client_id": "gallery", "client_name": "gallery", "scopes": ["read", "write"], "granted_at": clock.now()},
        {"client_id": "printer", "client_name": "printer", "scopes": ["read"], "granted_at": clock.now() - 5},
    ]
    text = run_cli(app, "users", "consents", "alice")
    assert text.exit_code == 0 and "printer\tprinter\tread\t" in text.output, text.output


def test_consents_of_a_user_without_any(app, make_user):
    make_user("carol")
    assert cli_json(app, "users", "consents", "carol") == []
    assert "carol has consented to no client" in run_cli(app, "users", "consents", "carol").output


def test_revoke_consent_ends_that_clients_families_for_that_user_only(app, world, oauth, client):
    printer = world["printer"]
    out = cli_json(app, "users", "revoke-consent", "alice", "printer")
    assert out == {"username": "alice", "client_id": "printer", "revoked_refresh_tokens": 3}
    for token in world["alice_printer"]:
        assert introspect(client, printer, token) == INACTIVE
        assert_error(oauth.refresh(printer, token), 400, "invalid_grant")
    assert introspect(client, world["rs"], world["alice_printer_access"]) == INACTIVE
    # Untouched: bob's family with printer, alice's with the other clients, and the other consents.
    bob = assert_tokens(oauth.refresh(printer, world["bob_printer"]))
    assert introspect(client, world["rs"], bob["access_token"])["active"] is True
    for reg, token in (world["alice_gallery"], world["alice_web"]):
        assert_tokens(oauth.refresh(reg, token))
    assert [c["client_id"] for c in cli_json(app, "users", "consents", "alice")] == ["gallery"]
    assert [c["client_id"] for c in cli_json(app, "users", "consents", "bob")] == ["printer"]


def test_revoke_consent_erases_the_sealed_successor_so_a_replay_in_the_grace_window_fails(app, world, oauth):
    printer, used = world["printer"], world["alice_printer_used"]
    alice = world["ids"]["alice"]
    assert any(r["successor_sealed"] is not None for r in refresh_rows(app) if r["user_id"] == alice)
    cli_json(app, "users", "revoke-consent", "alice", "printer")
    assert_error(oauth.refresh(printer, used), 400, "invalid_grant")
    assert all(r["successor_sealed"] is None for r in refresh_rows(app) if r["client_id"] == "printer")


def test_withdrawal_is_audited_without_token_values(app, world):
    with capture_events() as events:
        cli_json(app, "users", "revoke-consent", "alice", "printer")
    [record] = events.named("consent.revoked")
    assert (record.user_id, record.client_id, record.revoked_refresh_tokens) == (world["ids"]["alice"], "printer", 3)
    for token in world["alice_printer"]:
        assert token not in events.rendered(record)


@pytest.mark.parametrize(
    ("username", "client_id", "message"),
    [
        ("nobody", "printer", "no user 'nobody'"),
        ("alice", "web", "user 'alice' has not consented to client 'web'"),
        ("alice", "unknown", "user 'alice' has not consented to client 'unknown'"),
    ],
)
def test_revoke_consent_without_that_consent_fails_and_changes_nothing(app, world, oauth, username, client_id, message):
    before = refresh_rows(app)
    result = run_cli(app, "users", "revoke-consent", username, client_id, "--json")
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert result.stdout == ""
    assert refresh_rows(app) == before
    assert [c["client_id"] for c in cli_json(app, "users", "consents", "alice")] == ["gallery", "printer"]
    assert_tokens(oauth.refresh(world["printer"], world["alice_printer"][1]))


def test_consents_of_an_unknown_user_fails(app):
    result = run_cli(app, "users", "consents", "nobody")
    assert result.exit_code == 1 and "no user 'nobody'" in result.stderr


def test_after_withdrawal_the_client_asks_again_and_a_new_consent_starts_afresh(app, world, clock):
    cli_json(app, "users", "revoke-consent", "alice", "printer")
    clock.advance(60)
    flow = Flow.start(world["browsers"]["alice"], world["printer"], scope="read", nonce=None)
    page = flow.authorize()  # still signed in: straight to the consent page
    assert page.status_code == 200 and 'value="consent"' in page.get_data(as_text=True)
    code = flow.decide(page)
    assert code.status_code in (302, 303)
    listed = {c["client_id"]: c for c in cli_json(app, "users", "consents", "alice")}
    assert listed["printer"]["granted_at"] == clock.now() and listed["printer"]["scopes"] == ["read"]


def test_a_code_issued_before_the_withdrawal_cannot_be_redeemed_after_it(app, world, make_client):
    printer = world["printer"]
    flow = Flow.start(world["browsers"]["alice"], printer, scope="read", nonce=None)
    code = flow.code("alice")  # session and consent skip both pages: a code at once
    cli_json(app, "users", "revoke-consent", "alice", "printer")
    assert_error(flow.redeem(code), 400, "invalid_grant")
    assert not any(
        r["client_id"] == "printer" and r["revoked_at"] is None
        for r in refresh_rows(app)
        if r["user_id"] == world["ids"]["alice"]
    )
