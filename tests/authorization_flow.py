"""The authorization code flow driven over HTTP with the Flask test client, for the tests: a registered app,
PKCE pairs, the authorization request, the login and consent forms (read back from the HTML), redemption."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Flask

from authserver.digests import secret_digest
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import Registration

PASSWORD = "correct horse battery"
ISSUER = "https://auth.test"
CALLBACK = "https://app.test/callback"
SESSION_COOKIE = "__Host-authserver_session"  # the tests' issuer is https


@dataclass
class App:
    """A registered client of the code flow."""

    client_id: str
    secret: str | None
    redirect_uris: tuple[str, ...]

    @property
    def basic(self) -> dict[str, str]:
        if self.secret is None:
            return {}
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def auth_form(self) -> dict[str, str]:
        return {} if self.secret is not None else {"client_id": self.client_id}


def register(
    app: Flask,
    client_id: str = "third",
    *,
    redirect_uris: tuple[str, ...] = (CALLBACK,),
    grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
    scopes: str = "openid profile email read",
    first_party: bool = False,
    public: bool = False,
    name: str | None = None,
) -> App:
    secret = None if public else secrets.token_urlsafe(32)
    with app.app_context():
        digest = None if secret is None else secret_digest(current_settings().secret_pepper, secret)
        registration = Registration(
            client_id=client_id,
            name=name or f"The {client_id} app",
            public=public,
            grant_types=grants,
            scopes=tuple(scopes.split()),
            audience=None,
            first_party=first_party,
            access_token_ttl=None,
            refresh_token_ttl=None,
            refresh_token_max_lifetime=None,
            can_introspect=False,
            redirect_uris=redirect_uris,
        )
        current_stores().clients.create(registration, digest)
    return App(client_id, secret, redirect_uris)


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    return {html.unescape(n): html.unescape(v) for n, v in _HIDDEN.findall(page)}


def redirect_params(resp: Any) -> dict[str, str]:
    """The query of a redirect's Location, one value per parameter (asserted)."""
    assert resp.status_code in (302, 303), (resp.status_code, resp.get_data(as_text=True)[:300])
    query = parse_qs(urlsplit(resp.headers["Location"]).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in query.values()), query
    return {k: v[0] for k, v in query.items()}


@dataclass
class Flow:
    """One authorization request of ``app``, with its PKCE pair and state."""

    client: Any  # the Flask test client, which keeps the cookies (the browser)
    app: App
    params: dict[str, str] = field(default_factory=dict)
    verifier: str = ""

    @classmethod
    def start(cls, client: Any, app: App, **params: str | None) -> Flow:
        verifier, challenge = pkce()
        base: dict[str, str | None] = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uris[0],
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": secrets.token_urlsafe(8),
        }
        base.update(params)
        return cls(client, app, {k: v for k, v in base.items() if v is not None}, verifier)

    def authorize(self, method: str = "GET") -> Any:
        if method == "POST":
            return self.client.post("/oauth/authorize", data=self.params)
        return self.client.get("/oauth/authorize?" + urlencode(self.params))

    def sign_in(self, page: Any, username: str = "alice", password: str = PASSWORD, **extra: str) -> Any:
        """Submit the login form ``page`` shows."""
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        form = hidden_fields(page.get_data(as_text=True))
        assert form["action"] == "login"
        return self.client.post("/oauth/authorize", data={**form, "username": username, "password": password, **extra})

    def decide(self, page: Any, decision: str = "allow") -> Any:
        """Press Allow or Deny on the consent page ``page``."""
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        form = hidden_fields(page.get_data(as_text=True))
        assert form["action"] == "consent"
        return self.client.post("/oauth/authorize", data={**form, "decision": decision})

    def code(self, username: str = "alice", password: str = PASSWORD) -> str:
        """Sign in (if asked), allow (if asked) and return the code; state and iss checked."""
        resp = self.authorize()
        if resp.status_code == 200 and 'value="login"' in resp.get_data(as_text=True):
            resp = self.sign_in(resp, username, password)
        if resp.status_code == 200 and 'value="consent"' in resp.get_data(as_text=True):
            resp = self.decide(resp)
        params = redirect_params(resp)
        assert params.get("state") == self.params.get("state") and params["iss"] == ISSUER, params
        return params["code"]

    def redeem(self, code: str | None, **overrides: str | None) -> Any:
        data: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.params.get("redirect_uri"),
            "code_verifier": self.verifier,
            **self.app.auth_form(),
        }
        data.update(overrides)
        body = {k: v for k, v in data.items() if v is not None}
        return self.client.post("/oauth/token", data=body, headers=self.app.basic)
