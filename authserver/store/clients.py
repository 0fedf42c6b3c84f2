"""Registered clients: immutable snapshots for the token path, cached in-process for
``CLIENT_CACHE_SECONDS``, and the administration's reads and writes.

Every token request authenticates a client; reading it from the database each time costs a round
trip on the hottest path. A snapshot is kept for a few seconds: changes made through this store
(``clients rotate-secret``, ``delete``) invalidate it at once, other processes see them within the
TTL (documented in the README). Unknown client ids are not cached, so random ids cannot fill memory.

The cache belongs to the store, not to the protocol code: the store makes the writes, so it is the one
place that can invalidate on every one of them. Reading a client is the same ORM ``get`` on every
database, so one SQLAlchemy implementation serves both.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from typing import cast

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from authserver.extensions import db
from authserver.models import Client
from authserver.models import ClientOrigin
from authserver.models import ClientRedirectUri
from authserver.models.client import CALLBACK
from authserver.models.client import POST_LOGOUT
from authserver.web_origins import origin_of

#: The grant that uses redirect URIs (RFC 6749 §4.1): the only one a client may register them for, and the
#: one whose browser clients (public, with redirect URIs) the token endpoint answers CORS for.
AUTHORIZATION_CODE = "authorization_code"

MAX_ENTRIES = 10_000
#: The grace window of a client with browser origins and no window of its own: tabs refreshing at once.
BROWSER_GRACE_SECONDS = 10


@dataclass(frozen=True)
class ClientInfo:
    """What the token path needs to know about a client."""

    client_id: str
    secret_hash: str | None
    grant_types: frozenset[str]
    scopes: frozenset[str]
    audience: str | None
    first_party: bool
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    refresh_token_max_lifetime: int | None
    can_introspect: bool
    origins: frozenset[str] = frozenset()
    login_default: bool = False
    grace_seconds: int | None = None
    #: Shown on the consent page.
    name: str = ""
    #: Registered redirect URIs (RFC 6749 §3.1.2) and post-logout redirect URIs, in registration order.
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    #: The previous secret's HMAC and until when it still authenticates (a rotation with an overlap).
    previous_secret_hash: str | None = None
    previous_secret_expires_at: int | None = None
    #: An admin client: its tokens are for the admin API (:mod:`authserver.admin_api`).
    admin: bool = False
    #: Its access tokens issued before this Unix time are inactive (``POST /admin/tokens/revoke-before``).
    tokens_not_before: int | None = None

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def previous_secret_at(self, now: int) -> str | None:
        """The previous secret's HMAC while its overlap lasts at ``now`` (it ends at the expiry, exclusive)."""
        expires = self.previous_secret_expires_at
        return self.previous_secret_hash if expires is not None and now < expires else None

    def grace_window(self, server_default: int) -> int:
        """Its grace window, seconds: its own, else 10 s for a browser client, else the server's."""
        if self.grace_seconds is not None:
            return self.grace_seconds
        return BROWSER_GRACE_SECONDS if self.origins else server_default

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @functools.cached_property
    def cors_origins(self) -> frozenset[str]:
        """The origins that may call the token and revocation endpoints as this client (CORS, Fetch §3.2): a
        single-page app doing the code flow with PKCE is a public client, and the browser at its ``https``
        or loopback ``http`` redirect URIs sends their origin. None for a confidential client (its secret
        has no place in a browser) or one without the grant."""
        if not self.is_public or not self.allows_grant(AUTHORIZATION_CODE):
            return frozenset()
        return frozenset(o for o in map(origin_of, self.redirect_uris) if o is not None)

    def scope_set(self) -> set[str]:
        return set(self.scopes)

    @classmethod
    def of(cls, client: Client) -> ClientInfo:
        return cls(
            client.client_id,
            client.secret_hash,
            frozenset(client.grant_types.split()),
            frozenset(client.scopes.split()),
            client.audience,
            client.first_party,
            client.access_token_ttl,
            client.refresh_token_ttl,
            client.refresh_token_max_lifetime,
            client.can_introspect,
            frozenset(o.origin for o in client.origins),
            client.login_default,
            client.grace_seconds,
            client.name,
            _uris(client, CALLBACK),
            _uris(client, POST_LOGOUT),
            client.previous_secret_hash,
            client.previous_secret_expires_at,
            bool(client.admin),
            client.tokens_not_before,
        )


