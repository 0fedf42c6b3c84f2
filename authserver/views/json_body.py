"""The JSON API's request bodies: one JSON object of known string members, read strictly."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from authserver.errors import InvalidRequestError
from authserver.http import JSON
from authserver.http import MAX_TOKEN_CHARS


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; a name given twice is refused (RFC 8259 §4: names SHOULD be unique)."""
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise InvalidRequestError(f"member {name[:40]!r} repeated")
        members[name] = value
    return members


def _no_constant(name: str) -> Any:
    raise InvalidRequestError(f"{name} is not JSON")


def json_object(allowed: frozenset[str], *, empty_ok: bool = False) -> dict[str, str]:
    """The body as an object with only ``allowed`` members, each a string; else ``invalid_request``.

    With ``empty_ok``, an empty body counts as ``{}``. A body over ``MAX_REQUEST_BYTES`` is 413 (werkzeug).
    """
    if request.mimetype != JSON:
        raise InvalidRequestError(f"content type {request.mimetype!r} instead of {JSON}")
    raw = request.get_data(cache=True)
    if not raw.strip() and empty_ok:
        return {}
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_members, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidRequestError("malformed JSON body") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("the body is not a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidRequestError(f"unknown member {unknown[0][:40]!r}")
    for name, member in value.items():
        if not isinstance(member, str):
            raise InvalidRequestError(f"member {name!r} is not a string")
        if len(member) > MAX_TOKEN_CHARS or "\x00" in member:
            raise InvalidRequestError(f"member {name!r} too long or with a NUL")
    return value
