"""The ``scope`` parameter (RFC 6749 §3.3): parsing it, the scope a client may be granted, and the rule for
whether a granted scope covers a requested one."""

from __future__ import annotations

import re
from collections.abc import Sequence

from authserver.errors import InvalidScopeError
from authserver.store.clients import ClientInfo

#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def parse_scope(raw: str | None) -> list[str] | None:
    """Split a ``scope`` parameter into unique tokens in order; ``None`` when absent or empty."""
    if raw is None or raw.strip() == "":
        return None
    out: list[str] = []
    for item in raw.split(" "):
        if item == "":
            continue
        if not _SCOPE_TOKEN.match(item):
            raise InvalidScopeError(f"malformed scope token {item[:40]!r}")
        if item not in out:
            out.append(item)
    return out


def scope_covers(granted: str, requested: Sequence[str]) -> bool:
    """The one scope rule: every requested scope is one of the granted ones, compared whole and exactly
    (scope tokens are case-sensitive, RFC 6749 §3.3). The rotation's SQL applies the same rule
    (:mod:`authserver.store.refresh_token_sql`)."""
    return set(requested) <= set(granted.split())


def requested_scope(client: ClientInfo, raw: str | None) -> str:
    """The scope to grant: the requested one if within the client's scopes, else all of them (RFC 6749 §3.3)."""
    requested = parse_scope(raw)
    allowed = client.scope_set()
    if requested is None:
        return " ".join(sorted(allowed))
    if not set(requested) <= allowed:
        raise InvalidScopeError("requested scope exceeds the client's scopes")
    return " ".join(requested)
