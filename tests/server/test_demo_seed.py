"""``authserver demo seed`` (what ``make run`` runs on every start) sets up the article's client: the JSON API's
login default, registered for the browser app's origin (examples/browser_app under ``make browser-app``)."""

from __future__ import annotations

import base64
import json

from authserver.cli.console import main

BROWSER_APP = "http://127.0.0.1:8002"
BROWSER_HEADERS = {"Origin": BROWSER_APP, "X-CSRF": "1"}


def seed_demo(app) -> dict:
    result = app.test_cli_runner().invoke(main, args=["demo", "seed", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_demo_seed_makes_the_articles_client_the_login_default_of_the_json_api(app):
    for _ in range(2):  # every seed, as `make run` seeds on every start
        seeded = seed_demo(app)
        reply = app.test_client().post("/login", json={"username": "user", "password": "pass"})
        assert reply.status_code == 200, reply.json
        assert reply.json["refreshToken"] and reply.json["tokenType"] == "Bearer"
        assert claims(reply.json["accessToken"])["client_id"] == seeded["article_client_id"] == "demo-spa"


def test_demo_seed_registers_the_browser_apps_origin_for_cookie_mode_and_cors(app):
    seed_demo(app)
    seed_demo(app)  # registering it again is no error
    client = app.test_client()
    preflight = client.options("/auth/refresh", headers={"Origin": BROWSER_APP})
    assert preflight.headers.get("Access-Control-Allow-Origin") == BROWSER_APP
    login = client.post("/login", json={"username": "user", "password": "pass"}, headers=BROWSER_HEADERS)
    assert login.status_code == 200, login.json
    assert "refreshToken" not in login.json and "HttpOnly" in login.headers["Set-Cookie"]
    assert claims(login.json["accessToken"])["client_id"] == "demo-spa"


def test_demo_seed_leaves_the_browser_apps_origin_to_a_client_that_already_has_it(app, make_client):
    result = app.test_cli_runner().invoke(
        main,
        args=[
            *("clients", "create", "--name", "spa", "--public", "--first-party", "--grant", "password"),
            *("--grant", "refresh_token", "--scope", "read", "--origin", BROWSER_APP, "--client-id", "mine"),
        ],
    )
    assert result.exit_code == 0, result.output
    seed_demo(app)
    login = app.test_client().post("/login", json={"username": "user", "password": "pass"}, headers=BROWSER_HEADERS)
    assert login.status_code == 200, login.json
    assert claims(login.json["accessToken"])["client_id"] == "mine"
