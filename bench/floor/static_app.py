"""The floor of a static GET under gunicorn: a WSGI callable returning fixed bytes, nothing else.

The benchmark runs it right after the `jwks` scenario, with the server's worker count and a body
as long as the server's JWKS document (STATIC_BYTES), so the jwks figure can be read against what
gunicorn's sync workers cost on this machine per request at the least. Not part of the server.
"""

from __future__ import annotations

import os
from collections.abc import Callable

BODY = b"x" * int(os.environ.get("STATIC_BYTES", "1024"))
HEADERS = [("Content-Type", "application/jwk-set+json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict, start_response: Callable) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
