"""Client registration: the domain functions behind ``authserver clients ...``.

Generated secrets carry 256 bits of entropy, are shown once, and are stored only as
HMAC-SHA-256 under the server pepper.
"""

from __future__ import annotations

import secrets

from authserver.admin.errors import AdminError
from authserver.admin.origins import checked_origin
from authserver.digests import secret_digest
from authserver.oauth.claims import STANDARD_SCOPES
from authserver.oauth.claims import known_scopes
from authserver.oauth.metadata import GRANT_TYPES
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import Registration


def new_client_id() -> str:
    """128 random bits in hex: never starts with ``-``, so it can be passed to the CLI as an argument
    (a URL-safe base64 id began with ``-`` one time in 64, and ``clients delete`` then took it for an option)."""
    return secrets.token_hex(16)


def create_client(
    *,
    name: str,
    grant_types: list[str],
    scopes: list[str],
    public: bool = False,
    first_party: bool = False,
    audience: str | None = None,
    client_id: str | None = None,
    access_token_ttl: int | None = None,
    refresh_token_ttl: int | None = None,
    refresh_token_max_lifetime: int | None = None,
    introspect: bool = False,
    origins: tuple[str, ...] = (),
    login_default: bool = False,
    grace_seconds: int | None = None,
) -> tuple[Registration, str | None]:
    """Register a client; returns it and its secret in the clear (``None`` for public clients)."""
    unknown = sorted(set(grant_types) - set(GRANT_TYPES))
    if unknown:
        raise AdminError(f"unsupported grant types: {', '.join(unknown)} (supported: {', '.join(GRANT_TYPES)})")
    known = set(known_scopes(current_settings().scopes.split()))  # with OpenID Connect's own
    if not set(scopes) <= known:
        raise AdminError(
            f"unknown scopes: {', '.join(sorted(set(scopes) - known))} "
            f"(AUTHSERVER_SCOPES is {current_settings().scopes!r}, and {' '.join(STANDARD_SCOPES)} are always known)"
        )
    if "password" in grant_types and not first_party:
        raise AdminError("the password grant is for first-party clients only: add --first-party")
    if introspect and public:
        raise AdminError("an introspecting resource server must be a confidential client")
    for ttl in (access_token_ttl, refresh_token_ttl, refresh_token_max_lifetime):
        if ttl is not None and ttl <= 0:
            raise AdminError("token lifetimes must be positive")
    _check_access_token_ttl(access_token_ttl)
    _check_grace_seconds(grace_seconds)
    store = current_stores().clients
    client_id = client_id or new_client_id()
    if store.registration(client_id) is not None:
        raise AdminError(f"client {client_id!r} already exists")
    checked = tuple(dict.fromkeys(_free_origin(o) for o in origins))
    if login_default and (current := store.login_default()) is not None:
        raise AdminError(f"client {current.client_id!r} is already the login default (at most one client is)")
    secret = None if public else secrets.token_urlsafe(32)
    client = Registration(
        client_id,
        name,
        public,
        tuple(dict.fromkeys(grant_types)),
        tuple(dict.fromkeys(scopes)),
        audience,
        first_party,
        access_token_ttl,
        refresh_token_ttl,
        refresh_token_max_lifetime,
        introspect,
        checked,
        login_default,
        grace_seconds,
    )
    store.create(client, None if secret is None else secret_digest(current_settings().secret_pepper, secret))
    return client, secret


def _check_access_token_ttl(ttl: int | None) -> None:
    if ttl is not None and ttl > current_settings().tokens.access_token_max_ttl:
        raise AdminError(
            f"access token lifetime over AUTHSERVER_ACCESS_TOKEN_MAX_TTL "
            f"({current_settings().tokens.access_token_max_ttl}s)"
        )


def registration(client_id: str) -> Registration:
    """The client as registered; :class:`AdminError` if there is none (the token path's lookup is
    :meth:`authserver.store.clients.ClientStore.get`, cached, and answers ``None``)."""
    client = current_stores().clients.registration(client_id)
    if client is None:
        raise AdminError(f"no client {client_id!r}")
    return client


def rotate_secret(client_id: str) -> tuple[Registration, str]:
    client = registration(client_id)
    if client.public:
        raise AdminError(f"client {client_id!r} is public and has no secret")
    secret = secrets.token_urlsafe(32)
    current_stores().clients.set_secret_hash(client_id, secret_digest(current_settings().secret_pepper, secret))
    return client, secret


def set_access_token_ttl(client_id: str, ttl: int | None) -> None:
    """Give the client its own access-token lifetime (``None``: the server default)."""
    registration(client_id)
    if ttl is not None and ttl <= 0:
        raise AdminError("token lifetimes must be positive")
    _check_access_token_ttl(ttl)
    current_stores().clients.set_access_token_ttl(client_id, ttl)


def delete_client(client_id: str) -> None:
    registration(client_id)
    current_stores().clients.delete(client_id)


def list_clients() -> list[Registration]:
    return current_stores().clients.all()


def _check_grace_seconds(seconds: int | None) -> None:
    if seconds is not None and not 0 <= seconds <= 300:
        raise AdminError("the grace window is from 0 to 300 seconds")


def _free_origin(text: str) -> str:
    """``text`` checked (:mod:`authserver.admin.origins`) and registered by no client yet."""
    origin = checked_origin(text, production=current_settings().production)
    owner = current_stores().clients.origin_owner(origin)
    if owner is not None:
        raise AdminError(f"origin {origin} is already registered for client {owner!r}")
    return origin


def add_origin(client_id: str, origin: str) -> str:
    """Register one more browser origin for the client; the origin as stored."""
    registration(client_id)
    checked = _free_origin(origin)
    current_stores().clients.add_origin(client_id, checked)
    return checked


def remove_origin(client_id: str, origin: str) -> None:
    registration(client_id)
    checked = checked_origin(origin, production=False)  # whatever was registered can be removed
    if not current_stores().clients.remove_origin(client_id, checked):
        raise AdminError(f"client {client_id!r} has no origin {checked}")


def set_login_default(client_id: str | None) -> None:
    """Make the client the JSON API's login default (``None``: none is); the previous one stops being it."""
    if client_id is not None:
        registration(client_id)
    current_stores().clients.set_login_default(client_id)


def set_grace_seconds(client_id: str, seconds: int | None) -> None:
    """Give the client its own refresh grace window (``None``: the default, see ``ClientInfo.grace_window``)."""
    registration(client_id)
    _check_grace_seconds(seconds)
    current_stores().clients.set_grace_seconds(client_id, seconds)
