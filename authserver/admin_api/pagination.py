"""Pages of a listing: ``limit`` (1 to 200, default 50) and an opaque ``cursor`` from the previous page.

The cursor is the last item's sort key, base64url-encoded: keyset pagination, so a page costs the same
however deep it is, and items created or deleted meanwhile never shift the others. The answer is
``{"items": [...], "next_cursor": ..., "next": URL}`` (both ``null`` on the last page) with a
``Link: <URL>; rel="next"`` header (RFC 8288).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar
from urllib.parse import urlencode

from flask import Response
from flask import request

from authserver.admin_api.problems import ApiError
from authserver.admin_api.responses import json_response

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 400

T = TypeVar("T")


def page_request() -> tuple[str | None, int]:
    """``(after, limit)`` from the query: the key to start after (``None``: the first page) and the page size."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    cursor = request.args.get("cursor")
    if cursor is None or cursor == "":
        return None, int(raw_limit)
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ApiError("malformed cursor")
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError("malformed cursor") from None
    if not after:
        raise ApiError("malformed cursor")
    return after, int(raw_limit)


def cursor_of(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def paged(
    fetch: Callable[[str | None, int], Sequence[T]], key: Callable[[T], str], render: Callable[[T], Any]
) -> Response:
    """One page from ``fetch(after, limit + 1)`` (one more than asked: whether a next page exists)."""
    after, limit = page_request()
    rows = list(fetch(after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursor_of(key(rows[-1])) if more and rows else None
    next_url = None
    if next_cursor is not None:
        query = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = f"{request.base_url}?{urlencode({**query, 'limit': limit, 'cursor': next_cursor})}"
    response = json_response({"items": [render(r) for r in rows], "next_cursor": next_cursor, "next": next_url})
    if next_url is not None:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response
