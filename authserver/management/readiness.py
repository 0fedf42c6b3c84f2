"""Is this server ready for traffic? Each failing check is one reason, named for the operator's fix.

- ``database_unreachable``: the database does not answer.
- ``schema_behind``: the database is older than the code (or never migrated): run ``authserver db upgrade``.
  A database *ahead* of the code is ready (expand/contract: this release serves the next one's schema).
- ``no_active_key``: no active signing key is loaded.
- ``key_reload_failed``: the keys changed but the last reload failed; the last good keys still sign.
- ``draining``: ``authserver serve`` received SIGTERM and is draining.
- ``public_listener_down``: the public listener of this server does not accept connections (yet).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from dataclasses import field

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from authserver.extensions import db
from authserver.serving.runtime import Runtime
from authserver.store import schema

log = logging.getLogger("authserver.management")


@dataclass(frozen=True)
class Readiness:
    #: reason -> a sentence for the operator (no secret, no key material).
    failing: dict[str, str] = field(default_factory=dict)
    schema: schema.SchemaStatus | None = None

    @property
    def ready(self) -> bool:
        return not self.failing


class Checks:
    """The readiness checks of one management app (its database, its keyring, its server's runtime)."""

    def __init__(self, app: Flask, runtime: Runtime | None) -> None:
        self.app = app
        self.runtime = runtime
        self._code_revisions: tuple[str, ...] | None = None

    def code_revisions(self) -> tuple[str, ...]:
        """The code's migrations, read once (the code does not change while it runs)."""
        if self._code_revisions is None:
            self._code_revisions = schema.code_revisions()
        return self._code_revisions

    def schema_status(self) -> schema.SchemaStatus:
        revisions = self.code_revisions()
        return schema.SchemaStatus(current=schema.database_revision(), head=revisions[0], known=revisions)

    def run(self) -> Readiness:
        failing: dict[str, str] = {}
        if self.runtime is not None and self.runtime.draining:
            failing["draining"] = "the server received SIGTERM and is stopping"
        status = self._database(failing)
        self._keys(failing)
        self._public_listener(failing)
        return Readiness(failing, status)

    def _database(self, failing: dict[str, str]) -> schema.SchemaStatus | None:
        try:
            status = self.schema_status()
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("readiness: the database does not answer: %s", type(exc).__name__)
            failing["database_unreachable"] = "the database does not answer"
            return None
        finally:
            db.session.remove()  # no connection held between probes
        if status.behind:
            failing["schema_behind"] = (
                f"database at revision {status.current or 'none'}, the code at {status.head}: run authserver db upgrade"
            )
        return status

    def _keys(self, failing: dict[str, str]) -> None:
        keyring = self.app.extensions.get("authserver.keys.keyring")
        try:
            signing = keyring.current.keystore.signing if keyring is not None else None
        except (AttributeError, IndexError):
            signing = None
        if keyring is None or signing is None:
            failing["no_active_key"] = "no active signing key is loaded"
        elif keyring.reload_error is not None:
            # No path or key detail: the key.reload_failed event and its log line say what to fix.
            failing["key_reload_failed"] = "signing keys changed but cannot be loaded; serving the last good keys"

    def _public_listener(self, failing: dict[str, str]) -> None:
        address = self.runtime.public_address() if self.runtime is not None else None
        if address is None:
            return
        try:
            socket.create_connection(address, timeout=1).close()
        except OSError:
            failing["public_listener_down"] = "the public listener does not accept connections"
