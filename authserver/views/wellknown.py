"""Discovery documents: the public JWKS (RFC 7517) and server metadata (RFC 8414)."""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from authserver.clock import now
from authserver.keyring import current_keyring
from authserver.oauth.metadata import server_metadata

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


@bp.get("/jwks.json")
def jwks() -> Response:
    keyring = current_keyring()
    keystore = keyring.current.keystore
    headers = {"Cache-Control": f"public, max-age={keyring.jwks_max_age(now())}", "ETag": keystore.jwks_etag}
    if request.if_none_match.contains_weak(keystore.jwks_etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(keystore.jwks_body, mimetype="application/jwk-set+json", headers=headers)


@bp.get("/oauth-authorization-server")
def metadata() -> Response:
    keystore = current_keyring().current.keystore
    cached = current_app.extensions.get("authserver.metadata")
    if cached is None or cached[0] is not keystore:  # built once per keystore load
        body = json.dumps(server_metadata(current_app.config["ISSUER"], current_app.config["SCOPES"].split(),
                                          keystore.algorithms)).encode()
        cached = current_app.extensions["authserver.metadata"] = (keystore, body)
    doc = cached[1]
    return Response(doc, mimetype="application/json", headers={"Cache-Control": "public, max-age=3600"})
