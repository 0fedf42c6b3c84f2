"""Calls of the admin API for the tests: an admin client bootstrapped, its tokens from the public token
endpoint, and JSON requests to the admin app with them."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from authserver.admin import clients
from authserver.admin.access import ADMIN_SCOPES

ALL = " ".join(ADMIN_SCOPES)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


class Admin:
    """An admin client (all admin scopes unless told) and the requests it makes to the admin app."""

    def __init__(self, app: Flask, public: FlaskClient, admin: FlaskClient, scopes: tuple[str, ...] = ADMIN_SCOPES):
        self.public, self.admin = public, admin
        with app.app_context():
            registered, secret = clients.create_client(
                name="ops", grant_types=["client_credentials"], scopes=list(scopes), admin=True
            )
        assert secret is not None
        self.client_id, self.secret = registered.client_id, secret
        self._token: str | None = None

    def token(self, scope: str | None = None) -> str:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        reply = self.public.post("/oauth/token", data=data, headers=basic(self.client_id, self.secret))
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()["access_token"]

    @property
    def bearer(self) -> dict[str, str]:
        if self._token is None:
            self._token = self.token()
        return {"Authorization": f"Bearer {self._token}"}

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None, headers: dict | None = None):
        auth = {"Authorization": f"Bearer {token}"} if token is not None else self.bearer
        all_headers = {**auth, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        return self.admin.open(path, method=method, data=data, headers=all_headers)

    def get(self, path: str, **kw: Any):
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any):
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any, *, etag: str | None = None, **kw: Any):
        return self.call("PATCH", path, body, headers={"If-Match": etag} if etag else None, **kw)

    def delete(self, path: str, *, etag: str | None = None, **kw: Any):
        return self.call("DELETE", path, headers={"If-Match": etag} if etag else None, **kw)
