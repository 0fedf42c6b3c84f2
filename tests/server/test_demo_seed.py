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


THIRD_PARTY_APP = "http://127.0.0.1:8003"


def token_endpoint_accepts(app, client_id: str, secret: str) -> bool:
    """The secret authenticates the client: a made-up code is ``invalid_grant``, not ``invalid_client``."""
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    reply = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "made-up", "redirect_uri": f"{THIRD_PARTY_APP}/callback"},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert reply.status_code in (400, 401), reply.json
    return reply.json["error"] == "invalid_grant"


def test_demo_seed_registers_the_third_party_apps_client_for_the_code_flow(app):
    seeded = seed_demo(app)
    shown = app.test_cli_runner().invoke(main, args=["clients", "show", "demo-third-party", "--json"])
    assert shown.exit_code == 0, shown.output
    client = json.loads(shown.output)
    assert client["redirect_uris"] == [f"{THIRD_PARTY_APP}/callback"]
    assert client["post_logout_redirect_uris"] == [f"{THIRD_PARTY_APP}/"]
    assert client["public"] is False and client["first_party"] is False  # confidential; the consent page shows
    assert set(client["scopes"]) == {"openid", "profile", "email", "read"}
    assert set(client["grant_types"]) == {"authorization_code", "refresh_token"}
    assert seeded["third_party_client_id"] == "demo-third-party"
    assert token_endpoint_accepts(app, "demo-third-party", seeded["third_party_client_secret"])


def test_demo_seed_keeps_the_third_party_secret_and_third_party_secret_renews_it(app):
    first = seed_demo(app)["third_party_client_secret"]
    again = seed_demo(app)  # `make run` restarted: a running `make third-party-app` keeps working
    assert "third_party_client_secret" not in again
    assert token_endpoint_accepts(app, "demo-third-party", first)

    renewed = app.test_cli_runner().invoke(main, args=["demo", "third-party-secret"])
    assert renewed.exit_code == 0, renewed.output
    secret = renewed.output.strip()
    assert secret and secret != first and "\n" not in secret
    assert token_endpoint_accepts(app, "demo-third-party", secret)
    assert not token_endpoint_accepts(app, "demo-third-party", first)


def test_demo_seed_gives_the_demo_user_a_profile_for_userinfo(app):
    seed_demo(app)
    listed = app.test_cli_runner().invoke(main, args=["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    demo = next(u for u in json.loads(listed.output) if u["username"] == "demo")
    assert demo["name"] == "Demo User" and demo["email"] == "demo@example.test" and demo["email_verified"] is True


def test_third_party_secret_without_the_seed_says_to_run_it(app):
    result = app.test_cli_runner().invoke(main, args=["demo", "third-party-secret"])
    assert result.exit_code == 1 and "demo seed" in result.output
