"""Who may call the admin API: admin clients, their audience and their scopes (docs/admin-api.md).

An admin client is a confidential client marked ``admin``, with the ``client_credentials`` grant only, the
audience :data:`ADMIN_AUDIENCE` and scopes from :data:`ADMIN_SCOPES` only. No other client may have that
audience or any of those scopes, so the token endpoint needs no rule of its own: an admin client's access
tokens carry ``aud`` ``authserver-admin`` because that is its registered audience, as for every client, and
ordinary ``client_credentials`` requests take exactly the path they took before.

Scopes: ``admin:<area>:read`` and ``admin:<area>:write`` for each area; a ``write`` scope implies the
``read`` scope of its area.
"""

from __future__ import annotations

from collections.abc import Iterable

from authserver.admin.errors import AdminError

#: The ``aud`` of the admin API's access tokens, and the registered audience of every admin client.
ADMIN_AUDIENCE = "authserver-admin"
AREAS = ("clients", "users", "keys", "sessions")
ADMIN_SCOPES = tuple(f"admin:{area}:{mode}" for area in AREAS for mode in ("read", "write"))
CLIENT_CREDENTIALS = "client_credentials"


def read_scope(area: str) -> str:
    return f"admin:{area}:read"


def write_scope(area: str) -> str:
    return f"admin:{area}:write"


def covers(granted: Iterable[str], needed: str) -> bool:
    """Whether the granted scopes allow ``needed``: itself, or for a read scope the write scope of its area."""
    granted = set(granted)
    return needed in granted or (needed.endswith(":read") and needed.removesuffix(":read") + ":write" in granted)


def is_admin_scope(scope: str) -> bool:
    return scope.startswith("admin:")


def check_admin_registration(
    *,
    admin: bool,
    public: bool,
    grant_types: Iterable[str],
    scopes: Iterable[str],
    audience: str | None,
    can_introspect: bool,
    has_browser_parts: bool,
) -> None:
    """:class:`AdminError` unless the registration keeps the admin rule: admin scopes and the admin audience
    for admin clients only, and an admin client is a confidential ``client_credentials`` client and nothing else."""
    scopes, grant_types = list(scopes), list(grant_types)
    admin_scopes = [s for s in scopes if is_admin_scope(s)]
    if not admin:
        if admin_scopes:
            raise AdminError(f"admin scopes ({' '.join(admin_scopes)}) are for admin clients only")
        if audience == ADMIN_AUDIENCE:
            raise AdminError(f"the audience {ADMIN_AUDIENCE} is for admin clients only")
        return
    unknown = sorted(set(scopes) - set(ADMIN_SCOPES))
    if unknown:
        raise AdminError(
            f"an admin client has admin scopes only: {', '.join(unknown)} (known: {' '.join(ADMIN_SCOPES)})"
        )
    if not scopes:
        raise AdminError(f"an admin client needs at least one admin scope ({' '.join(ADMIN_SCOPES)})")
    if public:
        raise AdminError("an admin client is confidential")
    if grant_types != [CLIENT_CREDENTIALS]:
        raise AdminError("an admin client has the client_credentials grant only")
    if audience not in (None, ADMIN_AUDIENCE):
        raise AdminError(f"an admin client's audience is {ADMIN_AUDIENCE}")
    if can_introspect or has_browser_parts:
        raise AdminError("an admin client has no introspection, origins, redirect URIs or login default")
