"""Discovery: authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (Discovery 1.0 §3).

One document, served at both ``/.well-known/oauth-authorization-server`` and
``/.well-known/openid-configuration``, so the two cannot drift. RFC 8414 §7.1.2 registers the OpenID members
(``userinfo_endpoint``, ``subject_types_supported``, ...) as authorization server metadata, and Discovery §3
allows members beyond its own (``revocation_endpoint``, ``introspection_endpoint``, ...): no member belongs to
only one of them.
"""

from __future__ import annotations

from typing import Any

from authserver.oauth.claims import CLAIMS
from authserver.oauth.claims import known_scopes

GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
#: Path of each endpoint under the issuer.
AUTHORIZATION_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
USERINFO_PATH = "/oauth/userinfo"
END_SESSION_PATH = "/oauth/logout"
REVOCATION_PATH = "/oauth/revoke"
INTROSPECTION_PATH = "/oauth/introspect"
JWKS_PATH = "/.well-known/jwks.json"


def server_metadata(issuer: str, scopes: list[str], algorithms: list[str]) -> dict[str, Any]:
    """The metadata of this server; ``algorithms`` are those of the published keys (both token types)."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZATION_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "end_session_endpoint": issuer + END_SESSION_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "introspection_endpoint": issuer + INTROSPECTION_PATH,
        "scopes_supported": known_scopes(scopes),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        # PKCE is required, and only S256 (RFC 9700 §2.1.1): plain is refused.
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        "prompt_values_supported": ["none", "login", "consent"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "access_token_signing_alg_values_supported": algorithms,
        "claims_supported": list(CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        # Discovery §3: the default is true, and we do not fetch request objects.
        "request_uri_parameter_supported": False,
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        # A resource server introspects with its secret; a public client has none.
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS[:2]),
    }
