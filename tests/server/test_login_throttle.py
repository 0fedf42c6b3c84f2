"""Failed-login throttles (RFC 6749 §4.3.2: the password grant MUST resist brute force).

Every test runs with the Redis store and with the database store, on SQLite and PostgreSQL. Redis
db 15 may be shared with other runs: usernames and client IPs are unique per test, never flushed.
"""

from __future__ import annotations

import random
import uuid

import argon2
import pytest
import redis

from authserver import telemetry
from authserver.cli.console import main
from authserver.store.throttle_counters import DatabaseStore
from authserver.store.throttle_counters import StoreError

PASSWORD = "correct horse battery"
WRONG = "wrong-password-5c1e7a"
REDIS_URLS = {"redis": "redis://127.0.0.1:6379/15", "redis-down": "redis://127.0.0.1:1/0"}
LIMITS = {
    "BRUTE_FORCE_MAX_FAILURES": 3,
    "BRUTE_FORCE_WAIT_INCREMENT": 60,
    "BRUTE_FORCE_MAX_WAIT": 900,
    "BRUTE_FORCE_PERMANENT_AFTER": 3,
    "IP_MAX_FAILURES": 1000,
    "GLOBAL_MAX_FAILURES": 100000,
}


@pytest.fixture(params=["redis", "database"])
def store(request):
    return request.param


@pytest.fixture
def limits():  # parametrise a test on it to change throttle settings
    return {}


@pytest.fixture
def config_overrides(store, limits):
    return {**LIMITS, **limits, **({"REDIS_URL": REDIS_URLS[store]} if store in REDIS_URLS else {})}


RUN = uuid.uuid4().hex[:8]  # in every username of this module: its Redis keys are deleted at the end


@pytest.fixture(scope="module", autouse=True)
def delete_our_redis_keys():
    yield
    conn = redis.Redis.from_url(REDIS_URLS["redis"])
    keys = list(conn.scan_iter(match=f"authserver:*{RUN}*", count=1000))
    if keys:
        conn.delete(*keys)


def unique(prefix: str = "u") -> str:
    return f"{prefix}-{RUN}-{uuid.uuid4().hex[:8]}"


def unique_ip() -> str:
    return "10.{}.{}.{}".format(*(random.randrange(1, 255) for _ in range(3)))


class Login:
    """Password-grant attempts from one client IP (overridable per call)."""

    def __init__(self, client, reg, ip: str) -> None:
        self.client, self.reg, self.ip = client, reg, ip

    def __call__(self, username: str, password: str = WRONG, ip: str | None = None):
        return self.client.post(
            "/oauth/token",
            headers=self.reg.basic,
            data={"grant_type": "password", "username": username, "password": password},
            environ_overrides={"REMOTE_ADDR": ip or self.ip},
        )


@pytest.fixture
def login(client, make_client):
    return Login(client, make_client(unique("app")), unique_ip())


@pytest.fixture
def user(make_user):
    name = unique("alice")
    make_user(name, PASSWORD)
    return name


@pytest.fixture
def verifies(monkeypatch):
    """Counts real argon2 verifies (the expensive work a lock must not cost)."""
    calls: list[int] = []
    original = argon2.PasswordHasher.verify

    def counting(self, hash, password):
        calls.append(1)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return calls


def assert_invalid_grant(resp) -> None:
    assert resp.status_code == 400, resp.data
    assert resp.json["error"] == "invalid_grant"
    assert resp.headers["Cache-Control"] == "no-store"


def fail(login: Login, username: str, times: int, **kw) -> bytes:
    for _ in range(times):
        resp = login(username, **kw)
        assert_invalid_grant(resp)
    return resp.data


def unlock(app, username: str) -> None:
    result = app.test_cli_runner().invoke(main, args=["users", "unlock", username])
    assert result.exit_code == 0, (result.output, result.exception)


def test_lock_refuses_the_correct_password_with_the_wrong_password_body_and_no_argon2(login, user, verifies):
    wrong_body = fail(login, user, 3)
    assert "Retry-After" not in login(unique("nobody")).headers
    before = len(verifies)
    locked = login(user, PASSWORD)
    assert_invalid_grant(locked)
    assert locked.data == wrong_body
    assert locked.headers["Retry-After"] == "60"
    assert len(verifies) == before, "a locked attempt must cost no argon2 verify"


