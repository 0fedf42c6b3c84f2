"""``/livez``, ``/readyz`` and ``/version`` of the management listener."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from authserver.extensions import db
from authserver.management.readiness import Checks
from authserver.management.readiness import Readiness

bp = Blueprint("management", __name__)

_NO_STORE = {"Cache-Control": "no-store"}
_LIVE = b'{"status":"alive"}'


class Liveness:
    """``GET /livez`` answered before Flask: no request hook runs, so it never touches the database
    (a key reload from the database store, say): the process answers, that is all it says."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/livez" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(_LIVE))), *_NO_STORE.items()]
            start_response("200 OK", headers)
            return [_LIVE]
        return self.app(environ, start_response)


def checks() -> Checks:
    return current_app.extensions["authserver.management.checks"]


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=_NO_STORE)


def readiness_body(result: Readiness) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ready" if result.ready else "not_ready"}
    if not result.ready:
        body["reasons"] = sorted(result.failing)
        body["details"] = result.failing
    if result.schema is not None:
        body["schema"] = {"current": result.schema.current, "head": result.schema.head}
    return body


@bp.get("/readyz")
def readyz() -> Response:
    """200 when ready for traffic, else 503 with every failing reason (:mod:`.readiness`)."""
    result = checks().run()
    return _json(readiness_body(result), 200 if result.ready else 503)


def app_version() -> str:
    try:
        return metadata.version("authserver")
    except metadata.PackageNotFoundError:
        return "unknown"


@bp.get("/version")
def version() -> Response:
    """The app's version and the schema revisions: the database's (None if unreachable) and the code's."""
    revisions = checks().code_revisions()
    try:
        current, reachable = checks().schema_status().current, True
    except SQLAlchemyError:
        db.session.rollback()
        current, reachable = None, False
    finally:
        db.session.remove()
    return _json(
        {
            "version": app_version(),
            "schema": {"database": current, "code_head": revisions[0], "database_reachable": reachable},
        }
    )
