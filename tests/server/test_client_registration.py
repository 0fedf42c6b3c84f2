"""Registering third-party clients with redirect URIs: ``authserver clients create --redirect-uri ...``,
``add-redirect-uri``, ``remove-redirect-uri``, and what ``list`` and ``show`` say about them."""

from __future__ import annotations

import pytest
from lifecycle_helpers import cli_json
from lifecycle_helpers import run_cli

CODE_CLIENT = (
    "clients",
    "create",
    "--name",
    "Photo Printer",
    "--client-id",
    "printer",
    "--grant",
    "authorization_code",
    "--grant",
    "refresh_token",
    "--scope",
    "read",
)


def test_create_registers_redirect_and_post_logout_uris_in_order_and_list_and_show_them(app):
    created = cli_json(
        app,
        *CODE_CLIENT,
        "--redirect-uri",
        "https://printer.example/callback",
        "--redirect-uri",
        "http://127.0.0.1:8003/callback",
        "--redirect-uri",
        "com.example.printer:/oauth2redirect",
        "--redirect-uri",
        "https://printer.example/callback",  # given twice, registered once
        "--post-logout-redirect-uri",
        "https://printer.example/",
    )
    uris = ["https://printer.example/callback", "http://127.0.0.1:8003/callback", "com.example.printer:/oauth2redirect"]
    assert created["redirect_uris"] == uris
    assert created["post_logout_redirect_uris"] == ["https://printer.example/"]
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["client_secret"]  # confidential unless --public
    (listed,) = cli_json(app, "clients", "list")
    assert listed["redirect_uris"] == uris
    assert listed["post_logout_redirect_uris"] == ["https://printer.example/"]
    shown = cli_json(app, "clients", "show", "printer")
    assert shown == listed
    text = run_cli(app, "clients", "show", "printer")
    assert text.exit_code == 0 and "redirect_uris: " + " ".join(uris) in text.output, text.output


def test_a_public_first_party_code_client_gets_no_secret(app):
    created = cli_json(app, *CODE_CLIENT, "--public", "--first-party", "--redirect-uri", "https://printer.example/cb")
    assert created["public"] is True and created["first_party"] is True
    assert "client_secret" not in created


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://printer.example/cb#done", "no fragment"),
        ("http://printer.example/cb", "loopback IP literals only"),
        ("http://localhost:8003/cb", "not localhost"),
        ("printer:/cb", "private-use scheme"),
        ("/callback", "absolute"),
        ("https://user:pw@printer.example/cb", "no user information"),
        ("https://printer.example/c b", "no whitespace"),
        ("https:///cb", "names a host"),
        ("https://printer.example:99999/cb", "not a valid URI"),
    ],
)
@pytest.mark.parametrize("option", ["--redirect-uri", "--post-logout-redirect-uri"])
def test_a_redirect_uri_breaking_a_rule_is_refused_naming_it_and_why(app, uri, reason, option):
    good = ("--redirect-uri", "https://printer.example/ok") if option != "--redirect-uri" else ()
    result = run_cli(app, *CODE_CLIENT, *good, option, uri, "--json")
    assert result.exit_code == 1, result.output
    assert repr(uri) in result.stderr and reason in result.stderr, result.stderr
    assert result.stdout == "" and "Traceback" not in result.output
    assert cli_json(app, "clients", "list") == []  # nothing registered


def test_the_authorization_code_grant_needs_a_redirect_uri(app):
    result = run_cli(app, *CODE_CLIENT, "--post-logout-redirect-uri", "https://printer.example/")
    assert result.exit_code == 1 and "needs at least one redirect URI" in result.stderr, result.output
    assert cli_json(app, "clients", "list") == []


@pytest.mark.parametrize("option", ["--redirect-uri", "--post-logout-redirect-uri"])
def test_a_redirect_uri_without_the_authorization_code_grant_is_refused(app, option):
    result = run_cli(
        app, "clients", "create", "--name", "svc", "--grant", "client_credentials", option, "https://svc.example/cb"
    )
    assert result.exit_code == 1 and "--grant authorization_code" in result.stderr, result.output
    assert cli_json(app, "clients", "list") == []


