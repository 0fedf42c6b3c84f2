"""One rule for usernames (issue 12, item 14): a username is its normal form (NFKC case folding), at
creation, at login, in the ``users`` CLI and in the throttle's lock key. Before, usernames were
case-sensitive but the lock key was lower-cased: five failures on ``alice`` locked the distinct
account ``Alice``."""

from __future__ import annotations

import json

import jwt
import pytest

from authserver.cli.console import main

PASSWORD = "correct horse battery"
WRONG = "wrong-password-14"
FULL_WIDTH = "\uff21\uff4c\uff49\uff43\uff45"  # "Alice" in full-width letters


@pytest.fixture
def config_overrides():
    return {"BRUTE_FORCE_MAX_FAILURES": 3}


def cli(app, *args, stdin=None):
    return app.test_cli_runner().invoke(main, args=list(args), input=stdin)


def test_login_finds_the_user_in_any_case_or_width(make_user, make_client, oauth):
    sub = make_user("Alice", PASSWORD)
    reg = make_client()
    for spelling in ("Alice", "alice", "ALICE", FULL_WIDTH, " alice "):
        resp = oauth.password(reg, username=spelling)
        assert resp.status_code == 200, (spelling, resp.data)
    assert oauth.password(reg, username="alicia").status_code == 400
    claims = jwt.decode(oauth.password(reg, username="ALICE").json["access_token"], options={"verify_signature": False})
    assert claims["sub"] == sub


def test_a_username_differing_only_in_case_or_width_cannot_be_created(app, make_user):
    make_user("alice", PASSWORD)
    for spelling in ("Alice", "ALICE", FULL_WIDTH):
        result = cli(app, "users", "create", spelling, "--password-stdin", stdin=PASSWORD + "\n")
        assert result.exit_code == 1, result.output
        assert "is taken: it is the same username as 'alice'" in result.output
    listed = cli(app, "users", "list", "--json")
    assert [u["username"] for u in json.loads(listed.stdout)] == ["alice"]


def test_the_name_as_created_is_kept_for_display(app, make_user):
    make_user("Alice", PASSWORD)
    listed = cli(app, "users", "list")
    assert listed.output.startswith("Alice\t")


def test_failures_under_one_spelling_lock_the_one_account_under_every_spelling(app, make_user, make_client, oauth):
    make_user("Alice", PASSWORD)
    reg = make_client()
    for spelling in (FULL_WIDTH, "ALICE", "alice"):
        assert oauth.password(reg, username=spelling, password=WRONG).status_code == 400
    locked = oauth.password(reg, username="Alice")
    assert locked.status_code == 400 and locked.headers["Retry-After"] == "60"
    assert cli(app, "users", "unlock", FULL_WIDTH).exit_code == 0
    assert oauth.password(reg, username="Alice").status_code == 200


def test_failures_on_another_username_never_lock_this_one(make_user, make_client, oauth):
    make_user("Alice", PASSWORD)
    make_user("Alicia", PASSWORD)
    reg = make_client()
    for _ in range(3):
        assert oauth.password(reg, username="alicia", password=WRONG).status_code == 400
    assert oauth.password(reg, username="ALICE").status_code == 200


def test_the_users_cli_finds_the_user_in_any_spelling(app, make_user, make_client, oauth):
    make_user("Alice", PASSWORD)
    reg = make_client()
    result = cli(app, "users", "set-password", "ALICE", "--password-stdin", stdin="another long password\n")
    assert result.exit_code == 0, result.output
    assert oauth.password(reg, username="alice", password="another long password").status_code == 200
    assert cli(app, "users", "disable", FULL_WIDTH).exit_code == 0
    assert oauth.password(reg, username="Alice", password="another long password").status_code == 400


def test_a_username_whose_normal_form_is_too_long_is_refused(app):
    result = cli(app, "users", "create", "\ufdfa" * 10, "--password-stdin", stdin=PASSWORD + "\n")  # 18 letters each
    assert result.exit_code == 1
    assert "username must be 1 to 150 characters" in result.output
