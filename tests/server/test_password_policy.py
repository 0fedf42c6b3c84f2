"""Credentials: the password policy (NIST SP 800-63B §5.1.1.2: a minimum length and a blocklist, no
composition rules) through the real CLI, the transparent argon2 rehash when the parameters change,
and client secrets (an unknown client and a wrong secret are indistinguishable)."""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from conftest import _base_config
from sqlalchemy import select

from authserver import create_app
from authserver.cli.console import main
from authserver.extensions import db
from authserver.models import User

GOOD = "violet staple orbit 42"


@pytest.fixture
def cli(app):
    def run(*args: str, password: str) -> Result:
        return app.test_cli_runner().invoke(main, args=[*args, "--password-stdin"], input=password + "\n")

    return run


def stored_hash(app, username: str) -> str | None:
    with app.app_context():
        return db.session.execute(select(User.password_hash).where(User.username == username)).scalar_one_or_none()


def login(app, reg, username: str, password: str):
    return app.test_client().post(
        "/oauth/token", headers=reg.basic, data={"grant_type": "password", "username": username, "password": password}
    )


def assert_refused(result: Result, message: str) -> None:
    assert result.exit_code != 0, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short12", "password must be at least 8 characters"),
        ("", "password must be at least 8 characters"),
        ("x" * 1025, "password must be at most 1024 characters"),
        ("password123", "one of the most common passwords"),
        ("PassWord123", "one of the most common passwords"),
        ("PASSWORD123", "one of the most common passwords"),
        ("Qwerty123", "one of the most common passwords"),
    ],
)
def test_users_create_refuses_weak_passwords_with_a_clear_message(app, cli, password, message):
    assert_refused(cli("users", "create", "carol", password=password), message)
    assert stored_hash(app, "carol") is None


def test_users_create_accepts_a_good_password_that_then_logs_in(app, cli, make_client):
    result = cli("users", "create", "carol", password=GOOD)
    assert result.exit_code == 0, (result.output, result.exception)
    assert stored_hash(app, "carol").startswith("$argon2id$")
    assert login(app, make_client(), "carol", GOOD).status_code == 200


@pytest.mark.parametrize("limit", [8, 1024])
def test_the_length_bounds_are_inclusive(app, cli, limit):
    password = ("long enough " * 100)[:limit]
    assert cli("users", "create", f"u{limit}", password=password).exit_code == 0


def test_set_password_applies_the_same_policy_and_keeps_the_old_password(app, cli, make_user, make_client):
    make_user("carol", GOOD)
    assert_refused(cli("users", "set-password", "carol", password="PASSWORD123"), "most common")
    assert_refused(cli("users", "set-password", "carol", password="tiny"), "at least 8")
    assert login(app, make_client(), "carol", GOOD).status_code == 200


@pytest.mark.parametrize("config_overrides", [{"PASSWORD_MIN_LENGTH": 12}])
def test_minimum_length_follows_the_setting(cli):
    assert_refused(cli("users", "create", "carol", password="eleven char"), "at least 12 characters")
    assert cli("users", "create", "carol", password="twelve chars").exit_code == 0


def test_login_rehashes_transparently_when_argon2_parameters_change(
    app, database, keys_dir, clock, make_user, make_client
):
    make_user("carol", GOOD)  # the test app hashes with t=1
    reg = make_client()
    old = stored_hash(app, "carol")
    assert ",t=1," in old
    stronger = create_app(_base_config(database.url, keys_dir, CLOCK=clock, ARGON2_TIME_COST=2))
    try:
        assert login(stronger, reg, "carol", "not the password").status_code == 400
        assert stored_hash(app, "carol") == old, "a wrong password must not rehash"
        assert login(stronger, reg, "carol", GOOD).status_code == 200
        new = stored_hash(app, "carol")
        assert ",t=2," in new and new != old
        assert login(stronger, reg, "carol", GOOD).status_code == 200
        assert stored_hash(app, "carol") == new, "no rehash once the parameters match"
        assert login(app, reg, "carol", GOOD).status_code == 200
    finally:
        with stronger.app_context():
            db.session.remove()
            db.engine.dispose()


def test_unknown_client_and_wrong_secret_via_client_secret_post_are_identical(app, make_user, make_client):
    make_user("carol", GOOD)
    reg = make_client()

    def attempt(client_id: str, secret: str):
        return app.test_client().post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": "carol",
                "password": GOOD,
                "client_id": client_id,
                "client_secret": secret,
            },
        )

    wrong, unknown = attempt(reg.client_id, "wrong-secret"), attempt("no-such-client", "wrong-secret")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["error"] == "invalid_client"
    assert wrong.data == unknown.data
    # Every header alike but the date and the request id (new and random for every request).
    same = ("Date", "X-Request-Id")
    assert {k: v for k, v in wrong.headers if k not in same} == {k: v for k, v in unknown.headers if k not in same}
    assert attempt(reg.client_id, reg.secret).status_code == 200


def seed_demo(app) -> dict:
    result = app.test_cli_runner().invoke(main, args=["demo", "seed", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


def public_login(app, client_id: str, username: str, password: str):
    return app.test_client().post(
        "/oauth/token",
        data={"grant_type": "password", "username": username, "password": password, "client_id": client_id},
    )


def test_demo_seed_creates_the_articles_user_with_its_password_pass(app):
    seeded = seed_demo(app)
    assert (seeded["article_username"], seeded["article_password"]) == ("user", "pass")
    assert public_login(app, seeded["article_client_id"], "user", "pass").status_code == 200
    assert public_login(app, seeded["article_client_id"], "user", "wrong").status_code == 400
    again = seed_demo(app)  # `make run` seeds on every start: the second seed resets, never fails
    assert public_login(app, again["article_client_id"], "user", "pass").status_code == 200


def test_the_articles_password_is_refused_on_every_path_but_the_demo_seed(app, cli):
    assert_refused(cli("users", "create", "user", password="pass"), "at least 8 characters")
    assert stored_hash(app, "user") is None
    seed_demo(app)
    seeded = stored_hash(app, "user")
    for args in (("users", "set-password", "user"), ("users", "create", "other")):
        assert_refused(cli(*args, password="pass"), "at least 8 characters")
    assert stored_hash(app, "user") == seeded and stored_hash(app, "other") is None


@pytest.mark.parametrize("config_overrides", [{"PASSWORD_MIN_LENGTH": 4}])
def test_the_articles_password_is_a_common_password_where_the_length_allows_it(app, cli):
    assert_refused(cli("users", "create", "user", password="pass"), "one of the most common passwords")
    assert stored_hash(app, "user") is None
