"""Hostile tokens and Authorization headers against the verifier and its three adapters.

Whatever an unauthenticated caller sends, the verifier raises :class:`TokenError` (never anything
else), and the Flask, WSGI and ASGI adapters answer it: a malformed token is ``401`` with
``WWW-Authenticate: Bearer error="invalid_token"``, never a 5xx. First the attacks that used to
escape as ``TypeError`` / ``RecursionError`` (one test each, through every adapter), then
Hypothesis: arbitrary JSON headers and payloads (nested, wrong types, huge numbers, unicode),
signed with a published key or not, and arbitrary Authorization headers.

``AUTHSERVER_FUZZ_EXAMPLES`` sets the examples per property (default 300).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask import g
from flask import jsonify
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import note
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.test import Client

from authserver_verifier import InvalidTokenError
from authserver_verifier import TokenError
from authserver_verifier import Verifier
from authserver_verifier import require_token
from authserver_verifier.asgi import BearerMiddleware as AsgiMiddleware
from authserver_verifier.testing import LocalIssuer
from authserver_verifier.testing import b64url
from authserver_verifier.wsgi import BearerMiddleware as WsgiMiddleware

AUD = "https://api.test"
EXAMPLES = int(os.environ.get("AUTHSERVER_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
INVALID_TOKEN = 'Bearer realm="api", error="invalid_token", error_description="the access token is invalid or expired"'


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUD) as server:
        yield server


@pytest.fixture(scope="module")
def verifier(issuer: LocalIssuer) -> Verifier:
    verifier = Verifier(issuer.url, AUD, realm="api")
    verifier.warm()
    return verifier


# ---------------------------------------------------------------- the three adapters, over HTTP-shaped calls

Reply = tuple[int, dict[str, str], bytes]


def _flask(verifier: Verifier) -> Callable[[str | None], Reply]:
    app = Flask(__name__)

    @app.get("/")
    @require_token(verifier=verifier)
    def view() -> Any:
        return jsonify(sub=g.token_claims["sub"])

    client = app.test_client()

    def call(authorization: str | None) -> Reply:
        reply = client.get("/", headers={} if authorization is None else {"Authorization": authorization})
        return reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, reply.data

    return call


def _wsgi(verifier: Verifier) -> Callable[[str | None], Reply]:
    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"sub": environ["authserver.token_claims"]["sub"]}).encode()]

    client = Client(WsgiMiddleware(inner, verifier))

    def call(authorization: str | None) -> Reply:
        reply = client.get("/", headers={} if authorization is None else {"Authorization": authorization})
        return reply.status_code, {k.lower(): v for k, v in reply.headers.items()}, reply.data

    return call


def _asgi(verifier: Verifier) -> Callable[[str | None], Reply]:
    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(
            {"type": "http.response.body", "body": json.dumps({"sub": scope["state"]["token_claims"]["sub"]}).encode()}
        )

    app = AsgiMiddleware(inner, verifier)

    def call(authorization: str | None) -> Reply:
        sent: list[dict[str, Any]] = []
        headers = [] if authorization is None else [(b"authorization", authorization.encode("latin-1"))]

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app({"type": "http", "method": "GET", "path": "/", "headers": headers}, receive, send))
        start, body = sent
        return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body["body"]

    return call


ADAPTERS = {"flask": _flask, "wsgi": _wsgi, "asgi": _asgi}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest, verifier: Verifier) -> Callable[[str | None], Reply]:
    return ADAPTERS[request.param](verifier)


@pytest.fixture
def no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The adapters' defensive net must not be what answered: every refusal is a TokenError of the core."""
    with caplog.at_level(logging.ERROR, logger="authserver.verifier"):
        yield
    assert not [r for r in caplog.records if getattr(r, "event", None) == "verifier.unexpected_error"]


def assert_invalid_token(reply: Reply) -> None:
    status, headers, body = reply
    assert status == 401, (status, body)
    assert headers["www-authenticate"] == INVALID_TOKEN
    assert json.loads(body)["error"] == "invalid_token"
    assert headers["cache-control"] == "no-store"


def raw_token(header: bytes, payload: bytes = b"{}", signature: bytes = b"sig") -> str:
    return f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}"


def good_header(issuer: LocalIssuer, **extra: Any) -> dict[str, Any]:
    return {"alg": "RS256", "typ": "at+jwt", "kid": issuer.active_kid, **extra}


# ---------------------------------------------------------------- the reported attacks, through every adapter

UNHASHABLE = [
    {"alg": ["RS256"]},
    {"alg": {"x": 1}},
    {"typ": ["at+jwt"]},
    {"typ": {"x": 1}},
    {"kid": ["k"]},
    {"kid": {"x": 1}},
    {"alg": None},
    {"alg": 256},
    {"typ": True},
]


