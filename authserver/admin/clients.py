"""Client registration: the domain functions behind ``authserver clients ...``.

Generated secrets carry 256 bits of entropy, are shown once, and are stored only as
HMAC-SHA-256 under the server pepper.
"""

from __future__ import annotations

import secrets

from authserver import clock
from authserver.admin.access import ADMIN_AUDIENCE
from authserver.admin.access import check_admin_registration
from authserver.admin.errors import AdminError
from authserver.admin.errors import ConflictError
from authserver.admin.errors import NotFoundError
from authserver.admin.origins import checked_origin
from authserver.digests import secret_digest
from authserver.models.client import CALLBACK
from authserver.models.client import POST_LOGOUT
from authserver.oauth.claims import STANDARD_SCOPES
from authserver.oauth.claims import known_scopes
from authserver.oauth.metadata import GRANT_TYPES
from authserver.oauth.redirect_uris import registration_problem
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import AUTHORIZATION_CODE
from authserver.store.clients import Registration
from authserver.telemetry import emit

#: The longest a rotated-out secret may keep working: a week, time enough for any deployment.
MAX_SECRET_OVERLAP = 7 * 24 * 3600


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
    redirect_uris: tuple[str, ...] = (),
    post_logout_redirect_uris: tuple[str, ...] = (),
    admin: bool = False,
) -> tuple[Registration, str | None]:
    """Register a client; returns it and its secret in the clear (``None`` for public clients).

    ``admin``: an admin client (:mod:`authserver.admin.access`), whose audience is ``authserver-admin``."""
    check_admin_registration(
        admin=admin,
        public=public,
        grant_types=grant_types,
        scopes=scopes,
        audience=audience,
        can_introspect=introspect,
        has_browser_parts=bool(origins or redirect_uris or post_logout_redirect_uris or login_default),
    )
    if admin:
        audience = ADMIN_AUDIENCE
    check_fields(
        grant_types=grant_types,
        scopes=scopes,
        public=public,
        first_party=first_party,
        introspect=introspect,
        ttls=(access_token_ttl, refresh_token_ttl, refresh_token_max_lifetime),
        grace_seconds=grace_seconds,
        admin=admin,
    )
    callbacks, post_logout = checked_uris(grant_types, redirect_uris, post_logout_redirect_uris)
    store = current_stores().clients
    client_id = client_id or new_client_id()
    if store.registration(client_id) is not None:
        raise ConflictError(f"client {client_id!r} already exists")
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
        callbacks,
        post_logout,
        admin,
    )
    store.create(client, None if secret is None else secret_digest(current_settings().secret_pepper, secret))
    return client, secret


def check_fields(
    *,
    grant_types: list[str],
    scopes: list[str],
    public: bool,
    first_party: bool,
    introspect: bool,
    ttls: tuple[int | None, ...],
    grace_seconds: int | None,
    admin: bool = False,
) -> None:
    """The rules every registration keeps, at creation and at every update (:class:`AdminError` if not)."""
    unknown = sorted(set(grant_types) - set(GRANT_TYPES))
    if unknown:
        raise AdminError(f"unsupported grant types: {', '.join(unknown)} (supported: {', '.join(GRANT_TYPES)})")
    known = set(known_scopes(current_settings().scopes.split()))  # with OpenID Connect's own
    if not admin and not set(scopes) <= known:
        raise AdminError(
            f"unknown scopes: {', '.join(sorted(set(scopes) - known))} "
            f"(AUTHSERVER_SCOPES is {current_settings().scopes!r}, and {' '.join(STANDARD_SCOPES)} are always known)"
        )
    if "password" in grant_types and not first_party:
        raise AdminError("the password grant is for first-party clients only: add --first-party")
    if introspect and public:
        raise AdminError("an introspecting resource server must be a confidential client")
    for ttl in ttls:
        if ttl is not None and ttl <= 0:
            raise AdminError("token lifetimes must be positive")
    _check_access_token_ttl(ttls[0])
    _check_grace_seconds(grace_seconds)


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
        raise NotFoundError(f"no client {client_id!r}")
    return client


