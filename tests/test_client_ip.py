"""Which client IP the per-IP throttle counts: the socket address, unless ``TRUSTED_PROXY_HOPS``
says how many proxies' ``X-Forwarded-For`` entries to trust (then the entry that many from the end).

Both throttle stores (Redis db 15 and the database), SQLite and PostgreSQL. IPs and usernames are
unique per test, so a shared Redis server never mixes runs.
"""

from __future__ import annotations

import random
import uuid

import pytest

PASSWORD = "correct horse battery"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["redis", "database"])
def store(request):
    return request.param


@pytest.fixture
def hops():
    """Parametrise a test on ``hops`` to trust that many proxies."""
    return 0


@pytest.fixture
def config_overrides(store, hops):
    overrides = {"IP_MAX_FAILURES": 5, "BRUTE_FORCE_MAX_FAILURES": 100, "GLOBAL_MAX_FAILURES": 100000,
                 "TRUSTED_PROXY_HOPS": hops}
    return {**overrides, "REDIS_URL": REDIS_URL} if store == "redis" else overrides


def ip() -> str:
    return "10.{}.{}.{}".format(*(random.randrange(1, 255) for _ in range(3)))


def name() -> str:
    return "u-" + uuid.uuid4().hex[:12]


@pytest.fixture
def attempt(client, make_client, make_user):
    reg = make_client("app-" + uuid.uuid4().hex[:8])
    user = name()
    make_user(user, PASSWORD)

    def post(remote_addr: str, xff: str | None = None, password: str = "wrong", username: str | None = None):
        headers = dict(reg.basic)
        if xff is not None:
            headers["X-Forwarded-For"] = xff
        data = {"grant_type": "password", "username": username or name(), "password": password}
        if password == PASSWORD:
            data["username"] = user
        return client.post("/oauth/token", data=data, headers=headers, environ_overrides={"REMOTE_ADDR": remote_addr})

    return post


@pytest.fixture
def event_ips(events):
    """The ``ip`` of every ``login.failed`` event, read when called."""
    return lambda: [r.ip for r in events if r.getMessage() == "login.failed"]


def assert_throttled(resp) -> None:
    assert resp.status_code == 429, resp.data
    assert resp.json["error"] == "temporarily_unavailable"
    assert int(resp.headers["Retry-After"]) >= 1


def test_without_trusted_proxies_a_forged_x_forwarded_for_is_ignored(attempt, event_ips):
    socket_ip = ip()
    for i in range(5):
        resp = attempt(socket_ip, xff=f"198.51.100.{i + 1}")
        assert resp.status_code == 400, resp.data
    assert event_ips() == [socket_ip] * 5
    assert_throttled(attempt(socket_ip, xff="198.51.100.77", password=PASSWORD))
    assert_throttled(attempt(socket_ip, password=PASSWORD))
    assert attempt(ip(), xff=socket_ip, password=PASSWORD).status_code == 200


@pytest.mark.parametrize("hops", [1])
def test_with_one_trusted_proxy_the_last_x_forwarded_for_entry_is_the_client(attempt, event_ips):
    proxy, client_ip = ip(), ip()
    for i in range(5):  # the attacker forges the entries before the proxy's; only the last one counts
        resp = attempt(proxy, xff=f"203.0.113.{i + 1}, {client_ip}")
        assert resp.status_code == 400, resp.data
    assert event_ips() == [client_ip] * 5
    assert_throttled(attempt(proxy, xff=client_ip, password=PASSWORD))
    assert_throttled(attempt(ip(), xff=f"192.0.2.9, {client_ip}", password=PASSWORD))
    # Another client behind the same proxy, and the proxy's own address, are not the throttled IP.
    assert attempt(proxy, xff=f"{client_ip}, {ip()}", password=PASSWORD).status_code == 200
    assert attempt(proxy, password=PASSWORD).status_code == 200
    assert event_ips() == [client_ip] * 5


@pytest.mark.parametrize("hops", [2])
def test_with_two_trusted_proxies_the_second_last_entry_is_the_client(attempt, event_ips):
    client_ip = ip()
    for _ in range(5):
        assert attempt(ip(), xff=f"{ip()}, {client_ip}, {ip()}").status_code == 400
    assert event_ips() == [client_ip] * 5
    assert_throttled(attempt(ip(), xff=f"{client_ip}, {ip()}", password=PASSWORD))
