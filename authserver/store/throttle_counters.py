"""Counter stores for :mod:`authserver.throttle.policy`: Redis when ``AUTHSERVER_REDIS_URL`` is set, the
database otherwise. Every failure of the store surfaces as :class:`StoreError`: the throttle then
fails open for the global and IP counters and counts usernames in its per-process fallback.

:meth:`Store.reserve` is the step before every password verify: in one round trip and atomically
(a Lua script on Redis; one statement on PostgreSQL, one transaction on SQLite) it reads the global
and IP counters and, unless a ceiling is reached or the username is locked, adds this attempt to the
username's count, so parallel guesses each get their own place in the count.

Every key is bounded (:func:`bounded`): a longer one is replaced by its SHA-256, so no input (a huge
username, a forwarded address) can overflow the key column and make the store fail.

The implementation is chosen once, by :func:`make_store`: :class:`RedisStore`, else :class:`PostgresqlStore`
(single statements on the held autocommit connection) or :class:`SqliteStore` (short transactions on the
app's engine), both sharing :class:`DatabaseStore`'s statements.
"""

from __future__ import annotations

import functools
import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import cast

import psycopg
from sqlalchemy import BigInteger
from sqlalchemy import Connection
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import SQLAlchemyError

from authserver.extensions import db
from authserver.models.throttle import ThrottleEntry
from authserver.store import autocommit

#: A lock that never lapses by itself (``users unlock`` lifts it): written as its ``until``.
PERMANENT = 2**62
LOCKOUT_MEMORY = 86400  # lockouts are forgotten a day after the last one (Keycloak: failure reset time)
MAX_KEY_LENGTH = 200  # the database column holds 250


def bounded(key: str) -> str:
    """``key``, or if longer than :data:`MAX_KEY_LENGTH` its kind (``user``, ``ip``) and SHA-256."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return key.split(":", 1)[0] + ":sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class StoreError(Exception):
    """The counter store is unreachable or failed."""


@dataclass(frozen=True)
class Ceilings:
    """The keys and limits a reservation checks: the global and IP counters and the username's."""

    global_key: str
    global_max: int
    ip_key: str
    ip_max: int
    user_key: str
    user_window: int


@dataclass(frozen=True)
class Reserved:
    """What :meth:`Store.reserve` found and did."""

    global_failures: int
    ip_failures: int
    #: The username's count with this attempt in it; 0 when nothing was reserved (a ceiling reached,
    #: or the username locked).
    user_failures: int
    locked_until: int | None


class Store(Protocol):
    def reserve(self, ceilings: Ceilings, now: int) -> Reserved:
        """Read the global and IP counts; unless one is at its ceiling or the username is locked, add one
        to the username's count (a new window if it lapsed). One atomic round trip."""
        ...

    def incr(self, key: str, now: int, ttl: int) -> int: ...
    def lock(self, key: str, until: int, now: int) -> None:
        """Lock the username until ``until``; its count (left as it is) lapses with the lock."""
        ...

    def add_lockout(self, key: str, now: int) -> int:
        """One lockout more (forgotten a day after the last); the number of lockouts."""
        ...

    def reset_failures(self, key: str, now: int) -> None: ...
    def clear(self, key: str, now: int) -> None: ...
    def purge_expired(self, now: int) -> int:
        """Delete database rows with nothing left to remember; the number deleted."""
        ...


#: KEYS: global count, IP count, username count, username lock; ARGV: global max, IP max, now, window.
#: Returns {global, ip, username count after the reservation (0: none), locked until (0: not locked)}.
_RESERVE_LUA = """
local g = tonumber(redis.call('GET', KEYS[1]) or '0')
local ip = tonumber(redis.call('GET', KEYS[2]) or '0')
if g >= tonumber(ARGV[1]) or ip >= tonumber(ARGV[2]) then return {g, ip, 0, 0} end
local lock = redis.call('GET', KEYS[4])
if lock then
  if tonumber(lock) > tonumber(ARGV[3]) then return {g, ip, 0, lock} end
  redis.call('DEL', KEYS[4], KEYS[3])  -- a lapsed lock (its key outlived it): its count lapses with it
end
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
return {g, ip, n, 0}
"""


