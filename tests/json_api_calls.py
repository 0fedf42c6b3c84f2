"""Calls of the JSON API (POST /login, /auth/refresh, /auth/logout) in both modes, for the tests."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

PASSWORD = "correct horse battery"
ORIGIN = "https://app.test"
COOKIE = "__Host-refresh_token"  # the tests' issuer is https
BROWSER = {"Origin": ORIGIN, "X-CSRF": "1"}


class JsonApi:
    """The three routes, called the way a script (body mode) or the browser app (cookie mode) calls them."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, path: str, body: Any = None, *, raw: bytes | str | None = None, headers: dict | None = None, **kw):
        data = raw if raw is not None else json.dumps({} if body is None else body)
        headers = {"Content-Type": "application/json", **(headers or {})}
        return self.client.post(path, data=data, headers=headers, **kw)

    def login(self, username: str = "alice", password: str = PASSWORD, *, headers: dict | None = None, **extra):
        return self.post("/login", {"username": username, "password": password, **extra}, headers=headers)

    def refresh(self, token: str, *, headers: dict | None = None, **extra):
        return self.post("/auth/refresh", {"refreshToken": token, **extra}, headers=headers)

    def logout(self, token: str | None, *, headers: dict | None = None):
        return self.post("/auth/logout", {} if token is None else {"refreshToken": token}, headers=headers)

    def browser(self, path: str, cookie: str | None = None, body: Any = None, *, headers: dict | None = None):
        """A fetch() with credentials from the registered origin, carrying the refresh cookie if given."""
        sent = dict(BROWSER)
        if cookie is not None:
            sent["Cookie"] = f"{COOKIE}={cookie}"
        sent.update(headers or {})
        return self.post(path, body, headers=sent)


def set_cookie(resp) -> SimpleCookie:
    """The response's one Set-Cookie, parsed (attribute names lower case)."""
    values = resp.headers.getlist("Set-Cookie")
    assert len(values) == 1, values
    jar: SimpleCookie = SimpleCookie()
    jar.load(values[0])
    return jar


def cookie_value(resp) -> str:
    return set_cookie(resp)[COOKIE].value
