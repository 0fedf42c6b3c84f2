"""ASGI middleware (HTTP scope): like :mod:`authserver_verifier.wsgi`, claims in ``scope["state"]``.

Warm, verification is pure CPU and runs inline; when the keys must be fetched it runs in a worker
thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from authserver_verifier.bearer import bearer_token
from authserver_verifier.bearer import error_response
from authserver_verifier.bearer import unexpected_error
from authserver_verifier.errors import InvalidRequestError
from authserver_verifier.errors import TokenError
from authserver_verifier.verify import Verifier

STATE_KEY = "token_claims"
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class BearerMiddleware:
    """Wrap an ASGI ``app``; HTTP requests outside ``exempt`` need a valid token with ``required_scopes``.

    ``require_user=True``: and it must be a user's token, not a client_credentials one (403).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        required_scopes: Iterable[str] = (),
        exempt: Iterable[str] = ("/healthz",),
        require_user: bool = False,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.required_scopes = tuple(required_scopes)
        self.require_user = require_user
        self.exempt = frozenset(exempt)

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exempt:
            await self.app(scope, receive, send)
            return
        try:
            values = [v for k, v in scope.get("headers") or () if k.lower() == b"authorization"]
            if len(values) > 1:  # RFC 6750 §3.1: more than one credential
                raise InvalidRequestError("several Authorization headers")
            token = bearer_token(values[0].decode("latin-1") if values else None)
            verify = functools.partial(
                self.verifier.verify, token, self.required_scopes, require_user=self.require_user
            )
            if self.verifier.keys.is_fresh(self.verifier.clock()):
                claims = verify()
            else:
                claims = await asyncio.to_thread(verify)
        except TokenError as exc:
            await self._refuse(exc, send)
            return
        except Exception as exc:  # a bug, still refused: see bearer.unexpected_error
            await self._refuse(unexpected_error(exc), send)
            return
        scope.setdefault("state", {})[STATE_KEY] = claims
        await self.app(scope, receive, send)

    async def _refuse(self, exc: TokenError, send: Callable[[Any], Awaitable[None]]) -> None:
        status, response_headers, body = error_response(exc, self.verifier.realm)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
