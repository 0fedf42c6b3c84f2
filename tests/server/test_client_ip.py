"""Which client IP the per-IP throttle counts: the socket address, unless ``TRUSTED_PROXY_HOPS``
says how many proxies' ``X-Forwarded-For`` entries to trust (then the entry that many from the end).

Behind trusted proxies the forwarded entry must be an IP address, else the socket address counts.
In production with no trusted proxy, X-Forwarded-For (a proxy nobody configured) is warned about
once and counted.

Both throttle stores (Redis db 15 and the database), SQLite and PostgreSQL. IPs and usernames are
unique per test, so a shared Redis server never mixes runs.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid

import pytest
from conftest import ISSUER
from conftest import PEPPER
from conftest import management_app

from authserver import create_app
from authserver.keys.keystore import ensure_development_key
from authserver.telemetry import JsonFormatter

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
    overrides = {
        "IP_MAX_FAILURES": 5,
        "BRUTE_FORCE_MAX_FAILURES": 100,
        "GLOBAL_MAX_FAILURES": 100000,
        "TRUSTED_PROXY_HOPS": hops,
    }
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


@pytest.fixture
def forwarding_warnings():
    """JSON lines of the warnings of ``authserver.forwarding`` (which does not propagate to caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("authserver.forwarding")
    logger.addHandler(handler)
    yield lambda: [JsonFormatter().format(r) for r in records]
    logger.removeHandler(handler)


def metric(client, name: str) -> int:
    """``name`` on the management listener's ``/metrics`` (the app of ``client``'s settings)."""
    text = management_app(client.application).test_client().get("/metrics").get_data(as_text=True)
    lines = dict(line.split(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return int(float(lines.get(name, 0)))


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


NOT_AN_IP = ["x" * 300, "fe80::1%" + "x" * 300, "client.example.com", "10.0.0.300", "unknown", "10.0.0.1:http"]


@pytest.mark.parametrize("hops", [1])
@pytest.mark.parametrize(
    "entry", NOT_AN_IP, ids=["junk300", "zone-id300", "hostname", "octet300", "unknown", "bad-port"]
)
def test_with_a_trusted_proxy_an_entry_that_is_not_an_ip_counts_as_the_socket_address(
    client, attempt, event_ips, forwarding_warnings, entry
):
    socket_ip = ip()
    before = metric(client, "authserver_proxy_invalid_forwarded_for_total")
    for _ in range(5):
        resp = attempt(socket_ip, xff=f"{ip()}, {entry}")
        assert resp.status_code == 400, resp.data
    assert event_ips() == [socket_ip] * 5
    assert_throttled(attempt(socket_ip, xff=f"{ip()}, {entry}", password=PASSWORD))  # the socket address is throttled
    assert attempt(ip(), xff=f"{ip()}, {ip()}", password=PASSWORD).status_code == 200
    assert metric(client, "authserver_proxy_invalid_forwarded_for_total") - before == 6
    warnings = forwarding_warnings()
    assert len(warnings) == 1, warnings  # once per process (app), however often it happens
    line = json.loads(warnings[0])
    assert line["event"] == "proxy.invalid_forwarded_for"
    assert line["socket_ip"] == socket_ip and line["entry_length"] == len(entry)
    assert entry not in warnings[0] and "x" * 16 not in warnings[0]  # the value itself is never logged


@pytest.mark.parametrize("hops", [1])
@pytest.mark.parametrize("form", ["{ipv4}:51234", "[{ipv6_upper}]:443", "{ipv6_long}"])
def test_with_a_trusted_proxy_an_ip_with_a_port_or_in_long_form_counts_as_the_plain_ip(
    attempt, event_ips, forwarding_warnings, form
):
    ipv4, group = ip(), f"{random.randrange(1, 0xFFFF):x}"
    entry = form.format(ipv4=ipv4, ipv6_upper=f"2001:DB8::A:{group.upper()}", ipv6_long=f"2001:0db8:0:0::b:{group}")
    address = ipv4 if "ipv4" in form else f"2001:db8::{'a' if 'upper' in form else 'b'}:{group}"
    for _ in range(5):
        assert attempt(ip(), xff=entry).status_code == 400
    assert event_ips() == [address] * 5
    assert_throttled(attempt(ip(), xff=address, password=PASSWORD))
    assert forwarding_warnings() == []


# ---------------------------------------------------------------- X-Forwarded-For with no trusted proxy


PASSPHRASE = "client-ip test keys passphrase"


@pytest.fixture
def production(database, tmp_path, store, hops):
    """A production app (encrypted keys) on the test database, with ``hops`` trusted proxies."""
    keys = tmp_path / "keys"
    ensure_development_key(keys, int(time.time()), PASSPHRASE)
    overrides = {
        "ENV": "production",
        "ISSUER": ISSUER,
        "DATABASE_URL": database.url,
        "KEYS_DIR": str(keys),
        "SECRET_PEPPER": PEPPER,
        "KEYS_PASSPHRASE": PASSPHRASE,
        "TRUSTED_PROXY_HOPS": hops,
        **({"REDIS_URL": REDIS_URL} if store == "redis" else {}),
    }
    app = create_app(overrides)
    yield app
    from authserver.extensions import db

    with app.app_context():
        db.engine.dispose()


UNTRUSTED = "authserver_proxy_untrusted_forwarded_for_total"


def test_in_production_x_forwarded_for_without_a_trusted_proxy_is_warned_once_and_counted(
    production, forwarding_warnings
):
    client = production.test_client()
    before = metric(client, UNTRUSTED)
    assert client.get("/healthz", environ_overrides={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200
    assert forwarding_warnings() == [] and metric(client, UNTRUSTED) == before
    for i in range(3):
        resp = client.get(
            "/healthz", headers={"X-Forwarded-For": f"198.51.100.{i}"}, environ_overrides={"REMOTE_ADDR": "10.9.9.9"}
        )
        assert resp.status_code == 200
    assert metric(client, UNTRUSTED) - before == 3
    warnings = forwarding_warnings()
    assert len(warnings) == 1, warnings
    line = json.loads(warnings[0])
    assert line["level"] == "warning" and line["event"] == "proxy.untrusted_forwarded_for"
    assert "AUTHSERVER_TRUSTED_PROXY_HOPS" in line["msg"] and line["socket_ip"] == "10.9.9.9"


@pytest.mark.parametrize("hops", [1])
def test_in_production_behind_the_trusted_proxy_x_forwarded_for_is_not_warned_about(production, forwarding_warnings):
    client = production.test_client()
    before = metric(client, UNTRUSTED)
    assert client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert forwarding_warnings() == [] and metric(client, UNTRUSTED) == before


def test_in_development_x_forwarded_for_without_a_trusted_proxy_is_not_warned_about(client, forwarding_warnings):
    before = metric(client, UNTRUSTED)
    assert client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert forwarding_warnings() == [] and metric(client, UNTRUSTED) == before