class RedisStore:
    """Fixed-window counters and lock keys with expiry, under the ``authserver:`` prefix."""

    def __init__(self, url: str, table: DatabaseStore) -> None:
        import redis  # only loaded when configured

        self.table = table  # rows written before Redis was configured, purged with the rest
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.redis = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._reserve = self.redis.register_script(_RESERVE_LUA)

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as exc:
            raise StoreError(str(exc)) from exc

    def reserve(self, ceilings: Ceilings, now: int) -> Reserved:
        c = ceilings
        keys = [
            f"authserver:cnt:{bounded(c.global_key)}",
            f"authserver:cnt:{bounded(c.ip_key)}",
            f"authserver:cnt:{bounded(c.user_key)}",
            f"authserver:lock:{bounded(c.user_key)}",
        ]
        g, ip, user, lock = self._do(self._reserve, keys, [c.global_max, c.ip_max, now, c.user_window])
        return Reserved(int(g), int(ip), int(user), int(lock) if int(lock) > now else None)

    def incr(self, key: str, now: int, ttl: int) -> int:
        name = f"authserver:cnt:{bounded(key)}"

        def run() -> int:
            pipe = self.redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, ttl, nx=True)
            return int(pipe.execute()[0])

        return self._do(run)

    def lock(self, key: str, until: int, now: int) -> None:
        key = bounded(key)
        if until >= PERMANENT:
            self._do(self.redis.set, f"authserver:lock:{key}", until)
            return

        def run() -> None:  # the count (kept until now, refusing everything) lapses with the lock
            pipe = self.redis.pipeline()
            pipe.set(f"authserver:lock:{key}", until, max(1, until - now))
            pipe.expire(f"authserver:cnt:{key}", max(1, until - now))
            pipe.execute()

        self._do(run)

    def add_lockout(self, key: str, now: int) -> int:
        key = bounded(key)

        def run() -> int:
            pipe = self.redis.pipeline()
            pipe.incr(f"authserver:lockouts:{key}")
            pipe.expire(f"authserver:lockouts:{key}", LOCKOUT_MEMORY)
            return int(pipe.execute()[0])

        return self._do(run)

    def reset_failures(self, key: str, now: int) -> None:
        self._do(self.redis.delete, f"authserver:cnt:{bounded(key)}")

    def clear(self, key: str, now: int) -> None:
        key = bounded(key)
        self._do(self.redis.delete, f"authserver:cnt:{key}", f"authserver:lock:{key}", f"authserver:lockouts:{key}")

    def purge_expired(self, now: int) -> int:
        """Redis keys expire by themselves; the table may hold rows from before Redis was configured."""
        return self.table.purge_expired(now)


_t = cast(Table, ThrottleEntry.__table__)  # a mapped class's table (typed FromClause)


