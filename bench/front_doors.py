"""CPU per request of the JSON API (POST /login, /auth/refresh) next to the token endpoint's, in process.

    .venv/bin/python -m bench.front_doors [--backend sqlite|postgresql] [--rounds 7] [--per-round 200] [--real-argon2]

Each round runs every operation ``per-round`` times through the Flask test client and takes
``time.process_time()`` around each request only (the client's, the app's and the driver's CPU in this
one process; the database server's CPU, on PostgreSQL, is not counted). Rounds alternate the
operations so drift hits them alike; the figure is the median over rounds of the mean per request.
Cheap argon2 by default (the tests' parameters), so the front door's own cost is not buried under the
hash; ``--real-argon2`` uses the server's defaults.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from authserver import create_app
from authserver.admin import clients
from authserver.admin import users
from authserver.testing import apps
from authserver.testing import databases

PASSWORD = "front door bench password"
ORIGIN = "https://app.bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--real-argon2", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = apps.development_keys(Path(tmp) / "keys")
        with databases.fresh_database(args.backend, Path(tmp), keys, prefix="authserver_bench") as database:
            extra = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_KIB": 19456} if args.real_argon2 else {}
            app = create_app(apps.app_config(database.url, keys, IP_MAX_FAILURES=10**6, **extra))
            with app.app_context():
                users.create_user("bench", PASSWORD)
                clients.create_client(
                    name="web",
                    client_id="web",
                    grant_types=["password", "refresh_token"],
                    scopes=["read"],
                    public=True,
                    first_party=True,
                    origins=(ORIGIN,),
                    login_default=True,
                )
            report(measure(app, args.rounds, args.per_round), args)


def operations(app) -> dict[str, Callable[[], Callable[[], object]]]:
    """Each operation's set-up (untimed) returning the one request to time."""
    http = app.test_client(use_cookies=False)
    form_login = {"grant_type": "password", "client_id": "web", "username": "bench", "password": PASSWORD}
    json_login = json.dumps({"username": "bench", "password": PASSWORD})
    browser = {"Origin": ORIGIN, "X-CSRF": "1"}
    state: dict[str, str] = {}

    def form_refresh() -> Callable[[], object]:
        token = state.get("form") or http.post("/oauth/token", data=form_login).json["refresh_token"]

        def run() -> object:
            resp = http.post(
                "/oauth/token", data={"grant_type": "refresh_token", "client_id": "web", "refresh_token": token}
            )
            state["form"] = resp.json["refresh_token"]
            return resp

        return run

    def json_refresh() -> Callable[[], object]:
        token = (
            state.get("json")
            or http.post("/login", data=json_login, content_type="application/json").json["refreshToken"]
        )

        def run() -> object:
            resp = http.post("/auth/refresh", data=json.dumps({"refreshToken": token}), content_type="application/json")
            state["json"] = resp.json["refreshToken"]
            return resp

        return run

    def cookie_refresh() -> Callable[[], object]:
        cookie = state.get("cookie")
        if cookie is None:
            resp = http.post("/login", data=json_login, content_type="application/json", headers=browser)
            cookie = resp.headers["Set-Cookie"].split(";")[0]

        def run() -> object:
            resp = http.post(
                "/auth/refresh", data="{}", content_type="application/json", headers={**browser, "Cookie": cookie}
            )
            state["cookie"] = resp.headers["Set-Cookie"].split(";")[0]
            return resp

        return run

    return {
        "POST /oauth/token password": lambda: lambda: http.post("/oauth/token", data=form_login),
        "POST /login (body mode)": lambda: (
            lambda: http.post("/login", data=json_login, content_type="application/json")
        ),
        "POST /login (cookie mode)": lambda: (
            lambda: http.post("/login", data=json_login, content_type="application/json", headers=browser)
        ),
        "POST /oauth/token refresh_token": form_refresh,
        "POST /auth/refresh (body mode)": json_refresh,
        "POST /auth/refresh (cookie mode)": cookie_refresh,
    }


def measure(app, rounds: int, per_round: int) -> dict[str, list[float]]:
    ops = operations(app)
    means: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, prepare in ops.items():
            spent = 0.0
            for _ in range(per_round):
                request = prepare()
                started = time.process_time()
                resp = request()
                spent += time.process_time() - started
                assert getattr(resp, "status_code", 0) == 200, (name, resp)
            means[name].append(spent / per_round)
    return means


def report(means: dict[str, list[float]], args: argparse.Namespace) -> None:
    medians = {name: statistics.median(values) * 1000 for name, values in means.items()}
    print(f"backend {args.backend}, {args.rounds} rounds x {args.per_round}, real argon2: {args.real_argon2}")
    for name, ms in medians.items():
        base = medians[
            "POST /oauth/token password" if "login" in name or "password" in name else "POST /oauth/token refresh_token"
        ]
        print(f"  {name:34} {ms:7.3f} ms CPU/request  ({(ms / base - 1) * 100:+5.1f}% vs the token endpoint)")


if __name__ == "__main__":
    main()
