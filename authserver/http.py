"""Wire constants every front door shares: response headers, the form type, size limits."""

from __future__ import annotations

#: RFC 6749 §5.1: token and error responses MUST NOT be cached.
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
JSON_HEADERS = [("Content-Type", "application/json"), *NO_STORE]
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: A token parameter or bearer token longer than this is refused unread (ours are far shorter).
MAX_TOKEN_CHARS = 8192