def test_redirect_uris_can_be_added_and_removed_later(app):
    cli_json(app, *CODE_CLIENT, "--redirect-uri", "https://printer.example/cb")
    added = cli_json(app, "clients", "add-redirect-uri", "printer", "http://[::1]:9000/cb")
    assert added["redirect_uris"] == ["https://printer.example/cb", "http://[::1]:9000/cb"]
    added = cli_json(app, "clients", "add-redirect-uri", "printer", "https://printer.example/", "--post-logout")
    assert added["post_logout_redirect_uris"] == ["https://printer.example/"]
    assert added["redirect_uris"] == ["https://printer.example/cb", "http://[::1]:9000/cb"]

    removed = cli_json(app, "clients", "remove-redirect-uri", "printer", "https://printer.example/cb")
    assert removed["redirect_uris"] == ["http://[::1]:9000/cb"]
    removed = cli_json(app, "clients", "remove-redirect-uri", "printer", "https://printer.example/", "--post-logout")
    assert removed["post_logout_redirect_uris"] == []
    re_added = cli_json(app, "clients", "add-redirect-uri", "printer", "https://printer.example/cb")
    assert re_added["redirect_uris"] == ["http://[::1]:9000/cb", "https://printer.example/cb"]  # at the end
    assert cli_json(app, "clients", "show", "printer")["redirect_uris"] == re_added["redirect_uris"]


def test_adding_a_bad_or_duplicate_redirect_uri_is_refused_and_changes_nothing(app):
    cli_json(app, *CODE_CLIENT, "--redirect-uri", "https://printer.example/cb")
    bad = run_cli(app, "clients", "add-redirect-uri", "printer", "https://printer.example/cb#x")
    assert bad.exit_code == 1 and "'https://printer.example/cb#x'" in bad.stderr and "fragment" in bad.stderr
    twice = run_cli(app, "clients", "add-redirect-uri", "printer", "https://printer.example/cb")
    assert twice.exit_code == 1 and "already has redirect URI" in twice.stderr, twice.output
    unknown = run_cli(app, "clients", "add-redirect-uri", "nobody", "https://printer.example/cb")
    assert unknown.exit_code == 1 and "no client 'nobody'" in unknown.stderr
    assert cli_json(app, "clients", "show", "printer")["redirect_uris"] == ["https://printer.example/cb"]


def test_a_client_without_the_code_grant_cannot_get_redirect_uris_later(app):
    cli_json(app, "clients", "create", "--name", "svc", "--client-id", "svc", "--grant", "client_credentials")
    result = run_cli(app, "clients", "add-redirect-uri", "svc", "https://svc.example/cb")
    assert result.exit_code == 1 and "authorization_code" in result.stderr, result.output
    assert cli_json(app, "clients", "show", "svc")["redirect_uris"] == []


def test_the_last_redirect_uri_of_a_code_client_cannot_be_removed(app):
    cli_json(app, *CODE_CLIENT, "--redirect-uri", "https://printer.example/cb")
    last = run_cli(app, "clients", "remove-redirect-uri", "printer", "https://printer.example/cb")
    assert last.exit_code == 1 and "last redirect URI" in last.stderr, last.output
    missing = run_cli(app, "clients", "remove-redirect-uri", "printer", "https://other.example/cb")
    assert missing.exit_code == 1 and "has no redirect URI 'https://other.example/cb'" in missing.stderr
    wrong_kind = run_cli(
        app, "clients", "remove-redirect-uri", "printer", "https://printer.example/cb", "--post-logout"
    )
    assert wrong_kind.exit_code == 1 and "has no post-logout redirect URI" in wrong_kind.stderr
    assert cli_json(app, "clients", "show", "printer")["redirect_uris"] == ["https://printer.example/cb"]


def test_show_of_an_unknown_client_fails(app):
    result = run_cli(app, "clients", "show", "nobody", "--json")
    assert result.exit_code == 1 and "no client 'nobody'" in result.stderr and result.stdout == ""
