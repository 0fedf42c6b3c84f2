"""Client registration: the domain functions behind ``authserver clients ...``.

Generated secrets carry 256 bits of entropy, are shown once, and are stored only as
HMAC-SHA-256 under the server pepper.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from authserver.admin.errors import AdminError
from authserver.digests import secret_digest
from authserver.extensions import db
from authserver.models import Client
from authserver.oauth import clientcache
from authserver.oauth.metadata import GRANT_TYPES
from authserver.settings import current_settings


def new_client_id() -> str:
    """128 random bits in hex: never starts with ``-``, so it can be passed to the CLI as an argument
    (a URL-safe base64 id began with ``-`` one time in 64, and ``clients delete`` then took it for an option)."""
    return secrets.token_hex(16)


def create_client(*, name: str, grant_types: list[str], scopes: list[str], public: bool = False,
                  first_party: bool = False, audience: str | None = None, client_id: str | None = None,
                  access_token_ttl: int | None = None, refresh_token_ttl: int | None = None,
                  refresh_token_max_lifetime: int | None = None,
                  introspect: bool = False) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret in the clear (``None`` for public clients)."""
    unknown = sorted(set(grant_types) - set(GRANT_TYPES))
    if unknown:
        raise AdminError(f"unsupported grant types: {', '.join(unknown)} (supported: {', '.join(GRANT_TYPES)})")
    known_scopes = set(current_settings().scopes.split())
    if not set(scopes) <= known_scopes:
        raise AdminError(f"unknown scopes: {', '.join(sorted(set(scopes) - known_scopes))} "
                          f"(AUTHSERVER_SCOPES is {' '.join(sorted(known_scopes))!r})")
    if "password" in grant_types and not first_party:
        raise AdminError("the password grant is for first-party clients only: add --first-party")
    if introspect and public:
        raise AdminError("an introspecting resource server must be a confidential client")
    for ttl in (access_token_ttl, refresh_token_ttl, refresh_token_max_lifetime):
        if ttl is not None and ttl <= 0:
            raise AdminError("token lifetimes must be positive")
    if access_token_ttl is not None and access_token_ttl > current_settings().tokens.access_token_max_ttl:
        raise AdminError(f"access token lifetime over AUTHSERVER_ACCESS_TOKEN_MAX_TTL "
                          f"({current_settings().tokens.access_token_max_ttl}s)")
    client_id = client_id or new_client_id()
    if db.session.get(Client, client_id) is not None:
        raise AdminError(f"client {client_id!r} already exists")
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(client_id=client_id, name=name, grant_types=" ".join(dict.fromkeys(grant_types)),
                    scopes=" ".join(dict.fromkeys(scopes)), audience=audience, first_party=first_party,
                    access_token_ttl=access_token_ttl, refresh_token_ttl=refresh_token_ttl,
                    refresh_token_max_lifetime=refresh_token_max_lifetime, can_introspect=introspect,
                    secret_hash=None if secret is None else secret_digest(current_settings().secret_pepper, secret))
    db.session.add(client)
    db.session.commit()
    return client, secret


def get_client(client_id: str) -> Client:
    client = db.session.get(Client, client_id)
    if client is None:
        raise AdminError(f"no client {client_id!r}")
    return client


def rotate_secret(client_id: str) -> tuple[Client, str]:
    client = get_client(client_id)
    if client.is_public:
        raise AdminError(f"client {client_id!r} is public and has no secret")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = secret_digest(current_settings().secret_pepper, secret)
    db.session.commit()
    clientcache.invalidate(client_id)
    return client, secret


def delete_client(client_id: str) -> None:
    db.session.delete(get_client(client_id))
    db.session.commit()
    clientcache.invalidate(client_id)


def list_clients() -> list[Client]:
    return list(db.session.execute(select(Client).order_by(Client.name, Client.client_id)).scalars())