@functools.cache
def _reservation(dialect: str) -> tuple[Any, Any]:
    """The reservation before every password verify, built once per dialect: the upsert of the
    username's count, and the read of the global and IP counts.

    The upsert inserts nothing and changes nothing if the global or IP count is at its ceiling; on a
    locked username it leaves the count as it is (and returns the lock). It takes the row's lock, so
    parallel reservations of one username each get the next count.
    """
    now, window = bindparam("p_now", type_=BigInteger), bindparam("p_window", type_=BigInteger)
    global_key, ip_key = bindparam("p_global_key", type_=String), bindparam("p_ip_key", type_=String)
    at_ceiling = (
        select(_t.c.key)
        .where(
            _t.c.window_end > now,
            or_(
                and_(_t.c.key == global_key, _t.c.count >= bindparam("p_global_max", type_=Integer)),
                and_(_t.c.key == ip_key, _t.c.count >= bindparam("p_ip_max", type_=Integer)),
            ),
        )
        .exists()
    )
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_t)
    locked, lapsed = _t.c.locked_until > now, _t.c.window_end <= now
    upsert = (
        insert.from_select(
            ["key", "count", "window_end", "lockouts", "lockouts_reset_at"],
            select(bindparam("p_user_key", type_=String), literal(1), now + window, literal(0), literal(0)).where(
                ~at_ceiling
            ),
        )
        .on_conflict_do_update(
            index_elements=[_t.c.key],
            set_={
                "count": case((locked, _t.c.count), (lapsed, 1), else_=_t.c.count + 1),
                "window_end": case((locked, _t.c.window_end), (lapsed, now + window), else_=_t.c.window_end),
            },
        )
        .returning(_t.c.key, _t.c.count, _t.c.window_end, _t.c.locked_until)
    )
    ceilings = select(_t.c.key, _t.c.count, _t.c.window_end, _t.c.locked_until).where(
        _t.c.key.in_([global_key, ip_key])
    )
    if dialect != "postgresql":
        return upsert, ceilings
    # One statement: the read sees the table as it was before the upsert (the same snapshot).
    reserved = upsert.cte("reserved")
    return ceilings.union_all(
        select(reserved.c.key, reserved.c.count, reserved.c.window_end, reserved.c.locked_until)
    ), None


@functools.cache
def _reset_failures() -> Any:
    return update(_t).where(_t.c.key == bindparam("p_key", type_=String), _t.c.count > 0).values(count=0)