def test_wait_grows_per_lockout_then_lock_is_permanent_until_users_unlock(app, clock, login, user):
    wrong_body = fail(login, user, 3)
    assert login(user, PASSWORD).headers["Retry-After"] == "60"
    clock.advance(60)
    fail(login, user, 3)  # the lock has lapsed: counted again, second lockout
    second = login(user, PASSWORD)
    assert second.data == wrong_body
    assert second.headers["Retry-After"] == "120"
    clock.advance(60)
    assert login(user, PASSWORD).headers["Retry-After"] == "60"
    clock.advance(60)
    fail(login, user, 3)  # third lockout = BRUTE_FORCE_PERMANENT_AFTER
    clock.advance(30 * 86400)
    permanent = login(user, PASSWORD)
    assert_invalid_grant(permanent)
    assert permanent.data == wrong_body
    unlock(app, user)
    assert login(user, PASSWORD).status_code == 200


@pytest.mark.parametrize("limits", [{"BRUTE_FORCE_MAX_WAIT": 90}])
def test_wait_is_capped_at_max_wait(clock, login, user):
    fail(login, user, 3)
    clock.advance(60)
    fail(login, user, 3)
    assert login(user, PASSWORD).headers["Retry-After"] == "90"


def test_unknown_username_locks_exactly_like_an_existing_one(app, login, user, verifies):
    nobody = unique("ghost")
    assert fail(login, nobody, 3) == fail(login, user, 3)
    before = len(verifies)
    ghost, real = login(nobody, PASSWORD), login(user, PASSWORD)
    assert len(verifies) == before
    assert_invalid_grant(ghost)
    assert (ghost.status_code, ghost.data, ghost.headers["Retry-After"]) == (
        real.status_code,
        real.data,
        real.headers["Retry-After"],
    )
    unlock(app, nobody)
    assert "Retry-After" not in login(nobody, PASSWORD).headers


def test_successful_login_resets_the_failure_count(login, user):
    fail(login, user, 2)
    assert login(user, PASSWORD).status_code == 200
    fail(login, user, 2)
    assert login(user, PASSWORD).status_code == 200, "2 + 2 failures must not lock at 3"


@pytest.mark.parametrize("limits", [{"IP_MAX_FAILURES": 5}])
def test_per_ip_ceiling_across_usernames_gives_429_and_other_ips_are_unaffected(login, user, verifies, events):
    for _ in range(5):
        fail(login, unique("stuffed"), 1)
    before = len(verifies)
    resp = login(user, PASSWORD)  # the sixth username, with the right password
    assert resp.status_code == 429, resp.data
    assert resp.json["error"] == "temporarily_unavailable"
    assert 1 <= int(resp.headers["Retry-After"]) <= 300
    assert resp.headers["Cache-Control"] == "no-store"
    assert len(verifies) == before
    assert login(user, PASSWORD, ip=unique_ip()).status_code == 200
    assert_invalid_grant(login(unique("other"), ip=unique_ip()))
    throttled = [r for r in events if r.getMessage() == "login.throttled"]
    assert [(r.reason, r.ip, r.username) for r in throttled] == [("ip", login.ip, user)]


@pytest.mark.parametrize("limits", [{"GLOBAL_MAX_FAILURES": 4}])
def test_global_ceiling_gives_429_to_everyone(clock, login, user):
    clock.advance(60 * random.randrange(1, 10**6))  # a minute no other run's Redis counter shares
    for _ in range(4):
        fail(login, unique("spray"), 1, ip=unique_ip())
    resp = login(user, PASSWORD, ip=unique_ip())
    assert resp.status_code == 429, resp.data
    assert resp.json["error"] == "temporarily_unavailable"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    clock.advance(60)
    assert login(user, PASSWORD, ip=unique_ip()).status_code == 200


def store_failures() -> int:
    return telemetry.counters().get("authserver_throttle_store_failed_total", 0)


def assert_usernames_still_lock(clock, login, user, events) -> None:
    """The store fails: the IP and global ceilings fail open, but the username is counted and locked in
    this process, with the same limits (3 failures, 60 s), and other usernames are unaffected."""
    before = store_failures()
    wrong_body = fail(login, user, 3)
    locked = login(user, PASSWORD)
    assert_invalid_grant(locked)
    assert locked.data == wrong_body
    assert locked.headers["Retry-After"] == "60"
    assert store_failures() > before
    assert any(r.getMessage() == "throttle.store_failed" for r in events)
    other = unique("bob")
    fail(login, other, 1)
    assert "Retry-After" not in login(other).headers, "another username is not locked"
    # Past the lock and the window: where only the store's lock write failed, its count (at the limit,
    # without a lock) refuses the username until the window lapses.
    clock.advance(900)
    ok = login(user, PASSWORD)
    assert ok.status_code == 200, ok.data


@pytest.mark.parametrize("store", ["redis-down"])
def test_unreachable_redis_still_locks_usernames_per_process(clock, login, user, events):
    assert_usernames_still_lock(clock, login, user, events)


