"""Where the database's schema stands against the code's migrations (``/readyz``, ``/version``).

The code's head is read from the Alembic scripts in ``migrations/``; the database's revision from its
``alembic_version`` table. Alembic is imported only when asked (the management listener), never on the
public request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from authserver.extensions import db
from authserver.store.database import migrations_dir


@dataclass(frozen=True)
class SchemaStatus:
    """``current``: the database's revision (None: never migrated); ``head``: the code's."""

    current: str | None
    head: str
    #: Revisions the code knows, newest first: a database revision outside them is *ahead* of the code.
    known: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def behind(self) -> bool:
        """Older than the code (or never migrated): run ``authserver db upgrade``."""
        return self.current is None or (self.current != self.head and self.current in self.known)

    @property
    def ahead(self) -> bool:
        """Newer than the code: a later release migrated it (expand/contract lets this release still serve)."""
        return self.current is not None and self.current not in self.known


def code_revisions() -> tuple[str, ...]:
    """The code's revisions, head first (one head: the suite's migration test keeps it so)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return tuple(script.revision for script in ScriptDirectory.from_config(config).walk_revisions())


def database_revision() -> str | None:
    """The database's revision; None without an ``alembic_version`` row (or table). Raises if it does not answer."""
    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        db.session.rollback()
        # A missing table is "never migrated"; a database that does not answer at all raises again here.
        db.session.execute(text("SELECT 1"))
        return None


def schema_status() -> SchemaStatus:
    revisions = code_revisions()
    return SchemaStatus(current=database_revision(), head=revisions[0], known=revisions)
