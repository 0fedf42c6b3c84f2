"""A request's JSON body, read field by field with the type each field must have.

Every refusal is a 400 ``invalid_request`` naming the field; fields the operation does not know are refused
too (a misspelt field silently ignored would look like a change that was made).
"""

from __future__ import annotations

from typing import Any

from flask import request

from authserver.admin_api.problems import ApiError

_MISSING = object()


class Body:
    """The fields of a JSON object body; take each once, then :meth:`done`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._taken: set[str] = set()

    def _take(self, name: str, required: bool) -> Any:
        self._taken.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING and required:
            raise ApiError(f"{name} is required")
        return value

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, *, required: bool = False, default: Any = None, nullable: bool = False) -> Any:
        value = self._take(name, required)
        if value is _MISSING:
            return default
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise ApiError(f"{name} must be a string")
        return value

    def flag(self, name: str, *, default: bool | None = False) -> Any:
        value = self._take(name, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise ApiError(f"{name} must be true or false")
        return value

    def number(self, name: str, *, default: Any = None, nullable: bool = True) -> Any:
        value = self._take(name, False)
        if value is _MISSING:
            return default
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(f"{name} must be a whole number")
        return value

    def texts(self, name: str, *, default: Any = ()) -> Any:
        value = self._take(name, False)
        if value is _MISSING:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(f"{name} must be a list of strings")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._taken)
        if unknown:
            raise ApiError(f"unknown fields: {', '.join(unknown)[:200]}")


def json_body(*, optional: bool = False) -> Body:
    """The request's body as a JSON object (``optional``: an empty body reads as ``{}``)."""
    if optional and not request.get_data(cache=True):
        return Body({})
    if not request.is_json:
        raise ApiError("the body must be JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object")
    return Body(data)
