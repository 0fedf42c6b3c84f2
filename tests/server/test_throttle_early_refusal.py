"""Password attempts from an IP already over its failure ceiling are refused before Flask (issue 7):
the same 429, without client authentication or a store round trip; other grants pass untouched."""

from __future__ import annotations

import base64

import pytest

from authserver.store import current_stores
from authserver.throttle.early_refusal import RefuseDeniedAttempts

IP = "10.77.0.1"
ELSEWHERE = "10.77.0.2"
WRONG = "wrong-password-77"


@pytest.fixture
def hops():  # parametrise a test on it to put the server behind trusted proxies
    return 0


@pytest.fixture
def config_overrides(hops):
    return {"IP_MAX_FAILURES": 3, "BRUTE_FORCE_MAX_FAILURES": 100, "TRUSTED_PROXY_HOPS": hops}


@pytest.fixture
def reg(make_client, make_user):
    make_user("alice", "correct horse battery")
    return make_client(grants=("password", "refresh_token", "client_credentials"))


def post(client, data, headers, ip=IP, **kw):
    return client.post("/oauth/token", data=data, headers=headers, environ_overrides={"REMOTE_ADDR": ip}, **kw)


def guess(client, reg, username="alice", password=WRONG, ip=IP, headers=None):
    return post(
        client,
        {"grant_type": "password", "username": username, "password": password},
        reg.basic if headers is None else headers,
        ip,
    )


def reach_ceiling(client, reg) -> bytes:
    """Three failures, then the grant's own 429 (which fills the process's cache of denied IPs)."""
    for i in range(3):
        assert guess(client, reg, username=f"stuffed-{i}").status_code == 400
    first = guess(client, reg)
    assert first.status_code == 429, first.data
    return first.data


def test_the_early_answer_is_the_grants_429_even_before_client_authentication(client, reg, events):
    in_grant = reach_ceiling(client, reg)
    bad_secret = {"Authorization": "Basic " + base64.b64encode(f"{reg.client_id}:not-the-secret".encode()).decode()}
    early = guess(client, reg, headers=bad_secret)  # the grant would say 401 invalid_client; refused before that
    assert early.status_code == 429
    assert early.data == in_grant
    assert early.headers["Cache-Control"] == "no-store"
    assert 1 <= int(early.headers["Retry-After"]) <= 300
    refused = [r for r in events if r.getMessage() == "login.throttled"]
    assert [(r.reason, r.ip, r.username) for r in refused] == [("ip", IP, "alice"), ("ip", IP, "alice")]
    assert refused[-1].client_id is None  # not authenticated: no client is named


def test_the_early_refusal_skips_the_app(app, client, reg, monkeypatch):
    reach_ceiling(client, reg)
    reached: list[str] = []
    inner = app.wsgi_app
    while not isinstance(inner, RefuseDeniedAttempts):
        inner = getattr(inner, "wsgi_app", None) or inner.app  # the JWKS shortcut; ProxyFix when configured
    original = inner.wsgi_app

    def spy(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return original(environ, start_response)

    monkeypatch.setattr(inner, "wsgi_app", spy)
    assert guess(client, reg).status_code == 429
    assert reached == []
    assert guess(client, reg, ip=ELSEWHERE, password="correct horse battery").status_code == 200
    assert reached == ["/oauth/token"]


def test_other_grants_from_the_denied_ip_still_work_with_their_body_intact(app, client, reg):
    login = guess(client, reg, password="correct horse battery")
    assert login.status_code == 200
    reach_ceiling(client, reg)
    refreshed = post(client, {"grant_type": "refresh_token", "refresh_token": login.json["refresh_token"]}, reg.basic)
    assert refreshed.status_code == 200, refreshed.data
    service = post(client, {"grant_type": "client_credentials", "scope": "read"}, reg.basic)
    assert service.status_code == 200, service.data
    assert service.json["scope"] == "read"  # the form the middleware read was handed on whole
    with app.app_context():
        assert current_stores().clients.get(reg.client_id) is not None


def test_a_malformed_attempt_from_the_denied_ip_gets_the_apps_own_error(client, reg):
    reach_ceiling(client, reg)
    as_json = client.post(
        "/oauth/token",
        json={"grant_type": "password", "username": "alice", "password": WRONG},
        headers=reg.basic,
        environ_overrides={"REMOTE_ADDR": IP},
    )
    assert as_json.status_code == 400 and as_json.json["error"] == "invalid_request"


def test_another_ip_is_not_refused(client, reg):
    reach_ceiling(client, reg)
    assert guess(client, reg, ip=ELSEWHERE).status_code == 400
    assert guess(client, reg, ip=ELSEWHERE, password="correct horse battery").status_code == 200


@pytest.mark.parametrize("hops", [1])
def test_behind_a_proxy_the_refusal_is_per_forwarded_client_not_per_proxy(client, reg):
    """The refusal sits inside ProxyFix: one client behind the proxy over its ceiling, not the proxy."""

    def via_proxy(client_ip, password=WRONG, username="alice"):
        return post(
            client,
            {"grant_type": "password", "username": username, "password": password},
            {**reg.basic, "X-Forwarded-For": client_ip},
            ip="192.0.2.10",
        )

    for i in range(3):
        assert via_proxy("203.0.113.5", username=f"stuffed-{i}").status_code == 400
    assert via_proxy("203.0.113.5").status_code == 429
    assert via_proxy("203.0.113.5").status_code == 429  # refused early
    assert via_proxy("203.0.113.6", password="correct horse battery").status_code == 200
