"""``authserver users create/update --name --email --email-verified``: the profile OpenID Connect releases."""

from __future__ import annotations

import json

import pytest
from click.testing import Result

from authserver.cli.console import main

PASSWORD = "a long enough password"


@pytest.fixture
def cli(app):
    def run(*args: str, input: str | None = None) -> Result:
        return app.test_cli_runner().invoke(main, args=list(args), input=input)

    return run


def _ok(result: Result) -> dict:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _create(cli, *options: str) -> Result:
    return cli("users", "create", "alice", "--password-stdin", *options, "--json", input=PASSWORD + "\n")


def test_create_with_a_profile_stores_and_shows_it(cli):
    user = _ok(_create(cli, "--name", "Alice Liddell", "--email", "alice@example.com", "--email-verified"))
    assert (user["name"], user["email"], user["email_verified"]) == ("Alice Liddell", "alice@example.com", True)
    listed = _ok(cli("users", "list", "--json"))
    assert listed[0]["email"] == "alice@example.com"


def test_create_without_a_profile_leaves_it_empty(cli):
    user = _ok(_create(cli))
    assert (user["name"], user["email"], user["email_verified"]) == (None, None, False)


@pytest.mark.parametrize(
    "options, message",
    [
        (("--email", "not-an-address"), "not an email address"),
        (("--email", "alice@localhost"), "not an email address"),
        (("--email", "a b@example.com"), "not an email address"),
        (("--email", "a" * 65 + "@example.com"), "at most"),
        (("--name", "x" * 201), "at most 200"),
        (("--name", "Alice\nEve"), "control characters"),
        (("--email-verified",), "needs an email"),
    ],
)
def test_create_refuses_a_bad_profile_and_creates_nobody(cli, options, message):
    result = _create(cli, *options)
    assert result.exit_code != 0
    assert message in result.output
    assert _ok(cli("users", "list", "--json")) == []


def test_update_changes_only_what_is_given(cli):
    _ok(_create(cli, "--name", "Alice", "--email", "alice@example.com", "--email-verified"))
    user = _ok(cli("users", "update", "ALICE", "--name", "Alice Liddell", "--json"))
    assert (user["name"], user["email"], user["email_verified"]) == ("Alice Liddell", "alice@example.com", True)


def test_update_to_a_new_email_makes_it_unverified_unless_said(cli):
    _ok(_create(cli, "--email", "alice@example.com", "--email-verified"))
    user = _ok(cli("users", "update", "alice", "--email", "alice@wonderland.example", "--json"))
    assert user["email_verified"] is False
    user = _ok(cli("users", "update", "alice", "--email-verified", "--json"))
    assert user["email_verified"] is True
    user = _ok(cli("users", "update", "alice", "--no-email-verified", "--json"))
    assert user["email_verified"] is False


def test_update_with_empty_values_clears_the_profile(cli):
    _ok(_create(cli, "--name", "Alice", "--email", "alice@example.com", "--email-verified"))
    user = _ok(cli("users", "update", "alice", "--name", "", "--email", "", "--json"))
    assert (user["name"], user["email"], user["email_verified"]) == (None, None, False)


def test_update_of_an_unknown_user_fails_with_a_message(cli):
    result = cli("users", "update", "nobody", "--name", "X")
    assert result.exit_code != 0
    assert "no user 'nobody'" in result.output


def test_update_refuses_a_bad_email_and_keeps_the_old_one(cli):
    _ok(_create(cli, "--email", "alice@example.com"))
    result = cli("users", "update", "alice", "--email", "nope")
    assert result.exit_code != 0
    assert _ok(cli("users", "list", "--json"))[0]["email"] == "alice@example.com"
