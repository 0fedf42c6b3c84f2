"""OAuth clients (RFC 6749 §2)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from authserver.extensions import Model


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Client(Model):
    """A registered client. Confidential clients keep only an HMAC of their secret."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: HMAC-SHA-256(pepper, secret), hex; ``None`` for public clients (auth method ``none``).
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    #: During a secret rotation with an overlap: the previous secret's HMAC, accepted until
    #: ``previous_secret_expires_at`` (Unix seconds); both ``None`` otherwise.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    #: An admin client (``authserver admin bootstrap``): the only kind that may hold ``admin:*`` scopes and
    #: the audience ``authserver-admin`` (the admin API's, :mod:`authserver.admin_api`).
    admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: "Revoke everything before": its access tokens issued before this Unix time introspect inactive.
    tokens_not_before: Mapped[int | None] = mapped_column(BigInteger)
    #: Space-separated grant types, e.g. ``"password refresh_token"``.
    grant_types: Mapped[str] = mapped_column(String(500), default="")
    #: Space-separated scopes the client may ask for.
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    audience: Mapped[str | None] = mapped_column(String(500))
    #: Only first-party clients may use the password grant (RFC 9700 §2.4).
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Per-client overrides, seconds; ``None`` means the server default.
    access_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_token_max_lifetime: Mapped[int | None] = mapped_column(Integer)
    #: Resource servers that may call the introspection endpoint (RFC 7662 §4).
    can_introspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: The JSON API's body mode serves this client when a request names none; at most one client is it.
    login_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Its own refresh grace window, seconds; ``None``: 10 s with origins (browser tabs), else the server's.
    grace_seconds: Mapped[int | None] = mapped_column(Integer)
    #: The browser origins (scheme, host, port) of its single-page apps: the JSON API's cookie mode.
    origins: Mapped[list[ClientOrigin]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ClientOrigin.origin"
    )
    #: Its registered redirect URIs (RFC 6749 §3.1.2) and post-logout redirect URIs (RP-Initiated Logout §3.1).
    redirect_uris: Mapped[list[ClientRedirectUri]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ClientRedirectUri.position"
    )

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.grant_types.split()

    def scope_set(self) -> set[str]:
        return set(self.scopes.split())


class ClientOrigin(Model):
    """One exact browser origin of a client; an origin belongs to one client only."""

    __tablename__ = "client_origins"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)


#: ``ClientRedirectUri.purpose``: where the authorization endpoint may send the user back with a code.
CALLBACK = "callback"
#: ``ClientRedirectUri.purpose``: where RP-initiated logout may send the user back.
POST_LOGOUT = "post_logout"


class ClientRedirectUri(Model):
    """One registered redirect URI of a client, compared exactly (RFC 9700 §4.1.3)."""

    __tablename__ = "client_redirect_uris"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    uri: Mapped[str] = mapped_column(String(2000), primary_key=True)
    #: Registration order, which the administration shows.
    position: Mapped[int] = mapped_column(Integer, default=0)