@pytest.mark.parametrize("store", ["database"])
def test_failing_database_store_writes_still_lock_usernames_per_process(monkeypatch, clock, login, user, events):
    def broken(self, statement):
        raise StoreError("OperationalError")

    monkeypatch.setattr(DatabaseStore, "_run", broken)
    assert_usernames_still_lock(clock, login, user, events)


@pytest.mark.parametrize("store", ["database"])
def test_database_store_without_its_table_still_locks_usernames_per_process(app, clock, login, user, events):
    """A real failure at the database (every statement of the store errors, the precompiled reservation
    included), not a patched method: logins still work, usernames still lock, the failure is counted."""
    from sqlalchemy import text

    from authserver.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE throttle_entries RENAME TO throttle_entries_away"))
        try:
            assert_usernames_still_lock(clock, login, user, events)
        finally:
            with db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE throttle_entries_away RENAME TO throttle_entries"))


def test_a_failing_ip_counter_does_not_stop_the_username_from_locking(app, monkeypatch, login, user):
    """Each counter is written on its own: an error on the IP counter (which fails open) never skips the
    username's count."""
    store = app.extensions["authserver.throttle"].store
    original = type(store).incr

    def ip_counter_broken(self, key, now, ttl):
        if key.startswith("ip:"):
            raise StoreError("value too long")
        return original(self, key, now, ttl)

    monkeypatch.setattr(type(store), "incr", ip_counter_broken)
    wrong_body = fail(login, user, 3)
    locked = login(user, PASSWORD)
    assert_invalid_grant(locked)
    assert locked.data == wrong_body


@pytest.mark.parametrize("limits", [{"BRUTE_FORCE_MAX_FAILURES": 5, "TRUSTED_PROXY_HOPS": 1}])
def test_a_300_character_forwarded_address_does_not_stop_the_lockout(login, user, events):
    """Issue 12: on PostgreSQL an X-Forwarded-For of 300 characters overflowed the key column on every
    attempt, so 8 wrong passwords never locked the account. Every key is bounded now."""
    forwarded = {**login.reg.basic, "X-Forwarded-For": "1" * 300}

    def via_proxy(password=WRONG):
        return login.client.post(
            "/oauth/token",
            headers=forwarded,
            data={"grant_type": "password", "username": user, "password": password},
            environ_overrides={"REMOTE_ADDR": login.ip},
        )

    for _ in range(8):
        assert_invalid_grant(via_proxy())
    after = via_proxy(PASSWORD)
    assert_invalid_grant(after)
    assert "Retry-After" in after.headers
    assert not any(r.getMessage() == "throttle.store_failed" for r in events)


def test_audit_events_carry_username_ip_and_client_never_the_password(login, user, events):
    fail(login, user, 3)
    login(user, PASSWORD)
    names = [r.getMessage() for r in events if r.getMessage().startswith(("login.", "user."))]
    assert names == ["login.failed"] * 3 + ["user.locked", "login.throttled"]
    formatter = telemetry.JsonFormatter()
    for record in events:
        if record.getMessage() in ("login.failed", "user.locked", "login.throttled"):
            assert (record.username, record.ip, record.client_id) == (user, login.ip, login.reg.client_id)
        text = formatter.format(record) + repr(vars(record))
        assert PASSWORD not in text and WRONG not in text
    locked = next(r for r in events if r.getMessage() == "user.locked")
    assert locked.wait_seconds == 60


@pytest.mark.parametrize("store", ["redis", "database", "redis-down"])
def test_retries_of_a_login_that_failed_with_a_server_error_never_lock_the_user(app, monkeypatch, login, user):
    """Issue 18 (bench/faults, PostgreSQL restart): the database goes away during the user lookup, the login
    answers 500 and the client retries it. Each attempt had reserved a place in the username's count (in the
    store, or in the per-process fallback when the store is the database that is down) and never gave it
    back, so the retries locked the user out with the correct password once the database was back."""
    from authserver.store import users as user_stores

    def database_gone(self, *args):
        raise RuntimeError("the database went away")

    for cls in (user_stores.SqlUserStore, user_stores.PostgresqlUserStore):
        monkeypatch.setattr(cls, "login", database_gone)
    if store == "database":  # the throttle store is that same database: it fails too
        throttle_store = type(app.extensions["authserver.throttle"].store)

        def store_gone(self, *args):
            raise StoreError("OperationalError")

        for name in ("reserve", "reset_failures", "incr"):
            monkeypatch.setattr(throttle_store, name, store_gone)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    for _ in range(LIMITS["BRUTE_FORCE_MAX_FAILURES"] + 3):
        assert login(user, PASSWORD).status_code == 500
    monkeypatch.undo()  # the database is back
    ok = login(user, PASSWORD)
    assert ok.status_code == 200, ok.data