@pytest.mark.parametrize("member", UNHASHABLE, ids=lambda m: json.dumps(m))
def test_header_member_of_the_wrong_type_is_invalid_token(issuer, adapter, member, no_unexpected_errors):
    assert_invalid_token(adapter(f"Bearer {issuer.sign(good_header(issuer, **member), issuer.claims())}"))


@pytest.mark.parametrize("where", ["header", "payload"])
def test_deeply_nested_json_is_invalid_token(issuer, adapter, where, no_unexpected_errors):
    nested = b"[" * 1200 + b"]" * 1200
    # the payload is signed, so that it gets past the signature check to the payload parse
    token = raw_token(nested) if where == "header" else issuer.sign(good_header(issuer), b'{"x": ' + nested + b"}")
    assert_invalid_token(adapter(f"Bearer {token}"))


def test_deeply_nested_header_member_is_invalid_token(issuer, adapter, no_unexpected_errors):
    header = json.dumps(good_header(issuer)).encode()[:-1] + b', "x": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"
    assert_invalid_token(adapter(f"Bearer {raw_token(header)}"))


# ---------------------------------------------------------------- strict parsing in the core


def rejected(verifier: Verifier, token: str, reason: str) -> None:
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(token)
    assert reason in info.value.detail, f"refused for {info.value.detail!r}, expected {reason!r}"


@pytest.mark.parametrize("member", UNHASHABLE[:6], ids=lambda m: json.dumps(m))
def test_header_members_must_be_strings(issuer, verifier, member):
    name = next(iter(member))
    rejected(verifier, issuer.sign(good_header(issuer, **member), issuer.claims()), f"{name} is not a string")


def test_nesting_is_refused_before_json_parses_it(issuer, verifier):
    rejected(verifier, raw_token(b"[" * 1200 + b"]" * 1200), "nested deeper than")
    deep = b"{" + b'"a":[' * 40 + b"]" * 40 + b"}"
    rejected(verifier, issuer.sign(good_header(issuer), deep), "nested deeper than")


def test_moderate_nesting_inside_strings_is_not_nesting(issuer, verifier):
    scope = "[" * 100 + "{" * 100
    assert verifier.verify(issuer.token(scope=scope))["scope"] == scope


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg": "none", "alg": "RS256", "typ": "at+jwt", "kid": "k"}',
        b'{"alg": "RS256", "typ": "at+jwt", "kid": "k", "kid": "k"}',
    ],
)
def test_duplicate_header_member_is_rejected(verifier, header):
    rejected(verifier, raw_token(header), "duplicate member")


def test_duplicate_claim_is_rejected(issuer, verifier):
    claims = json.dumps(issuer.claims()).encode()
    payload = claims[:-1] + b', "sub": "someone-else"}'
    rejected(verifier, issuer.sign(good_header(issuer), payload), "duplicate member")


def test_header_that_is_not_utf8_json_is_rejected(issuer, verifier):
    utf16 = json.dumps(good_header(issuer)).encode("utf-16")  # json.loads(bytes) would guess the encoding
    rejected(verifier, raw_token(utf16), "not base64url UTF-8 JSON")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_number_is_rejected_when_parsed(issuer, verifier, literal):
    claims = json.dumps(issuer.claims(exp=0)).encode().replace(b'"exp": 0', b'"exp": ' + literal)
    rejected(verifier, issuer.sign(good_header(issuer), claims), "payload is not base64url UTF-8 JSON")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [10**400, -1, 2.5e15], ids=["10**400", "-1", "2.5e15"])
def test_numeric_date_outside_any_calendar_is_rejected(issuer, verifier, claim, value):
    rejected(verifier, issuer.token(**{claim: value}), f"claim {claim}")


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("iss", ["x"]),
        ("aud", [AUD, {"x": 1}]),
        ("aud", [AUD, 7]),
        ("sid", ["family-1"]),
        ("sid", ""),
        ("scope", ["read"]),
    ],
)
def test_claim_of_the_wrong_type_is_rejected(issuer, verifier, claim, value):
    with pytest.raises(InvalidTokenError):
        verifier.verify(issuer.token(**{claim: value}))


# ---------------------------------------------------------------- Hypothesis: arbitrary JSON

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_HEADER_NAMES = ["alg", "typ", "kid", "crit", "jku", "jwk", "x5u", "x5c", "cty", "b64", "zip", "enc"]
_CLAIM_NAMES = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "sid"]


@st.composite
def headers(draw: st.DrawFn, issuer: LocalIssuer) -> Any:
    """Valid headers (so the payload is reached), near-valid ones with members replaced by anything, any JSON."""
    mode = draw(st.integers(0, 9))
    if mode == 0:
        return draw(_json)
    header = good_header(issuer)
    if mode <= 4:
        return header
    for name in draw(st.lists(st.sampled_from(_HEADER_NAMES), max_size=3)):
        header[name] = draw(_json | st.sampled_from(["RS256", "none", "HS256", "at+jwt", issuer.active_kid]))
    if draw(st.booleans()):
        header.pop(draw(st.sampled_from(["alg", "typ", "kid"])), None)
    return header