class DatabaseStore:
    """The same counters as rows of ``throttle_entries``, each operation its own short transaction
    (independent of the request's session) and one upsert statement where it writes. A subclass per
    dialect says how a statement reaches the database."""

    dialect: Any  # the dialect module whose insert() has on_conflict_do_update

    def _connection(self) -> AbstractContextManager[Connection]:
        """A context manager yielding a connection whose statements are committed when it exits."""
        raise NotImplementedError

    def _run(self, statement: Any) -> Any:
        try:
            with self._connection() as conn:
                result = conn.execute(statement)
                return result.freeze()() if result.returns_rows else result
        except SQLAlchemyError as exc:
            raise StoreError(type(exc).__name__) from exc

    def _upsert(self, key: str, values: dict[str, Any], on_conflict: dict[str, Any]) -> Any:
        stmt = self.dialect.insert(_t).values(key=key, **values)
        return stmt.on_conflict_do_update(index_elements=[_t.c.key], set_=on_conflict)

    def _reserved_rows(self, params: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def reserve(self, ceilings: Ceilings, now: int) -> Reserved:
        c = ceilings
        keys = {"p_global_key": bounded(c.global_key), "p_ip_key": bounded(c.ip_key), "p_user_key": bounded(c.user_key)}
        params = {**keys, "p_global_max": c.global_max, "p_ip_max": c.ip_max, "p_now": now, "p_window": c.user_window}
        rows = self._reserved_rows(params)
        counts = {
            key: (count if window_end > now else 0, locked_until)
            for key, count, window_end, locked_until in rows
            if key != keys["p_user_key"]
        }
        user = next((row for row in rows if row[0] == keys["p_user_key"]), None)
        locked_until = user[3] if user is not None and user[3] is not None and user[3] > now else None
        return Reserved(
            counts.get(keys["p_global_key"], (0, None))[0],
            counts.get(keys["p_ip_key"], (0, None))[0],
            0 if user is None or locked_until is not None else user[1],
            locked_until,
        )

    def incr(self, key: str, now: int, ttl: int) -> int:
        key = bounded(key)
        lapsed = _t.c.window_end <= now
        stmt = self._upsert(
            key,
            {"count": 1, "window_end": now + ttl, "lockouts": 0, "lockouts_reset_at": 0},
            {
                "count": case((lapsed, 1), else_=_t.c.count + 1),
                "window_end": case((lapsed, now + ttl), else_=_t.c.window_end),
            },
        )
        return int(self._run(stmt.returning(_t.c.count)).scalar_one())

    def lock(self, key: str, until: int, now: int) -> None:
        # The count stays (at the limit, refusing every reservation until the lock is written) and lapses
        # with the lock: one statement sets both, so no attempt slips in between.
        key = bounded(key)
        self._run(
            self._upsert(
                key,
                {"count": 0, "window_end": until, "locked_until": until, "lockouts": 0, "lockouts_reset_at": 0},
                {"locked_until": until, "window_end": until},
            )
        )

    def add_lockout(self, key: str, now: int) -> int:
        key = bounded(key)
        forgotten = _t.c.lockouts_reset_at <= now
        initial = {"count": 0, "window_end": 0, "lockouts": 1, "lockouts_reset_at": now + LOCKOUT_MEMORY}
        stmt = self._upsert(
            key,
            initial,
            {"lockouts": case((forgotten, 1), else_=_t.c.lockouts + 1), "lockouts_reset_at": now + LOCKOUT_MEMORY},
        )
        return int(self._run(stmt.returning(_t.c.lockouts)).scalar_one())

    def reset_failures(self, key: str, now: int) -> None:
        self._run(update(_t).where(_t.c.key == bounded(key), _t.c.count > 0).values(count=0))

    def clear(self, key: str, now: int) -> None:
        self._run(delete(_t).where(_t.c.key == bounded(key)))

    def purge_expired(self, now: int) -> int:
        """Delete rows with nothing left to remember, on the app's engine."""
        with db.engine.begin() as conn:
            return conn.execute(
                delete(_t).where(
                    _t.c.window_end <= now,
                    or_(_t.c.locked_until.is_(None), _t.c.locked_until <= now),
                    _t.c.lockouts_reset_at <= now,
                )
            ).rowcount


class PostgresqlStore(DatabaseStore):
    """One statement each, atomic on its own, in autocommit (no BEGIN/COMMIT round trips); the reservation and
    the reset after a correct password precompiled on the held autocommit connection (no pool checkout)."""

    dialect = postgresql

    def _connection(self) -> AbstractContextManager[Connection]:
        engine = autocommit.engine()
        assert engine is not None, "PostgresqlStore without the autocommit engine"
        return engine.connect()

    def _reserved_rows(self, params: dict[str, Any]) -> list[Any]:
        # A SELECT over a data-modifying CTE: on a broken kept connection autocommit sends it again on a
        # new one; if the first one had committed, this attempt counts twice, which errs towards locking.
        try:
            return autocommit.fetchall(_reservation("postgresql")[0], params)
        except psycopg.Error as exc:
            raise StoreError(type(exc).__name__) from exc

    def reset_failures(self, key: str, now: int) -> None:
        try:  # on the connection the reservation just used: no pool checkout
            autocommit.fetchall(_reset_failures(), {"p_key": bounded(key)})
        except psycopg.Error as exc:
            raise StoreError(type(exc).__name__) from exc


class SqliteStore(DatabaseStore):
    """Each operation a short transaction on the app's engine; the reservation's upsert and read in one."""

    dialect = sqlite

    def _connection(self) -> AbstractContextManager[Connection]:
        return db.engine.begin()

    def _reserved_rows(self, params: dict[str, Any]) -> list[Any]:
        upsert, read = _reservation("sqlite")
        try:
            with db.engine.begin() as conn:  # the write first: SQLite takes its write lock at once
                return [*conn.execute(upsert, params), *conn.execute(read, params)]
        except SQLAlchemyError as exc:
            raise StoreError(type(exc).__name__) from exc


def make_store(redis_url: str | None, postgresql: bool) -> Store:
    table = PostgresqlStore() if postgresql else SqliteStore()
    return RedisStore(redis_url, table) if redis_url else table
