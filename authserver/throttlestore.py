"""Counter stores for :mod:`authserver.ratelimit`: Redis when ``AUTHSERVER_REDIS_URL`` is set, the
database otherwise. Every failure of the store surfaces as :class:`StoreError`, which the throttle
turns into "fail open".
"""

from __future__ import annotations

import functools
from typing import Any
from typing import Protocol

import psycopg
from flask import Flask
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError

from authserver import autocommit
from authserver.extensions import db
from authserver.models.throttle import ThrottleEntry

LOCKOUT_MEMORY = 86400  # lockouts are forgotten a day after the last one (Keycloak: failure reset time)


class StoreError(Exception):
    """The counter store is unreachable or failed."""


class Store(Protocol):
    def snapshot(self, keys: list[str], now: int) -> dict[str, tuple[int, int | None]]:
        """Current (failure count, locked until) of each key, in one round trip."""
        ...

    def incr(self, key: str, now: int, ttl: int) -> int: ...
    def lock(self, key: str, until: int, now: int) -> None: ...
    def add_lockout(self, key: str, now: int) -> int: ...
    def reset_failures(self, key: str, now: int) -> None: ...
    def clear(self, key: str, now: int) -> None: ...


class RedisStore:
    """Fixed-window counters and lock keys with expiry, under the ``authserver:`` prefix."""

    def __init__(self, url: str) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.redis = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as exc:
            raise StoreError(str(exc)) from exc

    def snapshot(self, keys: list[str], now: int) -> dict[str, tuple[int, int | None]]:
        names = [f"authserver:cnt:{k}" for k in keys] + [f"authserver:lock:{k}" for k in keys]
        values = self._do(self.redis.mget, names)
        out: dict[str, tuple[int, int | None]] = {}
        for i, key in enumerate(keys):
            lock = values[len(keys) + i]
            out[key] = (int(values[i] or 0), int(lock) if lock is not None and int(lock) > now else None)
        return out

    def incr(self, key: str, now: int, ttl: int) -> int:
        def run() -> int:
            pipe = self.redis.pipeline()
            pipe.incr(f"authserver:cnt:{key}")
            pipe.expire(f"authserver:cnt:{key}", ttl, nx=True)
            return int(pipe.execute()[0])
        return self._do(run)

    def lock(self, key: str, until: int, now: int) -> None:
        from authserver.ratelimit import PERMANENT

        if until >= PERMANENT:
            self._do(self.redis.set, f"authserver:lock:{key}", until)
        else:
            self._do(self.redis.set, f"authserver:lock:{key}", until, max(1, until - now))

    def add_lockout(self, key: str, now: int) -> int:
        def run() -> int:
            pipe = self.redis.pipeline()
            pipe.incr(f"authserver:lockouts:{key}")
            pipe.expire(f"authserver:lockouts:{key}", LOCKOUT_MEMORY)
            pipe.delete(f"authserver:cnt:{key}")
            return int(pipe.execute()[0])
        return self._do(run)

    def reset_failures(self, key: str, now: int) -> None:
        self._do(self.redis.delete, f"authserver:cnt:{key}")

    def clear(self, key: str, now: int) -> None:
        self._do(self.redis.delete, f"authserver:cnt:{key}", f"authserver:lock:{key}", f"authserver:lockouts:{key}")


_t = ThrottleEntry.__table__


@functools.cache
def _snapshot(key_count: int) -> Any:
    """The read before every password verify (global, IP and username counters), built once per key count."""
    return select(_t.c.key, _t.c.count, _t.c.window_end, _t.c.locked_until).where(
        _t.c.key.in_([bindparam(f"p_key_{i}", type_=String) for i in range(key_count)]))


class DatabaseStore:
    """The same counters as rows of ``throttle_entries``, each operation its own short transaction
    (independent of the request's session) and one upsert statement where it writes."""

    def _run(self, statement: Any) -> Any:
        # One statement each, atomic on its own: on PostgreSQL in autocommit (no BEGIN/COMMIT round trips).
        engine = autocommit.engine()
        try:
            with engine.connect() if engine is not None else db.engine.begin() as conn:
                result = conn.execute(statement)
                return result.freeze()() if result.returns_rows else result
        except SQLAlchemyError as exc:
            raise StoreError(type(exc).__name__) from exc

    def _upsert(self, key: str, values: dict[str, Any], on_conflict: dict[str, Any]) -> Any:
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(_t).values(key=key, **values)
        return stmt.on_conflict_do_update(index_elements=[_t.c.key], set_=on_conflict)

    def snapshot(self, keys: list[str], now: int) -> dict[str, tuple[int, int | None]]:
        statement, params = _snapshot(len(keys)), {f"p_key_{i}": key for i, key in enumerate(keys)}
        if autocommit.engine() is None:
            rows = self._run(statement.params(params))
        else:
            try:
                rows = autocommit.fetchall(statement, params)
            except psycopg.Error as exc:
                raise StoreError(type(exc).__name__) from exc
        out: dict[str, tuple[int, int | None]] = dict.fromkeys(keys, (0, None))
        for key, count, window_end, locked_until in rows:
            out[key] = (count if window_end > now else 0,
                        locked_until if locked_until is not None and locked_until > now else None)
        return out

    def incr(self, key: str, now: int, ttl: int) -> int:
        lapsed = _t.c.window_end <= now
        stmt = self._upsert(key, {"count": 1, "window_end": now + ttl, "lockouts": 0, "lockouts_reset_at": 0}, {
            "count": case((lapsed, 1), else_=_t.c.count + 1),
            "window_end": case((lapsed, now + ttl), else_=_t.c.window_end)})
        return int(self._run(stmt.returning(_t.c.count)).scalar_one())

    def lock(self, key: str, until: int, now: int) -> None:
        self._run(self._upsert(key, {"count": 0, "window_end": 0, "locked_until": until, "lockouts": 0,
                                     "lockouts_reset_at": 0}, {"locked_until": until}))

    def add_lockout(self, key: str, now: int) -> int:
        forgotten = _t.c.lockouts_reset_at <= now
        initial = {"count": 0, "window_end": 0, "lockouts": 1, "lockouts_reset_at": now + LOCKOUT_MEMORY}
        stmt = self._upsert(key, initial,
                            {"lockouts": case((forgotten, 1), else_=_t.c.lockouts + 1),
                             "lockouts_reset_at": now + LOCKOUT_MEMORY, "count": 0})
        return int(self._run(stmt.returning(_t.c.lockouts)).scalar_one())

    def reset_failures(self, key: str, now: int) -> None:
        self._run(update(_t).where(_t.c.key == key, _t.c.count > 0).values(count=0))

    def clear(self, key: str, now: int) -> None:
        self._run(delete(_t).where(_t.c.key == key))


def purge_expired(now: int) -> int:
    """Delete database throttle rows with nothing left to remember (Redis keys expire by themselves)."""
    with db.engine.begin() as conn:
        return conn.execute(delete(_t).where(
            _t.c.window_end <= now, or_(_t.c.locked_until.is_(None), _t.c.locked_until <= now),
            _t.c.lockouts_reset_at <= now)).rowcount


def make_store(app: Flask) -> Store:
    url = app.config.get("REDIS_URL")
    return RedisStore(url) if url else DatabaseStore()
