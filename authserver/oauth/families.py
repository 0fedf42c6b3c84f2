"""The end of token families (one login's chain of refresh tokens) across the app: log out everywhere, purge.

Revoking one family (reuse, revocation) is the refresh-token store's :meth:`revoke_family
<authserver.store.refresh_tokens.RefreshTokenStore.revoke_family>`, one set-based ``UPDATE`` over the
family, never row by row (RFC 9700 §4.14.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from authserver.store import current_stores


def revoke_user_families(user_id: str, now: int) -> int:
    """Log out everywhere: revoke all the user's families, refuse access tokens issued before now, and end the
    user's login sessions at the authorization endpoint (and so the codes issued in them).

    Written in the request's unit of work (the caller commits); returns the refresh tokens newly revoked.
    """
    stores = current_stores()
    stores.login_sessions.end_user_sessions(user_id, now)
    return stores.refresh_tokens.revoke_user_families(user_id, now)


def revoke_session_families(session_id: str, now: int) -> int:
    """Sign-out of one login session: revoke the families issued under it (the code flow's, ``sid`` in their
    ID tokens). Written in the request's unit of work (the caller commits); the refresh tokens newly revoked."""
    return current_stores().refresh_tokens.revoke_session_families(session_id, now)


@dataclass
class PurgeResult:
    refresh_tokens: int = 0
    access_token_jtis: int = 0
    sealed_erased: int = 0
    authorization_codes: int = 0
    login_sessions: int = 0


def purge(now: int, grace_seconds: int, batch_size: int = 5000, access_token_max_ttl: int = 0) -> PurgeResult:
    """Delete expired refresh tokens and revoked-jti rows in batches, committing after each batch.

    A token is kept until its own expiry, used or revoked, so a replay within its idle lifetime is
    still recognised as reuse; and ``access_token_max_ttl`` longer, so the family of an access token
    that is still valid keeps a row and introspection does not flip it to inactive. Sealed successors
    whose grace window has passed are erased first. Expired authorization codes go once their family has no
    token left (until then a replay still revokes it), and login sessions once they can never be live again.
    """
    stores = current_stores()
    # A client's own window (browser clients: 10 s) may be longer than the server's: keep what it can claim.
    grace_seconds = max(grace_seconds, stores.clients.longest_grace_seconds())
    purged = stores.refresh_tokens.purge(now, grace_seconds, batch_size, access_token_max_ttl)
    jtis = stores.revoked_jtis.purge(now, batch_size)
    return PurgeResult(
        refresh_tokens=purged.refresh_tokens,
        access_token_jtis=jtis,
        sealed_erased=purged.sealed_erased,
        authorization_codes=stores.authorization_codes.purge(now, batch_size),
        login_sessions=stores.login_sessions.purge(now, batch_size),
    )
