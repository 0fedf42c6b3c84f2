"""Discovery documents: the public JWKS (RFC 7517) and server metadata (RFC 8414)."""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from authserver.oauth.metadata import server_metadata
from authserver.oauth.tokens import current_keystore

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


@bp.get("/jwks.json")
def jwks() -> Response:
    keystore = current_keystore()
    headers = {"Cache-Control": f"public, max-age={keystore.jwks_max_age}", "ETag": keystore.jwks_etag}
    if request.if_none_match.contains_weak(keystore.jwks_etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(keystore.jwks_body, mimetype="application/jwk-set+json", headers=headers)


@bp.get("/oauth-authorization-server")
def metadata() -> Response:
    doc = current_app.extensions["authserver.metadata"]
    return Response(doc, mimetype="application/json", headers={"Cache-Control": "public, max-age=3600"})


def build_metadata_document(issuer: str, scopes: list[str], algorithms: list[str]) -> bytes:
    return json.dumps(server_metadata(issuer, scopes, algorithms)).encode()
