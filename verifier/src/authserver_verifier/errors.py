"""Errors of the resource-server verifier, per RFC 6750 §3.

Every error carries what a resource server answers: an HTTP status and the ``WWW-Authenticate``
value. Like the server's own errors, each class has a fixed public description; ``detail`` says
what exactly failed and is meant for logs, never for the response.
"""

from __future__ import annotations


def _quoted(value: str) -> str:
    # RFC 6750 §3: error, error_description and scope values exclude '"' and '\'.
    return '"' + "".join(c for c in value if 0x20 <= ord(c) <= 0x7E and c not in '"\\') + '"'


class TokenError(Exception):
    """A request that the resource server must refuse; see :attr:`status` and :attr:`www_authenticate`."""

    status = 401
    error: str | None = None
    description = "authentication required"

    def __init__(self, detail: str = "", *, realm: str | None = None) -> None:
        super().__init__(detail or self.description)
        self.detail = detail or self.description
        self.realm = realm

    def challenge_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        if self.realm:
            params.append(("realm", self.realm))
        if self.error:
            params += [("error", self.error), ("error_description", self.description)]
        return params

    @property
    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` header value (RFC 6750 §3)."""
        params = ", ".join(f"{name}={_quoted(value)}" for name, value in self.challenge_params())
        return f"Bearer {params}" if params else "Bearer"

    def body(self) -> dict[str, str]:
        """A JSON body in the server's error shape: ``{"error", "error_description"}``."""
        return {"error": self.error or "unauthorized", "error_description": self.description}


class MissingTokenError(TokenError):
    """No bearer token at all: RFC 6750 §3.1 says the challenge then carries no error code."""


class InvalidRequestError(TokenError):
    """A malformed ``Authorization`` header or several credentials (RFC 6750 §3.1)."""

    status = 400
    error = "invalid_request"
    description = "malformed bearer credentials"


class InvalidTokenError(TokenError):
    """Expired, revoked, malformed or otherwise invalid access token (RFC 6750 §3.1)."""

    error = "invalid_token"
    description = "the access token is invalid or expired"


class InsufficientScopeError(TokenError):
    """A valid token without the scope this resource requires (RFC 6750 §3.1)."""

    status = 403
    error = "insufficient_scope"
    description = "the access token lacks a required scope"

    def __init__(self, detail: str = "", *, scopes: tuple[str, ...] = (), realm: str | None = None) -> None:
        super().__init__(detail, realm=realm)
        self.scopes = scopes

    def challenge_params(self) -> list[tuple[str, str]]:
        params = super().challenge_params()
        if self.scopes:
            params.append(("scope", " ".join(self.scopes)))
        return params


class UserTokenRequiredError(InsufficientScopeError):
    """A valid token issued to a client for itself (client_credentials) where a user's token is needed.

    RFC 6750 §3.1 ``insufficient_scope`` (403): the token is valid, but it carries less than the
    resource requires (no user); ``invalid_token`` (401) would send the client for another token of
    the same kind, in a loop. No ``scope`` attribute: no scope would help.
    """

    description = "the resource requires a token issued to a user"


class VerifierUnavailableError(TokenError):
    """The issuer's keys (or its introspection endpoint) cannot be had: not the token's fault.

    Answered ``503`` so that clients do not throw away a good token; the challenge has no error code.
    """

    status = 503
    error = "temporarily_unavailable"
    description = "token verification is temporarily unavailable"

    def challenge_params(self) -> list[tuple[str, str]]:
        return [("realm", self.realm)] if self.realm else []
