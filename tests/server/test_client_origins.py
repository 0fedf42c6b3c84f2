"""Client origins, the login default and per-client grace: ``authserver clients ...`` and what they change."""

from __future__ import annotations

import pytest
from json_api_calls import JsonApi
from lifecycle_helpers import cli_json
from lifecycle_helpers import run_cli
from token_asserts import claims

from authserver.admin.errors import AdminError
from authserver.admin.origins import checked_origin

SPA = ("clients", "create", "--name", "spa", "--client-id", "spa", "--public", "--first-party")
GRANTS = ("--grant", "password", "--grant", "refresh_token", "--scope", "read")


def test_create_with_origins_login_default_and_grace_and_list_them(app):
    created = cli_json(
        app,
        *SPA,
        *GRANTS,
        "--origin",
        "https://App.Example.com:443",
        "--origin",
        "http://localhost:5173",
        "--login-default",
        "--grace-seconds",
        "20",
    )
    assert created["origins"] == ["https://app.example.com", "http://localhost:5173"]
    assert created["login_default"] is True and created["grace_seconds"] == 20
    (listed,) = cli_json(app, "clients", "list")
    assert listed["origins"] == ["http://localhost:5173", "https://app.example.com"]
    assert listed["login_default"] is True and listed["grace_seconds"] == 20


def test_origins_can_be_added_and_removed_later(app):
    cli_json(app, *SPA, *GRANTS)
    added = cli_json(app, "clients", "add-origin", "spa", "https://app.example.com")
    assert added["origins"] == ["https://app.example.com"]
    api = JsonApi(app.test_client(use_cookies=False))
    headers = {"Origin": "https://app.example.com", "X-CSRF": "1"}
    assert api.login("nobody", "x", headers=headers).status_code == 401  # served: the origin is the client's
    removed = cli_json(app, "clients", "remove-origin", "spa", "https://app.example.com")
    assert removed["origins"] == []
    assert api.login("nobody", "x", headers=headers).status_code == 403  # at once: the store's cache is cleared
    assert run_cli(app, "clients", "remove-origin", "spa", "https://app.example.com").exit_code != 0


@pytest.mark.parametrize(
    "origin",
    ["https://*.example.com", "http://app.example.com", "https://app.example.com/path", "ftp://x", "app.example.com"],
)
def test_bad_origins_are_refused(app, origin):
    result = run_cli(app, *SPA, *GRANTS, "--origin", origin)
    assert result.exit_code != 0 and repr(origin) in result.output, result.output
    assert cli_json(app, "clients", "list") == []  # nothing registered


def test_an_origin_belongs_to_one_client(app):
    cli_json(app, *SPA, *GRANTS, "--origin", "https://app.example.com")
    other = ("clients", "create", "--name", "o", "--client-id", "o", "--public", "--first-party", *GRANTS)
    assert run_cli(app, *other, "--origin", "https://app.example.com").exit_code != 0
    cli_json(app, *other)
    assert run_cli(app, "clients", "add-origin", "o", "https://app.example.com").exit_code != 0


def test_production_takes_https_only_and_development_http_on_localhost_only():
    assert checked_origin("https://app.example.com", production=True) == "https://app.example.com"
    assert checked_origin("http://127.0.0.1:8080", production=False) == "http://127.0.0.1:8080"
    for origin in ("http://localhost:5173", "http://127.0.0.1"):
        with pytest.raises(AdminError):
            checked_origin(origin, production=True)
    with pytest.raises(AdminError):
        checked_origin("http://192.168.1.2", production=False)


def test_at_most_one_login_default(app):
    cli_json(app, *SPA, *GRANTS, "--login-default")
    second = ("clients", "create", "--name", "b", "--client-id", "b", "--public", "--first-party", *GRANTS)
    assert run_cli(app, *second, "--login-default").exit_code != 0
    cli_json(app, *second)
    cli_json(app, "clients", "set-login-default", "b")
    assert {c["client_id"]: c["login_default"] for c in cli_json(app, "clients", "list")} == {"b": True, "spa": False}
    api = JsonApi(app.test_client(use_cookies=False))
    from authserver.admin import users

    with app.app_context():
        users.create_user("alice", "correct horse battery")
    assert claims(api.login().json["accessToken"])["client_id"] == "b"


@pytest.mark.parametrize("seconds", ["-1", "301"])
def test_grace_seconds_out_of_range_are_refused(app, seconds):
    result = run_cli(app, *SPA, *GRANTS, "--grace-seconds", seconds)
    assert result.exit_code != 0 and "from 0 to 300 seconds" in result.output, result.output


def test_grace_seconds_can_be_changed(app):
    cli_json(app, *SPA, *GRANTS)
    assert cli_json(app, "clients", "set-grace-seconds", "spa", "30")["grace_seconds"] == 30
