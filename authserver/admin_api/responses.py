"""The admin API's answers: JSON, never cached (they can hold a secret shown once), with the ETag of a read."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from authserver.admin_api.conditional import etag
from authserver.http import NO_STORE

_UNTAGGED = object()


def json_response(body: Any, status: int = 200, *, etag_of: Any = _UNTAGGED) -> Response:
    """``body`` as JSON; with ``etag_of``, the ETag of that representation (the resource as a read shows it:
    an answer that carries a secret once is tagged as the resource without it)."""
    response = Response(json.dumps(body, default=str), status=status, mimetype="application/json")
    for name, value in NO_STORE:
        response.headers[name] = value
    if etag_of is not _UNTAGGED:
        response.headers["ETag"] = etag(etag_of)
    return response


def no_content() -> Response:
    response = Response(status=204)
    for name, value in NO_STORE:
        response.headers[name] = value
    return response