def rotate_secret(client_id: str, overlap_seconds: int = 0) -> tuple[Registration, str]:
    """Give the client a new secret, returned in the clear once. With ``overlap_seconds``, the old secret
    keeps working for that long (deploy the new one meanwhile); without, it stops at once. A rotation during
    an overlap ends the earlier overlap: only the secret just replaced is kept."""
    client = registration(client_id)
    if client.public:
        raise AdminError(f"client {client_id!r} is public and has no secret")
    if not 0 <= overlap_seconds <= MAX_SECRET_OVERLAP:
        raise AdminError(f"the overlap is from 0 to {MAX_SECRET_OVERLAP} seconds")
    secret = secrets.token_urlsafe(32)
    store = current_stores().clients
    previous = store.secret_hash(client_id) if overlap_seconds else None
    expires_at = clock.now() + overlap_seconds if previous is not None else None
    store.set_secret_hash(client_id, secret_digest(current_settings().secret_pepper, secret), previous, expires_at)
    emit("client.secret_rotated", client_id=client_id, overlap_seconds=overlap_seconds)
    return registration(client_id), secret


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
        raise ConflictError(f"origin {origin} is already registered for client {owner!r}")
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


def _checked_uri(uri: str) -> str:
    """``uri`` as registered (exactly as given: it is compared exactly), or why it cannot be."""
    problem = registration_problem(uri)
    if problem is not None:
        raise AdminError(f"redirect URI {uri[:200]!r} refused: {problem}")
    return uri


def checked_uris(
    grant_types: list[str], redirect_uris: tuple[str, ...], post_logout_redirect_uris: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The redirect and post-logout redirect URIs of a new client, checked, duplicates dropped.

    The authorization code grant needs a redirect URI (RFC 6749 §3.1.2.2, and the error page of §4.1.2.1
    otherwise). A redirect URI without that grant is refused rather than stored unused: no flow of ours
    could send anyone there, so it is a mistake in the registration (a forgotten ``--grant``)."""
    callbacks = tuple(dict.fromkeys(_checked_uri(u) for u in redirect_uris))
    post_logout = tuple(dict.fromkeys(_checked_uri(u) for u in post_logout_redirect_uris))
    if AUTHORIZATION_CODE in grant_types and not callbacks:
        raise AdminError("the authorization_code grant needs at least one redirect URI: add --redirect-uri")
    if AUTHORIZATION_CODE not in grant_types and (callbacks or post_logout):
        raise AdminError("redirect URIs are used only by the authorization_code grant: add --grant authorization_code")
    return callbacks, post_logout


def _code_flow_client(client_id: str) -> Registration:
    client = registration(client_id)
    if AUTHORIZATION_CODE not in client.grant_types:
        raise AdminError(f"client {client_id!r} does not have the authorization_code grant: redirect URIs are unused")
    return client


def _purpose(post_logout: bool) -> str:
    return POST_LOGOUT if post_logout else CALLBACK


def add_redirect_uri(client_id: str, uri: str, *, post_logout: bool = False) -> None:
    """Register one more redirect URI (``post_logout``: post-logout redirect URI) for a code-flow client."""
    _code_flow_client(client_id)
    if not current_stores().clients.add_redirect_uri(client_id, _checked_uri(uri), _purpose(post_logout)):
        raise AdminError(f"client {client_id!r} already has {_kind(post_logout)} {uri!r}")


def remove_redirect_uri(client_id: str, uri: str, *, post_logout: bool = False) -> None:
    """Remove one of the client's redirect URIs; never its last one while it has the authorization_code grant."""
    client = registration(client_id)
    registered = client.post_logout_redirect_uris if post_logout else client.redirect_uris
    if uri not in registered:
        raise AdminError(f"client {client_id!r} has no {_kind(post_logout)} {uri[:200]!r}")
    if not post_logout and registered == (uri,) and AUTHORIZATION_CODE in client.grant_types:
        raise AdminError(
            f"{uri!r} is the last redirect URI of client {client_id!r}, which the authorization_code grant "
            "needs: add another first"
        )
    if not current_stores().clients.remove_redirect_uri(client_id, uri, _purpose(post_logout)):
        raise AdminError(f"client {client_id!r} has no {_kind(post_logout)} {uri[:200]!r}")


def _kind(post_logout: bool) -> str:
    return "post-logout redirect URI" if post_logout else "redirect URI"


def page_clients(after: str | None, limit: int) -> list[Registration]:
    """Up to ``limit`` clients by ``client_id``, those after ``after``."""
    return current_stores().clients.page(after, limit)
