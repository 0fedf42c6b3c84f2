"""OpenID Connect's scopes and claims (Core §5.1, §5.4): which user attributes each scope releases.

The server always knows the standard scopes ``openid``, ``profile`` and ``email``, beside the configured
``AUTHSERVER_SCOPES``: they are what it implements, not a deployment's choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from authserver.store.users import Profile

OPENID = "openid"
#: Core §5.4, the subset of the standard claims the user record has.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "preferred_username"),
    "email": ("email", "email_verified"),
}
STANDARD_SCOPES = (OPENID, *SCOPE_CLAIMS)
#: The claims of the ID token (Core §2) and of the userinfo response: ``claims_supported`` (Discovery §3).
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr")
CLAIMS = (*ID_TOKEN_CLAIMS, *(claim for claims in SCOPE_CLAIMS.values() for claim in claims))


def known_scopes(configured: Iterable[str]) -> list[str]:
    """``scopes_supported``: the configured scopes, then the standard ones not among them."""
    configured = list(configured)
    return [*configured, *(s for s in STANDARD_SCOPES if s not in configured)]


def userinfo_claims(profile: Profile, scopes: Iterable[str]) -> dict[str, Any]:
    """Core §5.3.2: ``sub`` always, then the claims of each granted scope; a claim without a value is omitted."""
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": profile.id}
    if "profile" in granted:
        if profile.name is not None:
            claims["name"] = profile.name
        claims["preferred_username"] = profile.username
    if "email" in granted and profile.email is not None:
        claims["email"] = profile.email
        claims["email_verified"] = profile.email_verified
    return claims
