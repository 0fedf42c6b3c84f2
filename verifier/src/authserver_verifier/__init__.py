"""The resource-server side: verify this server's RFC 9068 access tokens in another service.

    from authserver_verifier import Verifier, TokenError

    verifier = Verifier("https://auth.example.com", audience="https://api.example.com")
    claims = verifier.verify(token, required_scopes=("read",))   # or raises TokenError

Keys come from the issuer's RFC 8414 metadata and JWKS, cached as the server says (docs/verifier.md),
or from a fixed JWK Set (:meth:`Verifier.from_jwks`: the issuer checking its own tokens).
This package imports nothing else from ``authserver`` and no web framework: the Flask adapter
(:func:`require_token`) imports Flask only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from authserver_verifier.claims import is_user_token
from authserver_verifier.claims import scopes_of
from authserver_verifier.errors import InsufficientScopeError
from authserver_verifier.errors import InvalidRequestError
from authserver_verifier.errors import InvalidTokenError
from authserver_verifier.errors import MissingTokenError
from authserver_verifier.errors import TokenError
from authserver_verifier.errors import UserTokenRequiredError
from authserver_verifier.errors import VerifierUnavailableError
from authserver_verifier.introspection import Introspection
from authserver_verifier.jwks import CachePolicy
from authserver_verifier.verify import ANY_AUDIENCE
from authserver_verifier.verify import Verifier
from authserver_verifier.verify import verify_access_token


def require_token(
    scope: str | Iterable[str] | Callable[..., Any] | None = None,
    *,
    verifier: Verifier | None = None,
    require_user: bool = False,
) -> Any:
    """Flask view decorator; see :func:`authserver_verifier.flask.require_token` (imports Flask on use)."""
    from authserver_verifier.flask import require_token as flask_require_token

    return flask_require_token(scope, verifier=verifier, require_user=require_user)


__all__ = [
    "ANY_AUDIENCE",
    "CachePolicy",
    "InsufficientScopeError",
    "Introspection",
    "InvalidRequestError",
    "InvalidTokenError",
    "MissingTokenError",
    "TokenError",
    "UserTokenRequiredError",
    "Verifier",
    "VerifierUnavailableError",
    "is_user_token",
    "require_token",
    "scopes_of",
    "verify_access_token",
]
