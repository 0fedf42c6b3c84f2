"""Versions of a resource (RFC 9110 §8.8.3 ``ETag``, §13.1.1 ``If-Match``) against lost updates.

A resource's ETag is a strong validator: a digest of its JSON representation, so it changes exactly when
what a read shows changes. An update (``PATCH``, ``DELETE``, ``PUT``) must name the version it was made
from: without ``If-Match`` it is refused with 428 (RFC 6585 §3), with a version that is not the current one
with 412 (RFC 9110 §13.1.1). ``If-Match: *`` names whatever version exists. The actions on a resource
(``POST .../rotate-secret``, ``.../disable``, origins, redirect URIs) check ``If-Match`` when it is sent and
do not require it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import request

from authserver.admin_api.problems import PreconditionFailedError
from authserver.admin_api.problems import PreconditionRequiredError


def etag(representation: Any) -> str:
    """The strong ETag of a JSON representation."""
    body = json.dumps(representation, sort_keys=True, separators=(",", ":"), default=str).encode()
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _listed(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def check_if_match(representation: Any, *, required: bool) -> None:
    """Refuse the request unless its ``If-Match`` names the current version (see the module's rule)."""
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequiredError(
                "this update needs If-Match with the ETag of the version it was made from (read it first)"
            )
        return
    tags = _listed(header)
    if "*" in tags:
        return
    if etag(representation) not in tags:  # a weak tag (W/"...") never matches: the comparison is strong
        raise PreconditionFailedError("the resource changed since that version was read (If-Match does not match)")
