"""Changing a registered client (``PATCH /admin/clients/{id}``): the same rules as at its creation.

Origins and redirect URIs have their own functions (:mod:`authserver.admin.clients`), its secret its
rotation; whether it is an admin client never changes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from authserver.admin.access import check_admin_registration
from authserver.admin.clients import check_fields
from authserver.admin.clients import checked_uris
from authserver.admin.clients import registration
from authserver.admin.clients import set_login_default
from authserver.admin.errors import AdminError
from authserver.store import current_stores
from authserver.store.clients import Registration

#: The fields an update may set, by their name in the client's representation; ``introspect`` is ``can_introspect``.
UPDATABLE = (
    "name",
    "grant_types",
    "scopes",
    "audience",
    "first_party",
    "access_token_ttl",
    "refresh_token_ttl",
    "refresh_token_max_lifetime",
    "introspect",
    "grace_seconds",
    "login_default",
)
MAX_NAME_LENGTH = 200


def update_client(client_id: str, changes: dict[str, Any]) -> Registration:
    """Apply ``changes`` (fields of :data:`UPDATABLE`, already of the right types) and return the client as
    stored; :class:`AdminError` and nothing changed if the result would break a rule."""
    client = registration(client_id)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise AdminError(
            f"fields that cannot be changed here: {', '.join(unknown)} (updatable: {', '.join(UPDATABLE)})"
        )
    fields = {("can_introspect" if k == "introspect" else k): v for k, v in changes.items()}
    for name in ("grant_types", "scopes"):
        if name in fields:
            fields[name] = tuple(dict.fromkeys(fields[name]))
    new = dataclasses.replace(client, **fields)
    if not new.name.strip() or len(new.name) > MAX_NAME_LENGTH:
        raise AdminError(f"name must be 1 to {MAX_NAME_LENGTH} characters")
    check_admin_registration(
        admin=new.admin,
        public=new.public,
        grant_types=new.grant_types,
        scopes=new.scopes,
        audience=new.audience,
        can_introspect=new.can_introspect,
        has_browser_parts=bool(new.origins or new.redirect_uris or new.post_logout_redirect_uris or new.login_default),
    )
    check_fields(
        grant_types=list(new.grant_types),
        scopes=list(new.scopes),
        public=new.public,
        first_party=new.first_party,
        introspect=new.can_introspect,
        ttls=(new.access_token_ttl, new.refresh_token_ttl, new.refresh_token_max_lifetime),
        grace_seconds=new.grace_seconds,
        admin=new.admin,
    )
    checked_uris(list(new.grant_types), new.redirect_uris, new.post_logout_redirect_uris)
    columns = {k: v for k, v in fields.items() if k != "login_default"}
    for name in ("grant_types", "scopes"):
        if name in columns:
            columns[name] = " ".join(columns[name])
    if columns:
        current_stores().clients.update(client_id, **columns)
    if new.login_default != client.login_default:
        set_login_default(client_id if new.login_default else None)
    return registration(client_id)
