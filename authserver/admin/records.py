"""How the administration shows its records, the same in ``--json`` CLI output and the admin API's bodies.

Never a secret hash or a password hash; a client's secret only in the answer that created it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from authserver.admin.consents import Consent
from authserver.store.clients import Registration
from authserver.store.families import FamilyInfo
from authserver.store.users import UserRecord


def client_record(client: Registration, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.public,
        "admin": client.admin,
        "grant_types": list(client.grant_types),
        "scopes": list(client.scopes),
        "audience": client.audience,
        "first_party": client.first_party,
        "access_token_ttl": client.access_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "refresh_token_max_lifetime": client.refresh_token_max_lifetime,
        "introspect": client.can_introspect,
        "origins": list(client.origins),
        "login_default": client.login_default,
        "grace_seconds": client.grace_seconds,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "previous_secret_expires_at": client.previous_secret_expires_at,
        "tokens_not_before": client.tokens_not_before,
    }
    if secret is not None:
        data["client_secret"] = secret
    return data


def user_record(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
    }


def family_record(family: FamilyInfo) -> dict[str, Any]:
    return asdict(family)


def consent_record(consent: Consent) -> dict[str, Any]:
    return {
        "client_id": consent.client_id,
        "client_name": consent.client_name,
        "scopes": list(consent.scopes),
        "granted_at": consent.granted_at,
    }
