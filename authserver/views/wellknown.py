"""Discovery documents: the public JWKS (RFC 7517), server metadata (RFC 8414) and the OpenID Provider
configuration (OpenID Connect Discovery 1.0 §4): the last two one document (:mod:`authserver.oauth.metadata`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from werkzeug.http import parse_etags

from authserver.clock import now
from authserver.keys.keyring import Keyring
from authserver.keys.keyring import current_keyring
from authserver.oauth.metadata import server_metadata
from authserver.settings import current_settings

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


JWKS_PATH = "/.well-known/jwks.json"


def jwks_answer(keyring: Keyring, now: int, if_none_match: str | None) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body of the JWKS: the document built once per keystore load, an ETag, and
    a max-age bounded by the key schedule; ``304`` when the client's copy is current (RFC 9110)."""
    keystore = keyring.current.keystore
    headers = [("Cache-Control", f"public, max-age={keyring.jwks_max_age(now)}"), ("ETag", keystore.jwks_etag)]
    if if_none_match and parse_etags(if_none_match).contains_weak(keystore.jwks_etag.strip('"')):
        return "304 Not Modified", headers, b""
    body = keystore.jwks_body
    return "200 OK", [("Content-Type", "application/jwk-set+json"), ("Content-Length", str(len(body))), *headers], body


@bp.get("/jwks.json")
def jwks() -> Response:
    status, headers, body = jwks_answer(current_keyring(), now(), request.headers.get("If-None-Match"))
    return Response(body, status=status, headers=headers)


class JwksShortcut:
    """WSGI middleware answering ``GET /.well-known/jwks.json`` before Flask: the most requested,
    least dynamic document skips request-context set-up (same answer as the view above)."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.keyring: Keyring = app.extensions["authserver.keys.keyring"]
        self.clock = app.extensions["authserver.clock"]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != JWKS_PATH or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        self.keyring.maybe_reload()
        status, headers, body = jwks_answer(self.keyring, self.clock.now(), environ.get("HTTP_IF_NONE_MATCH"))
        start_response(status, headers)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def _metadata_document() -> bytes:
    """The metadata document, encoded once per keystore load (its algorithms are the published keys')."""
    keystore = current_keyring().current.keystore
    cached = current_app.extensions.get("authserver.metadata")
    if cached is None or cached[0] is not keystore:
        settings = current_settings()
        body = json.dumps(server_metadata(settings.issuer, settings.scopes.split(), keystore.algorithms)).encode()
        cached = current_app.extensions["authserver.metadata"] = (keystore, body)
    return cached[1]


@bp.get("/oauth-authorization-server")
def metadata() -> Response:
    return _metadata_response()


@bp.get("/openid-configuration")
def openid_configuration() -> Response:
    return _metadata_response()


def _metadata_response() -> Response:
    return Response(
        _metadata_document(), mimetype="application/json", headers={"Cache-Control": "public, max-age=3600"}
    )
