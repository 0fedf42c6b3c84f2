"""Flask adapter: ``@require_token(scope=...)``. Flask is imported only when this module is.

The claims of the verified token are in ``flask.g.token_claims`` for the view. The verifier comes
from the ``verifier=`` argument or from :func:`init_app`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import flask

from authserver_verifier.bearer import bearer_token
from authserver_verifier.bearer import error_response
from authserver_verifier.bearer import unexpected_error
from authserver_verifier.errors import TokenError
from authserver_verifier.verify import Verifier

EXTENSION = "authserver.verifier"
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: flask.Flask, verifier: Verifier) -> None:
    """Make ``verifier`` the default of every ``@require_token`` in ``app``."""
    app.extensions[EXTENSION] = verifier


def current_verifier() -> Verifier:
    try:
        verifier: Verifier = flask.current_app.extensions[EXTENSION]
        return verifier
    except KeyError:
        raise RuntimeError(
            "no verifier: call authserver_verifier.flask.init_app(app, verifier) or pass require_token(verifier=...)"
        ) from None


def refusal(exc: TokenError, realm: str | None = None) -> flask.Response:
    status, headers, body = error_response(exc, realm)
    return flask.Response(body, status=status, headers=headers)


def require_token(
    scope: str | Iterable[str] | Callable[..., Any] | None = None,
    *,
    verifier: Verifier | None = None,
    require_user: bool = False,
) -> Any:
    """Decorate a view so it runs only for a valid bearer token holding every scope in ``scope``.

    ``scope`` is a space-separated string or a list; ``@require_token`` without arguments works too.
    ``require_user=True``: only a token issued on behalf of a user, never a client's own
    (client_credentials) token, which is refused ``403 insufficient_scope``. Use it on every route
    that serves a user's data.
    """
    if callable(scope):
        return require_token(verifier=verifier, require_user=require_user)(scope)
    scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope or ())

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            active = verifier or current_verifier()
            try:
                token = bearer_token(flask.request.headers.get("Authorization"))
                claims = active.verify(token, scopes, require_user=require_user)
            except TokenError as exc:
                return refusal(exc, active.realm)
            except Exception as exc:  # a bug, still refused: see bearer.unexpected_error
                return refusal(unexpected_error(exc), active.realm)
            flask.g.token_claims = claims
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