@dataclass(frozen=True)
class Registration:
    """A client as registered and as the administration shows it (never its secret hash).

    ``grant_types`` and ``scopes`` keep the order they were given in."""

    client_id: str
    name: str
    public: bool
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    audience: str | None
    first_party: bool
    access_token_ttl: int | None
    refresh_token_ttl: int | None
    refresh_token_max_lifetime: int | None
    can_introspect: bool
    origins: tuple[str, ...] = ()
    login_default: bool = False
    grace_seconds: int | None = None
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    admin: bool = False
    #: When the previous secret stops working (Unix seconds), during a rotation's overlap; else ``None``.
    previous_secret_expires_at: int | None = None
    tokens_not_before: int | None = None

    @classmethod
    def of(cls, client: Client) -> Registration:
        return cls(
            client.client_id,
            client.name,
            client.is_public,
            tuple(client.grant_types.split()),
            tuple(client.scopes.split()),
            client.audience,
            client.first_party,
            client.access_token_ttl,
            client.refresh_token_ttl,
            client.refresh_token_max_lifetime,
            client.can_introspect,
            tuple(o.origin for o in client.origins),
            client.login_default,
            client.grace_seconds,
            _uris(client, CALLBACK),
            _uris(client, POST_LOGOUT),
            bool(client.admin),
            client.previous_secret_expires_at,
            client.tokens_not_before,
        )


def _uris(client: Client, purpose: str) -> tuple[str, ...]:
    return tuple(r.uri for r in client.redirect_uris if r.purpose == purpose)


class ClientStore(Protocol):
    def get(self, client_id: str) -> ClientInfo | None:
        """The client's snapshot, from the cache while it is fresh; ``None`` for an unknown id (not cached)."""
        ...

    def fresh(self, client_id: str) -> ClientInfo | None:
        """The client's snapshot read from the database now (and cached again): after a failed secret check,
        so a secret rotated through another process is accepted at once, not after the cache's lifetime."""
        ...

    def registration(self, client_id: str) -> Registration | None: ...
    def create(self, registration: Registration, secret_hash: str | None) -> None: ...
    def set_secret_hash(
        self, client_id: str, secret_hash: str, previous_hash: str | None = None, previous_expires_at: int | None = None
    ) -> None:
        """Replace the secret; with ``previous_hash``, the old secret keeps working until ``previous_expires_at``."""
        ...

    def secret_hash(self, client_id: str) -> str | None:
        """The current secret's HMAC (read uncached: a rotation's overlap starts from it)."""
        ...

    def update(self, client_id: str, **values: object) -> None:
        """Set plain columns of a client (the administration has checked them)."""
        ...

    def page(self, after: str | None, limit: int) -> list[Registration]:
        """Up to ``limit`` clients by ``client_id``, those after ``after`` (keyset pagination)."""
        ...

    def set_access_token_ttl(self, client_id: str, ttl: int | None) -> None: ...
    def delete(self, client_id: str) -> None:
        """Delete the client (its refresh tokens go with it: the foreign key cascades)."""
        ...

    def all(self) -> list[Registration]:
        """Every client, by name and id."""
        ...

    def for_origin(self, origin: str) -> ClientInfo | None:
        """The client that registered this exact origin (cached like :meth:`get`), else ``None``."""
        ...

    def login_default(self) -> ClientInfo | None: ...
    def origin_owner(self, origin: str) -> str | None: ...
    def add_origin(self, client_id: str, origin: str) -> None: ...
    def remove_origin(self, client_id: str, origin: str) -> bool: ...
    def add_redirect_uri(self, client_id: str, uri: str, purpose: str) -> bool:
        """Register ``uri`` for ``purpose`` (``CALLBACK`` or ``POST_LOGOUT``) after the others; ``False`` if it
        already was."""
        ...

    def remove_redirect_uri(self, client_id: str, uri: str, purpose: str) -> bool:
        """``False`` if the client had no such URI."""
        ...

    def cors_origins(self) -> frozenset[str]:
        """Every origin some client's :attr:`ClientInfo.cors_origins` has (cached like :meth:`get`): the origins
        the token and revocation endpoints answer CORS for."""
        ...

    def set_login_default(self, client_id: str | None) -> None:
        """Make ``client_id`` the one login default (``None``: no client is)."""
        ...

    def set_grace_seconds(self, client_id: str, seconds: int | None) -> None: ...
    def longest_grace_seconds(self) -> int:
        """The longest grace window any client has of its own (cached): how long sealed successors must live."""
        ...


