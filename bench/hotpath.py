"""The server's own Python CPU per request, in process: the WSGI app called directly (no sockets, no HTTP
server), on a fresh PostgreSQL database, production-like settings (``--set LOG_LEVEL=WARNING`` and the
like; events to /dev/null).

    .venv/bin/python -m bench.hotpath [--requests 3000] [--scenarios refresh,client_credentials,introspect]
                                      [--profile N]   # cProfile: the top N functions by own time

Figures are CPU time of this process (``time.process_time``) per request: PostgreSQL's share is not in
them, and neither is the HTTP server's. It is the part of a request's cost our code decides, measured
steadily even on a shared machine (wrk's req/s there is not). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import io
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from authserver import create_app
from authserver.testing import apps
from authserver.testing.databases import fresh_database


def _environ(path: str, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
    body = urlencode(form).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if basic is not None:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    return environ


def _call(app: Any, path: str, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(app(_environ(path, form, basic), lambda s, h, e=None: status.append(s)))
    return status[0], body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--scenarios", default="refresh,client_credentials,introspect")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="e.g. LOG_LEVEL=WARNING")
    args = parser.parse_args(argv)
    import json
    import os

    logging.getLogger("authserver").handlers.clear()
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory() as tmp,
        fresh_database("postgresql", Path(tmp), Path(tmp) / "keys") as db,
    ):
        overrides: dict[str, Any] = {k: int(v) if v.isdigit() else v for k, v in (i.split("=", 1) for i in args.set)}
        config = apps.app_config(db.url, Path(tmp) / "keys", **{"LOG_LEVEL": "INFO", **overrides})
        app = create_app(config)
        devnull = stack.enter_context(open(os.devnull, "w"))
        for handler in logging.getLogger("authserver").handlers:
            handler.stream = devnull  # type: ignore[attr-defined]
        from authserver.admin import clients
        from authserver.admin import users

        with app.app_context():
            users.create_user("alice", "correct horse battery")
            _, secret = clients.create_client(
                name="app",
                client_id="app",
                grant_types=["password", "refresh_token"],
                scopes=["read", "write"],
                first_party=True,
            )
            _, svc = clients.create_client(
                name="svc", client_id="svc", grant_types=["client_credentials"], scopes=["read"], first_party=False
            )
            _, rs = clients.create_client(
                name="rs",
                client_id="rs",
                grant_types=["client_credentials"],
                scopes=["read"],
                first_party=False,
                introspect=True,
            )
        app_creds, svc_creds, rs_creds = ("app", secret), ("svc", svc), ("rs", rs)
        status, body = _call(
            app,
            "/oauth/token",
            {"grant_type": "password", "username": "alice", "password": "correct horse battery"},
            app_creds,
        )
        assert status.startswith("200"), body
        first = json.loads(body)
        state = {"refresh": first["refresh_token"]}

        def refresh() -> None:
            form = {"grant_type": "refresh_token", "refresh_token": state["refresh"]}
            status, body = _call(app, "/oauth/token", form, app_creds)
            assert status.startswith("200"), body
            state["refresh"] = json.loads(body)["refresh_token"]

        def client_credentials() -> None:
            status, body = _call(app, "/oauth/token", {"grant_type": "client_credentials"}, svc_creds)
            assert status.startswith("200"), body

        def introspect() -> None:
            status, body = _call(app, "/oauth/introspect", {"token": first["access_token"]}, rs_creds)
            assert status.startswith("200") and json.loads(body)["active"] is True, body

        run = {"refresh": refresh, "client_credentials": client_credentials, "introspect": introspect}
        for name in args.scenarios.split(","):
            step = run[name]
            for _ in range(200):
                step()
            best = float("inf")
            for _ in range(args.rounds):
                t0 = time.process_time()
                for _ in range(args.requests):
                    step()
                best = min(best, (time.process_time() - t0) / args.requests)
            print(f"{name}: {best * 1e3:.3f} ms CPU/request in process (best of {args.rounds} x {args.requests})")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    step()
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
                print(out.getvalue())
        with app.app_context():
            from authserver.extensions import db as app_db

            app_db.session.remove()
            app_db.engine.dispose()
        app.extensions["authserver.autocommit_engine"].dispose()


if __name__ == "__main__":
    main()
