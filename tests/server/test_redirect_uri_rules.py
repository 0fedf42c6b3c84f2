"""Which redirect URIs a client may register, and which registered one a request's ``redirect_uri`` is."""

from __future__ import annotations

import pytest

from authserver.oauth.redirect_uris import registration_problem
from authserver.oauth.redirect_uris import resolve


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/callback",
        "https://app.example:8443/cb?tenant=1",
        "http://127.0.0.1:8003/callback",
        "http://127.0.0.1/callback",
        "http://[::1]:9000/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_https_loopback_and_private_use_redirect_uris_can_be_registered(uri: str) -> None:
    assert registration_problem(uri) is None


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://app.example/cb#section", "fragment"),
        ("http://app.example/cb", "loopback"),
        ("http://localhost:8003/cb", "localhost"),
        ("myapp:/cb", "private-use"),
        ("/callback", "absolute"),
        ("HTTPS://app.example/cb", "absolute"),
        ("https://user:pw@app.example/cb", "user information"),
        ("https://app.example/c b", "whitespace"),
        ("https:///cb", "host"),
        ("https://app.example:99999/cb", "valid"),
        ("", "characters"),
    ],
)
def test_other_redirect_uris_are_refused_with_the_reason(uri: str, reason: str) -> None:
    problem = registration_problem(uri)
    assert problem is not None and reason in problem


def test_a_presented_redirect_uri_must_equal_a_registered_one_exactly() -> None:
    registered = ["https://app.example/callback"]
    assert resolve(registered, "https://app.example/callback") == "https://app.example/callback"
    for near in (
        "https://app.example/callback/",
        "https://app.example/callback?x=1",
        "https://app.example/Callback",
        "https://app.example/callbackx",
        "https://app.example:443/callback",
        "https://evil.example/callback",
        "http://app.example/callback",
    ):
        assert resolve(registered, near) is None, near


def test_a_loopback_redirect_uri_may_vary_only_its_port() -> None:
    registered = ["http://127.0.0.1/callback"]
    assert resolve(registered, "http://127.0.0.1:51234/callback") == "http://127.0.0.1:51234/callback"
    assert resolve(registered, "http://127.0.0.1:51234/other") is None
    assert resolve(registered, "http://[::1]:51234/callback") is None
    assert resolve(["https://app.example/cb"], "https://app.example:8443/cb") is None


def test_an_omitted_redirect_uri_resolves_only_when_exactly_one_is_registered() -> None:
    assert resolve(["https://app.example/cb"], None) == "https://app.example/cb"
    assert resolve(["https://app.example/cb", "https://app.example/cb2"], None) is None
    assert resolve([], None) is None
