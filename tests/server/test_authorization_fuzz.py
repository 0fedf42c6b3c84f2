"""Property-based fuzzing of the authorization endpoint (Hypothesis): near-valid authorization requests and
form posts with parameters mutated, dropped, repeated or added, as GET queries and POST bodies, with and
without the browser's cookies. Whatever arrives: no 5xx; a page is HTML with the pages' headers; a redirect
goes only to a registered redirect URI, with ``iss``; an error that is not redirected is never a redirect.

``AUTHSERVER_FUZZ_EXAMPLES`` sets the examples per backend (default 300).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from authorization_flow import CALLBACK
from authorization_flow import ISSUER
from authorization_flow import Flow
from authorization_flow import hidden_fields
from authorization_flow import pkce
from authorization_flow import register
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import note
from hypothesis import settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("AUTHSERVER_FUZZ_EXAMPLES", "300"))
REGISTERED = (CALLBACK, "http://127.0.0.1/cb")
NAMES = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "action",
    "csrf_token",
    "username",
    "password",
    "decision",
    "login_fresh",
]
ODD = ["\x00", "\x01", "\x7f", "\u2028", "\ufffd", "\U0010ffff", "%", "&", "#", " ", "\r\n", "é" * 3000]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def world(app, client, make_user):
    make_user()
    third = register(app, redirect_uris=REGISTERED)
    register(app, "first", redirect_uris=REGISTERED, first_party=True)
    flow = Flow.start(client, third)
    form = hidden_fields(flow.authorize().get_data(as_text=True))  # the browser now has its CSRF cookie
    return third, form


def values() -> st.SearchStrategy[str]:
    known = st.sampled_from(
        [
            "code",
            "token",
            "third",
            "first",
            "nobody",
            *REGISTERED,
            "http://127.0.0.1:9/cb",
            "openid profile",
            "admin",
            "S256",
            "plain",
            pkce()[1],
            "none",
            "login",
            "consent",
            "none login",
            "0",
            "-1",
            "query",
            "login",
            "consent",
            "allow",
            "deny",
            "alice",
            "correct horse battery",
            "",
        ]
    )
    spliced = st.builds(
        lambda v, c, i: v[: i % (len(v) + 1)] + c + v[i % (len(v) + 1) :],
        known,
        st.sampled_from(ODD),
        st.integers(0, 99),
    )
    return st.one_of(known, known, spliced, st.text(max_size=40))


@st.composite
def requests(draw, base: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    params = [(k, v) for k, v in base.items() if draw(st.integers(0, 9)) > 0]  # drop some
    for _ in range(draw(st.integers(0, 4))):  # change, repeat or add some
        params.append((draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=12))), draw(values())))
    if draw(st.booleans()):
        params = list(dict(params).items())  # the last of each name
    return draw(st.sampled_from(["GET", "POST"])), params


def test_no_request_makes_the_authorization_endpoint_fail_or_redirect_where_it_must_not(app, client, world):
    _third, form = world
    base = {**form, "username": "alice", "password": "correct horse battery", "decision": "allow"}

    @FUZZ
    @given(request=requests(base), cookies=st.booleans())
    def check(request, cookies):
        method, params = request
        note(f"{method} {params!r}")
        browser = client if cookies else app.test_client()
        if method == "GET":
            resp = browser.get("/oauth/authorize?" + urlencode(params))
        else:
            resp = browser.post(
                "/oauth/authorize", data=urlencode(params), content_type="application/x-www-form-urlencoded"
            )
        assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
        assert resp.headers.get("Cache-Control") == "no-store"
        if resp.status_code in (302, 303):
            location = resp.headers["Location"]
            target = location.split("?", 1)[0]
            assert target in REGISTERED or target.startswith("http://127.0.0.1:"), location
            assert parse_qs(urlsplit(location).query)["iss"] == [ISSUER]
        elif resp.mimetype == "text/html":
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        else:
            assert resp.status_code in (405, 413), (resp.status_code, resp.mimetype)

    check()
