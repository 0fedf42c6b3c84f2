"""ASGI middleware (HTTP scope): like :mod:`authserver.verifier.wsgi`, claims in ``scope["state"]``.

Warm, verification is pure CPU and runs inline; when the keys must be fetched it runs in a worker
thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from authserver.verifier.bearer import bearer_token
from authserver.verifier.bearer import error_response
from authserver.verifier.errors import TokenError
from authserver.verifier.verify import Verifier

STATE_KEY = "token_claims"
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class BearerMiddleware:
    """Wrap an ASGI ``app``; HTTP requests outside ``exempt`` need a valid token with ``required_scopes``."""

    def __init__(self, app: ASGIApp, verifier: Verifier, *, required_scopes: Iterable[str] = (),
                 exempt: Iterable[str] = ("/healthz",)) -> None:
        self.app = app
        self.verifier = verifier
        self.required_scopes = tuple(required_scopes)
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            token = bearer_token(authorization)
            if self.verifier.keys.is_fresh(self.verifier.clock()):
                claims = self.verifier.verify(token, self.required_scopes)
            else:
                claims = await asyncio.to_thread(self.verifier.verify, token, self.required_scopes)
        except TokenError as exc:
            status, response_headers, body = error_response(exc, self.verifier.realm)
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})[STATE_KEY] = claims
        await self.app(scope, receive, send)
