"""The request's unit of work: writes the stores make in the session, committed together."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from authserver.extensions import db

T = TypeVar("T")


def run_with_retry(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a unit of work in the session and commit it; retry on a deadlock or serialisation failure
    (PostgreSQL SQLSTATE 40P01 / 40001), which contention can cause and which must never be a 5xx."""
    for attempt in range(attempts):
        try:
            result = work()
            db.session.commit()
            return result
        except OperationalError as exc:
            db.session.rollback()
            if getattr(exc.orig, "sqlstate", None) not in ("40P01", "40001") or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
