"""Ending tokens from the administration: one family, or everything a client or a user was issued before a time.

What "revoked" reaches (docs/admin-api.md "What a revocation reaches"):

* Refresh tokens: a family that began before the time is revoked whole, however recently it was rotated (its
  latest token descends from a credential issued before then). Refresh tokens stop working at once.
* Access tokens: introspection (RFC 7662) answers inactive for those issued before the time (the client's
  ``tokens_not_before``, the user's ``sessions_not_before``) and for those of a revoked family. Resource services
  that verify access tokens offline (authserver_verifier) cannot see a revocation: those tokens stay valid until
  their ``exp``, at most the access-token lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver import clock
from authserver.admin.clients import registration
from authserver.admin.errors import AdminError
from authserver.admin.errors import NotFoundError
from authserver.admin.users import get_user
from authserver.admin.users import revoke_families
from authserver.store import current_stores
from authserver.store.families import FamilyInfo
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit


@dataclass(frozen=True)
class Revoked:
    """What a revocation did: refresh tokens newly revoked, and from when access tokens are active again."""

    revoked_refresh_tokens: int
    not_before: int | None = None


def family(family_id: str) -> FamilyInfo:
    found = current_stores().families.family(family_id, clock.now())
    if found is None:
        raise NotFoundError(f"no family {family_id!r}")
    return found


def revoke_family(family_id: str) -> Revoked:
    """Revoke one family: its refresh tokens stop working, its access tokens introspect inactive."""
    family(family_id)
    now = clock.now()
    revoked = run_with_retry(lambda: current_stores().refresh_tokens.revoke_family(family_id, now))
    emit("family.revoked", family_id=family_id, revoked_refresh_tokens=revoked)
    return Revoked(revoked)


def _checked_before(before: int | None) -> tuple[int, int]:
    now = clock.now()
    before = now if before is None else before
    if before > now:
        raise AdminError("the time must not be in the future (tokens issued later are not revoked in advance)")
    if before < 0:
        raise AdminError("the time is Unix seconds")
    return before, now


def revoke_client_tokens_before(client_id: str, before: int | None = None) -> Revoked:
    """Everything the client was issued before ``before`` (default now): its families that began earlier and
    its access tokens issued earlier."""
    registration(client_id)
    before, now = _checked_before(before)
    stores = current_stores()
    revoked = run_with_retry(
        lambda: stores.families.revoke_started_before(before=before, now=now, client_id=client_id, user_id=None)
    )
    current = stores.clients.registration(client_id)
    if current is not None and (current.tokens_not_before or 0) < before:
        stores.clients.update(client_id, tokens_not_before=before)
    emit("client.tokens_revoked", client_id=client_id, before=before, revoked_refresh_tokens=revoked)
    return Revoked(revoked, before)


def revoke_user_tokens_before(username: str, before: int | None = None) -> Revoked:
    """Everything the user was issued before ``before`` (default now), at every client: their families that
    began earlier, and their access tokens issued earlier. With the default, their login sessions end too (as
    ``users revoke-sessions``)."""
    user = get_user(username)
    if before is None:
        return Revoked(revoke_families(username), clock.now())
    before, now = _checked_before(before)
    stores = current_stores()

    def work() -> int:
        revoked = stores.families.revoke_started_before(before=before, now=now, client_id=None, user_id=user.id)
        stores.families.refuse_user_tokens_before(user.id, before)
        return revoked

    revoked = run_with_retry(work)
    emit("user.tokens_revoked", user_id=user.id, before=before, revoked_refresh_tokens=revoked)
    return Revoked(revoked, before)
