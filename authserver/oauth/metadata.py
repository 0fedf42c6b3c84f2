"""Authorization server metadata (RFC 8414 §2)."""

from __future__ import annotations

from typing import Any

GRANT_TYPES = ("password", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


def server_metadata(issuer: str, scopes: list[str], algorithms: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS[:2]),
        "scopes_supported": scopes,
        "access_token_signing_alg_values_supported": algorithms,
    }