@st.composite
def payloads(draw: st.DrawFn, issuer: LocalIssuer) -> Any:
    mode = draw(st.integers(0, 9))
    if mode == 0:
        return draw(_json)
    claims = issuer.claims()
    if mode <= 2:
        return claims
    for name in draw(st.lists(st.sampled_from(_CLAIM_NAMES), max_size=3)):
        claims[name] = draw(_json)
    return claims


def _encode(value: Any, draw: st.DrawFn) -> bytes:
    """JSON as a standard library would write it, or hand-made nesting/garbage."""
    form = draw(st.integers(0, 19))
    if form == 0:
        depth = draw(st.integers(1, 3000))
        return b"[" * depth + b"]" * draw(st.sampled_from([depth, 0]))
    if form == 1:
        return draw(st.binary(max_size=64))
    return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def tokens(draw: st.DrawFn, issuer: LocalIssuer) -> str:
    header = _encode(draw(headers(issuer)), draw)
    payload = _encode(draw(payloads(issuer)), draw)
    if draw(st.booleans()):  # signed with the published key: only the parsing can refuse it
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        unsigned = f"{b64url(header)}.{b64url(payload)}"
        key = issuer.keys[issuer.active_kid][0].get_op_key("sign")
        return f"{unsigned}.{b64url(key.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256()))}"
    return f"{b64url(header)}.{b64url(payload)}.{b64url(draw(st.binary(max_size=300)))}"


def test_fuzzed_tokens_verify_or_raise_token_error(issuer, verifier):
    @FUZZ
    @given(st.data())
    def check(data: st.DataObject) -> None:
        token = data.draw(tokens(issuer))
        note(token)
        try:
            claims = verifier.verify(token)
        except TokenError as exc:
            event(exc.detail.split(":")[0][:40])  # --hypothesis-show-statistics: which checks were reached
            assert exc.status == 401 and exc.error == "invalid_token", exc.detail
        else:
            event("valid")
            assert type(claims) is dict and claims["iss"] == issuer.url

    check()


def test_fuzzed_tokens_through_every_adapter_are_answered_without_5xx(issuer, adapter, no_unexpected_errors):
    @FUZZ
    @given(st.data())
    def check(data: st.DataObject) -> None:
        token = data.draw(tokens(issuer))
        note(token)
        status, headers, body = adapter(f"Bearer {token}")
        if status != 200:
            assert_invalid_token((status, headers, body))

    check()


_LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
_authorization = st.one_of(
    st.text(_LATIN1, max_size=60),
    st.builds(
        lambda scheme, sep, value: scheme + sep + value,
        st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Bearer,", ""]),
        st.sampled_from([" ", "  ", "\t", ""]),
        st.text(_LATIN1, max_size=60) | st.from_regex(r"[A-Za-z0-9_.=+/-]{0,40}", fullmatch=True),
    ),
    st.just("Bearer " + "a" * 9000),
)


def test_fuzzed_authorization_headers_are_answered_with_a_challenge(adapter, no_unexpected_errors):
    @FUZZ
    @given(_authorization)
    def check(authorization: str) -> None:
        status, headers, body = adapter(authorization)
        assert status in (400, 401), (status, body)
        assert headers["www-authenticate"].startswith("Bearer")
        assert json.loads(body)["error"] in ("invalid_request", "invalid_token", "unauthorized")

    check()


# ---------------------------------------------------------------- the adapters' defensive net


def test_a_bug_in_verification_is_logged_without_the_token_and_refused_as_invalid_token(issuer, caplog):
    token = issuer.token()

    class Broken(Verifier):
        def verify(self, token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise KeyError(f"the token was {token}")

    broken = Broken(issuer.url, AUD, realm="api")
    broken.warm()
    for name, make in sorted(ADAPTERS.items()):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="authserver.verifier"):
            assert_invalid_token(make(broken)(f"Bearer {token}"))
        [record] = [r for r in caplog.records if getattr(r, "event", None) == "verifier.unexpected_error"]
        assert "KeyError" in record.getMessage() and "test_verifier_hostile_input.py" in record.getMessage(), name
        assert token not in caplog.text and token[-20:] not in caplog.text, name
        assert record.exc_info is None, name


def test_asgi_several_authorization_headers_are_invalid_request(issuer, verifier):
    sent: list[dict[str, Any]] = []
    inner_called: list[bool] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        inner_called.append(True)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", b"Bearer " + issuer.token().encode()), (b"authorization", b"Bearer other")]
    asyncio.run(AsgiMiddleware(inner, verifier)({"type": "http", "path": "/", "headers": headers}, None, send))
    assert sent[0]["status"] == 400 and not inner_called
    assert b'error="invalid_request"' in dict(sent[0]["headers"])[b"www-authenticate"]
