"""``/admin/keys``: the signing-key lifecycle over :mod:`authserver.admin.keys`, the functions the CLI's ``keys``
commands call, with the same safety rules (a refused step is 409 ``conflict`` with the reason, nothing changed)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response

from authserver.admin import keys
from authserver.admin.access import read_scope
from authserver.admin.access import write_scope
from authserver.admin_api.body import json_body
from authserver.admin_api.problems import ApiError
from authserver.admin_api.responses import json_response
from authserver.admin_api.routes import note
from authserver.admin_api.routes import operation
from authserver.keys import keystore
from authserver.keys import lifecycle

READ, WRITE = read_scope("keys"), write_scope("keys")
RSA_SIZES = (2048, 3072, 4096)


def _actions(actions: lifecycle.Actions) -> Response:
    done = asdict(actions)
    note(**{verb: kids for verb, kids in done.items() if kids})
    return json_response(done)


@operation(
    "/keys",
    "GET",
    action="keys_listed",
    scope=READ,
    summary="Every signing key: kid, alg, state, its times, when it may activate and when it is removed",
    response="KeyList",
)
def list_keys() -> Response:
    rows = keys.list_keys()
    return json_response({"items": rows}, etag_of=rows)


@operation(
    "/keys",
    "POST",
    action="key_generated",
    scope=WRITE,
    summary="Add a key in state next (published, not signing); activate: the first key of an empty store",
    status=201,
    request="KeyGenerate",
    response="Key",
    errors=(400, 409),
)
def generate() -> Response:
    body = json_body(optional=True)
    alg = body.text("alg", default="RS256")
    size = body.number("size", default=2048, nullable=False)
    activate = body.flag("activate")
    body.done()
    if alg not in keystore.ALGORITHMS:
        raise ApiError(f"alg must be one of {', '.join(sorted(keystore.ALGORITHMS))}")
    if size not in RSA_SIZES:
        raise ApiError(f"size must be one of {', '.join(map(str, RSA_SIZES))} (RSA modulus bits)")
    record = keys.generate(alg, size, activate)
    note(kid=record.kid)
    return json_response(asdict(record), 201)


@operation(
    "/keys/<kid>/activate",
    "POST",
    action="key_activated",
    scope=WRITE,
    summary="Make a next key the signing key (the active one retires); force: before the publish delay",
    request="KeyActivate",
    response="KeyActions",
    errors=(400, 409),
)
def activate(kid: str) -> Response:
    body = json_body(optional=True)
    force = body.flag("force")
    body.done()
    return _actions(keys.activate(kid, force))


@operation(
    "/keys/<kid>/retire",
    "POST",
    action="key_retired",
    scope=WRITE,
    summary="Retire a next key that will not be used",
    response="KeyActions",
    errors=(409,),
)
def retire(kid: str) -> Response:
    return _actions(keys.retire(kid))


@operation(
    "/keys/<kid>/revoke",
    "POST",
    action="key_revoked",
    scope=WRITE,
    summary="Emergency: drop a compromised key at once (every token it signed fails verification)",
    response="KeyActions",
    errors=(409,),
)
def revoke(kid: str) -> Response:
    return _actions(keys.revoke(kid))


@operation(
    "/keys/rotate",
    "POST",
    action="keys_rotated",
    scope=WRITE,
    summary="One rotation step (as `keys rotate`); if_due: only what the schedule says is due",
    request="KeyRotate",
    response="KeyActions",
    errors=(400, 409),
)
def rotate() -> Response:
    body = json_body(optional=True)
    if_due = body.flag("if_due")
    body.done()
    return _actions(keys.rotate(if_due))


@operation(
    "/keys/prune",
    "POST",
    action="keys_pruned",
    scope=WRITE,
    summary="Remove retired keys whose tokens have all expired",
    response="KeyActions",
    errors=(409,),
)
def prune() -> Response:
    return _actions(keys.prune())
