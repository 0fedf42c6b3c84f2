"""Plain WSGI middleware (PEP 3333): refuse requests without a valid bearer token.

The claims go into ``environ["authserver.token_claims"]`` for the wrapped application.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from authserver_verifier.bearer import bearer_token
from authserver_verifier.bearer import error_response
from authserver_verifier.bearer import status_line
from authserver_verifier.bearer import unexpected_error
from authserver_verifier.errors import TokenError
from authserver_verifier.verify import Verifier

ENVIRON_KEY = "authserver.token_claims"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BearerMiddleware:
    """Wrap ``app``; every path except ``exempt`` needs a token with ``required_scopes``.

    ``require_user=True``: and it must be a user's token, not a client_credentials one (403).
    """

    def __init__(
        self,
        app: WSGIApp,
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

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.exempt:
            return self.app(environ, start_response)
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
            environ[ENVIRON_KEY] = self.verifier.verify(token, self.required_scopes, require_user=self.require_user)
        except TokenError as exc:
            return self._refuse(exc, start_response)
        except Exception as exc:  # a bug, still refused: see bearer.unexpected_error
            return self._refuse(unexpected_error(exc), start_response)
        return self.app(environ, start_response)

    def _refuse(self, exc: TokenError, start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, headers, body = error_response(exc, self.verifier.realm)
        start_response(status_line(status), headers)
        return [body]