class ClientCache:
    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ClientInfo]] = {}

    def get(self, client_id: str, now: float) -> ClientInfo | None:
        entry = self._entries.get(client_id)
        return entry[1] if entry is not None and entry[0] > now else None

    def put(self, info: ClientInfo, now: float) -> None:
        if self.ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[info.client_id] = (now + self.ttl, info)

    def invalidate(self, client_id: str) -> None:
        self._entries.pop(client_id, None)


class SqlClientStore:
    """Clients through SQLAlchemy on the app's session, with the snapshot cache in front of :meth:`get`."""

    def __init__(self, cache_seconds: int) -> None:
        self.cache = ClientCache(cache_seconds)
        #: Facts about all clients (an origin's owner, the login default, the longest grace), with their expiry.
        self._derived: dict[str, tuple[float, object]] = {}

    def get(self, client_id: str) -> ClientInfo | None:
        now = time.monotonic()
        cached = self.cache.get(client_id, now)
        if cached is not None:
            return cached
        # No client id holds a NUL character (PostgreSQL refuses it in text: a 500 for a fuzzed query string).
        client = None if "\x00" in client_id else db.session.get(Client, client_id)
        if client is None:
            self.cache.invalidate(client_id)
            return None
        info = ClientInfo.of(client)
        self.cache.put(info, now)
        return info

    def fresh(self, client_id: str) -> ClientInfo | None:
        self.cache.invalidate(client_id)
        client = db.session.get(Client, client_id, populate_existing=True)
        if client is None:
            return None
        info = ClientInfo.of(client)
        self.cache.put(info, time.monotonic())
        return info

    def registration(self, client_id: str) -> Registration | None:
        client = db.session.get(Client, client_id)
        return None if client is None else Registration.of(client)

    def create(self, registration: Registration, secret_hash: str | None) -> None:
        r = registration
        db.session.add(
            Client(
                client_id=r.client_id,
                name=r.name,
                grant_types=" ".join(r.grant_types),
                scopes=" ".join(r.scopes),
                audience=r.audience,
                first_party=r.first_party,
                access_token_ttl=r.access_token_ttl,
                refresh_token_ttl=r.refresh_token_ttl,
                refresh_token_max_lifetime=r.refresh_token_max_lifetime,
                can_introspect=r.can_introspect,
                secret_hash=secret_hash,
                login_default=r.login_default,
                grace_seconds=r.grace_seconds,
                admin=r.admin,
                origins=[ClientOrigin(origin=o) for o in r.origins],
                redirect_uris=[
                    ClientRedirectUri(purpose=purpose, uri=uri, position=position)
                    for purpose, uris in ((CALLBACK, r.redirect_uris), (POST_LOGOUT, r.post_logout_redirect_uris))
                    for position, uri in enumerate(uris)
                ],
            )
        )
        db.session.commit()
        self._derived.clear()

    def _change(self, client_id: str, **values: object) -> None:
        client = db.session.get(Client, client_id)
        assert client is not None, f"no client {client_id!r}"
        for name, value in values.items():
            setattr(client, name, value)
        db.session.commit()
        self.cache.invalidate(client_id)
        self._derived.clear()

    def set_secret_hash(
        self, client_id: str, secret_hash: str, previous_hash: str | None = None, previous_expires_at: int | None = None
    ) -> None:
        self._change(
            client_id,
            secret_hash=secret_hash,
            previous_secret_hash=previous_hash,
            previous_secret_expires_at=previous_expires_at if previous_hash is not None else None,
        )

    def secret_hash(self, client_id: str) -> str | None:
        return db.session.execute(select(Client.secret_hash).where(Client.client_id == client_id)).scalar()

    def update(self, client_id: str, **values: object) -> None:
        self._change(client_id, **values)

    def page(self, after: str | None, limit: int) -> list[Registration]:
        query = select(Client).order_by(Client.client_id).limit(limit)
        if after is not None:
            query = query.where(Client.client_id > after)
        return [Registration.of(client) for client in db.session.execute(query).scalars()]

    def set_access_token_ttl(self, client_id: str, ttl: int | None) -> None:
        self._change(client_id, access_token_ttl=ttl)

    def delete(self, client_id: str) -> None:
        client = db.session.get(Client, client_id)
        if client is not None:
            db.session.delete(client)
            db.session.commit()
        self.cache.invalidate(client_id)
        self._derived.clear()

    def all(self) -> list[Registration]:
        clients = db.session.execute(select(Client).order_by(Client.name, Client.client_id)).scalars()
        return [Registration.of(client) for client in clients]

    def _cached(self, key: str) -> object:
        entry = self._derived.get(key)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def _remember(self, key: str, value: object) -> object:
        if self.cache.ttl > 0:
            if len(self._derived) >= MAX_ENTRIES:
                self._derived.clear()
            self._derived[key] = (time.monotonic() + self.cache.ttl, value)
        return value

    def _fact(self, key: str, compute: Callable[[], object]) -> object:
        cached = self._cached(key)
        return cached if cached is not None else self._remember(key, compute())

    def origin_owner(self, origin: str) -> str | None:
        return db.session.execute(select(ClientOrigin.client_id).where(ClientOrigin.origin == origin)).scalar()

    def for_origin(self, origin: str) -> ClientInfo | None:
        # An unknown origin is not remembered: random origins must not fill memory.
        key = "origin " + origin
        client_id = self._cached(key) or self.origin_owner(origin)
        if client_id is None:
            return None
        self._remember(key, client_id)
        return self.get(str(client_id))

    def login_default(self) -> ClientInfo | None:
        client_id = (
            self._cached("login default")
            or db.session.execute(select(Client.client_id).where(Client.login_default)).scalar()
        )
        if client_id is None:
            return None
        self._remember("login default", client_id)
        return self.get(str(client_id))

    def add_origin(self, client_id: str, origin: str) -> None:
        db.session.add(ClientOrigin(origin=origin, client_id=client_id))
        db.session.commit()
        self.cache.invalidate(client_id)
        self._derived.clear()

    def remove_origin(self, client_id: str, origin: str) -> bool:
        row = db.session.get(ClientOrigin, origin)
        if row is None or row.client_id != client_id:
            return False
        db.session.delete(row)
        db.session.commit()
        self.cache.invalidate(client_id)
        self._derived.clear()
        return True

    def add_redirect_uri(self, client_id: str, uri: str, purpose: str) -> bool:
        client = db.session.get(Client, client_id)
        assert client is not None, f"no client {client_id!r}"
        same = [r for r in client.redirect_uris if r.purpose == purpose]
        if any(r.uri == uri for r in same):
            return False
        position = max((r.position for r in same), default=-1) + 1
        client.redirect_uris.append(ClientRedirectUri(purpose=purpose, uri=uri, position=position))
        try:
            db.session.commit()
        except IntegrityError:  # added in parallel
            db.session.rollback()
            return False
        finally:
            self.cache.invalidate(client_id)
            self._derived.clear()
        return True

    def remove_redirect_uri(self, client_id: str, uri: str, purpose: str) -> bool:
        row = db.session.get(ClientRedirectUri, {"client_id": client_id, "purpose": purpose, "uri": uri})
        if row is None:
            return False
        db.session.delete(row)
        db.session.commit()
        self.cache.invalidate(client_id)
        self._derived.clear()
        return True

    def cors_origins(self) -> frozenset[str]:
        def compute() -> frozenset[str]:
            # Only public clients can have any (the grant type is checked exactly by ClientInfo).
            candidates = db.session.execute(
                select(Client).where(Client.secret_hash.is_(None), Client.grant_types.contains(AUTHORIZATION_CODE))
            ).scalars()
            return frozenset().union(*(ClientInfo.of(client).cors_origins for client in candidates))

        return cast(frozenset[str], self._fact("cors origins", compute))

    def set_login_default(self, client_id: str | None) -> None:
        for client in db.session.execute(select(Client).where(Client.login_default)).scalars():
            client.login_default = False
            self.cache.invalidate(client.client_id)
        if client_id is not None:
            self._change(client_id, login_default=True)
        else:
            db.session.commit()
        self._derived.clear()

    def set_grace_seconds(self, client_id: str, seconds: int | None) -> None:
        self._change(client_id, grace_seconds=seconds)

    def longest_grace_seconds(self) -> int:
        def compute() -> int:
            own = db.session.execute(select(func.max(Client.grace_seconds))).scalar() or 0
            browser = db.session.execute(select(func.count()).select_from(ClientOrigin)).scalar()
            return max(own, BROWSER_GRACE_SECONDS if browser else 0)

        return int(self._fact("longest grace", compute))  # type: ignore[call-overload]


def make_store(cache_seconds: int) -> ClientStore:
    return SqlClientStore(cache_seconds)
