"""CPU of one sign-in through the authorization code flow, next to the token endpoint's refresh, in process.

    .venv/bin/python -m bench.authorization_code [--backend sqlite|postgresql] [--rounds 7] [--per-round 200]

What a returning user costs: ``GET /oauth/authorize`` with the server's login-session cookie and the consent
already given, so it answers at once with a redirect carrying a code (no page), then the client's
``POST /oauth/token grant_type=authorization_code`` with that code and its PKCE ``code_verifier`` (scope
``openid``: an access token, an id_token and a refresh token in a new family). The reference, measured in the
same run and the same rounds: ``POST /oauth/token grant_type=refresh_token`` (one access token signed, one
rotation), the cheapest request that mints tokens.

Each round runs every operation ``per-round`` times through the Flask test client and takes
``time.process_time()`` around each request only (the client's, the app's and the driver's CPU in this one
process; the database server's CPU, on PostgreSQL, is not counted). Rounds alternate the operations so drift
hits them alike; the figure is the median over rounds of the mean per request. Cheap argon2 (the tests'
parameters): no password is verified in the measured requests anyway, the session stands for the sign-in.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import Flask

from authserver import clock
from authserver.admin import clients
from authserver.admin import users
from authserver.store import current_stores
from authserver.testing import apps
from authserver.testing import databases

PASSWORD = "authorization code bench password"
REDIRECT_URI = "https://app.bench/callback"
SCOPE = "openid read"
AUTHORIZE = "GET /oauth/authorize (session, consent given)"
REDEEM = "POST /oauth/token authorization_code"
REFRESH = "POST /oauth/token refresh_token"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = apps.development_keys(Path(tmp) / "keys")
        with databases.fresh_database(args.backend, Path(tmp), keys, prefix="authserver_bench") as database:
            app = create_bench_app(database.url, keys)
            report(measure(app, args.rounds, args.per_round), args)


def create_bench_app(url: str, keys: Path) -> Flask:
    from authserver import create_app

    return create_app(apps.app_config(url, keys, SCOPES="openid profile email read write"))


def provision(app: Flask) -> tuple[str, str, str]:
    """The user, a confidential third-party client, the user's consent and a login session: its cookie."""
    with app.app_context():
        user = users.create_user("bench", PASSWORD)
        _client, secret = clients.create_client(
            name="Bench app",
            client_id="bench-app",
            grant_types=["authorization_code", "refresh_token"],
            scopes=SCOPE.split(),
            redirect_uris=(REDIRECT_URI,),
        )
        assert secret is not None
        stores = current_stores()
        now = clock.now()
        stores.consents.grant(user.id, "bench-app", SCOPE.split(), now)
        _session_id, cookie_token = stores.login_sessions.start(user.id, now)
        cookie_name = "__Host-authserver_session" if apps.ISSUER.startswith("https://") else "authserver_session"
    return secret, f"{cookie_name}={cookie_token}", user.id


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def operations(app: Flask) -> dict[str, Callable[[], Callable[[], object]]]:
    """Each operation's set-up (untimed) returning the one request to time."""
    secret, cookie, _user_id = provision(app)
    http = app.test_client(use_cookies=False)
    basic = {"Authorization": "Basic " + base64.b64encode(f"bench-app:{secret}".encode()).decode()}
    state: dict[str, str] = {}

    def authorize_query(verifier: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": "bench-app",
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge(verifier),
            "code_challenge_method": "S256",
        }

    def code_of(resp) -> str:
        assert resp.status_code in (302, 303), (resp.status_code, resp.get_data(as_text=True)[:300])
        location = resp.headers["Location"]
        assert location.startswith(REDIRECT_URI), location
        return parse_qs(urlsplit(location).query)["code"][0]

    def authorize() -> Callable[[], object]:
        verifier = secrets.token_urlsafe(48)
        query = authorize_query(verifier)

        def run() -> object:
            resp = http.get("/oauth/authorize", query_string=query, headers={"Cookie": cookie})
            code_of(resp)
            return resp

        return run

    def redeem() -> Callable[[], object]:
        verifier = secrets.token_urlsafe(48)
        answer = http.get("/oauth/authorize", query_string=authorize_query(verifier), headers={"Cookie": cookie})
        form = {
            "grant_type": "authorization_code",
            "code": code_of(answer),
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }

        def run() -> object:
            resp = http.post("/oauth/token", data=form, headers=basic)
            assert resp.status_code == 200 and resp.json and "id_token" in resp.json, resp.get_data(as_text=True)
            state["refresh"] = resp.json["refresh_token"]
            return resp

        return run

    def refresh() -> Callable[[], object]:
        if "refresh" not in state:
            redeem()()
        token = state["refresh"]

        def run() -> object:
            form = {"grant_type": "refresh_token", "refresh_token": token}
            resp = http.post("/oauth/token", data=form, headers=basic)
            assert resp.status_code == 200 and resp.json, resp.get_data(as_text=True)
            state["refresh"] = resp.json["refresh_token"]
            return resp

        return run

    return {AUTHORIZE: authorize, REDEEM: redeem, REFRESH: refresh}


def measure(app: Flask, rounds: int, per_round: int) -> dict[str, list[float]]:
    ops = operations(app)
    means: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, prepare in ops.items():
            spent = 0.0
            for _ in range(per_round):
                request = prepare()
                started = time.process_time()
                request()
                spent += time.process_time() - started
            means[name].append(spent / per_round)
    return means


def report(means: dict[str, list[float]], args: argparse.Namespace) -> None:
    medians = {name: statistics.median(values) * 1000 for name, values in means.items()}
    base = medians[REFRESH]
    print(f"backend {args.backend}, {args.rounds} rounds x {args.per_round}")
    for name, ms in medians.items():
        print(f"  {name:48} {ms:7.3f} ms CPU/request  ({ms / base:4.2f}x the refresh)")
    both = medians[AUTHORIZE] + medians[REDEEM]
    print(f"  {'authorize + redeem (one returning sign-in)':48} {both:7.3f} ms CPU  ({both / base:4.2f}x the refresh)")


if __name__ == "__main__":
    main()
