"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the admin API's bodies."""

from __future__ import annotations

from typing import Any

STRING: dict[str, Any] = {"type": "string"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
INTEGER: dict[str, Any] = {"type": "integer"}
NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
NULLABLE_INTEGER: dict[str, Any] = {"type": ["integer", "null"]}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), *, closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def page_of(item: str) -> dict[str, Any]:
    return obj(
        {"items": {"type": "array", "items": ref(item)}, "next_cursor": NULLABLE_STRING, "next": NULLABLE_STRING},
        ("items", "next_cursor", "next"),
    )


def list_of(item: str) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": ref(item)}}, ("items",), closed=False)


_CLIENT = {
    "client_id": STRING,
    "name": STRING,
    "public": BOOLEAN,
    "admin": BOOLEAN,
    "grant_types": STRINGS,
    "scopes": STRINGS,
    "audience": NULLABLE_STRING,
    "first_party": BOOLEAN,
    "access_token_ttl": NULLABLE_INTEGER,
    "refresh_token_ttl": NULLABLE_INTEGER,
    "refresh_token_max_lifetime": NULLABLE_INTEGER,
    "introspect": BOOLEAN,
    "origins": STRINGS,
    "login_default": BOOLEAN,
    "grace_seconds": NULLABLE_INTEGER,
    "redirect_uris": STRINGS,
    "post_logout_redirect_uris": STRINGS,
    "previous_secret_expires_at": {**NULLABLE_INTEGER, "description": "Unix seconds; during a rotation's overlap"},
    "tokens_not_before": NULLABLE_INTEGER,
}
_CLIENT_CREATE = {
    **{k: v for k, v in _CLIENT.items() if k not in ("previous_secret_expires_at", "tokens_not_before")},
    "client_id": NULLABLE_STRING,
}
_UPDATABLE = (
    "name",
    "grant_types",
    "scopes",
    "audience",
    "first_party",
    "access_token_ttl",
    "refresh_token_ttl",
    "refresh_token_max_lifetime",
    "introspect",
    "grace_seconds",
    "login_default",
)
_USER = {
    "id": STRING,
    "username": STRING,
    "disabled": BOOLEAN,
    "created_at": {"type": "string", "format": "date-time"},
    "name": NULLABLE_STRING,
    "email": NULLABLE_STRING,
    "email_verified": BOOLEAN,
}
_FAMILY = {
    "family_id": STRING,
    "client_id": STRING,
    "user_id": STRING,
    "session_id": NULLABLE_STRING,
    "scope": STRING,
    "auth_time": INTEGER,
    "started_at": INTEGER,
    "last_issued_at": INTEGER,
    "expires_at": INTEGER,
    "active": BOOLEAN,
}
_KEY = {
    "kid": STRING,
    "alg": STRING,
    "state": {"type": "string", "enum": ["next", "active", "retired"]},
    "created_at": INTEGER,
    "activated_at": NULLABLE_INTEGER,
    "retired_at": NULLABLE_INTEGER,
}
_KIDS = {"type": "array", "items": STRING}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": STRING, "error_description": STRING}, ("error", "error_description")),
    "Client": obj(_CLIENT, tuple(_CLIENT)),
    "ClientWithSecret": obj(
        {**_CLIENT, "client_secret": {**STRING, "description": "Shown only in this answer"}}, tuple(_CLIENT)
    ),
    "ClientPage": page_of("Client"),
    "ClientCreate": obj(_CLIENT_CREATE, ("name",)),
    "ClientUpdate": obj({k: _CLIENT[k] for k in _UPDATABLE}),
    "SecretRotation": obj(
        {"overlap_seconds": {**INTEGER, "minimum": 0, "maximum": 604800, "description": "Default 0: at once"}}
    ),
    "Origin": obj({"origin": STRING}, ("origin",)),
    "RedirectUri": obj({"uri": STRING, "post_logout": BOOLEAN}, ("uri",)),
    "User": obj(_USER, tuple(_USER)),
    "UserPage": page_of("User"),
    "UserCreate": obj(
        {
            "username": STRING,
            "password": STRING,
            "name": NULLABLE_STRING,
            "email": NULLABLE_STRING,
            "email_verified": BOOLEAN,
        },
        ("username", "password"),
    ),
    "UserUpdate": obj({"name": NULLABLE_STRING, "email": NULLABLE_STRING, "email_verified": BOOLEAN}),
    "Password": obj({"password": STRING}, ("password",)),
    "Family": obj(_FAMILY, tuple(_FAMILY)),
    "FamilyList": list_of("Family"),
    "Consent": obj(
        {"client_id": STRING, "client_name": STRING, "scopes": STRINGS, "granted_at": INTEGER},
        ("client_id", "client_name", "scopes", "granted_at"),
    ),
    "ConsentList": list_of("Consent"),
    "Revoked": obj(
        {"revoked_refresh_tokens": INTEGER, "not_before": NULLABLE_INTEGER}, ("revoked_refresh_tokens", "not_before")
    ),
    "RevokeBefore": obj({"client_id": STRING, "user_id": STRING, "before": {**INTEGER, "description": "Unix seconds"}}),
    "Key": obj(_KEY, ("kid", "alg", "state", "created_at")),
    "KeyListed": obj(
        {**_KEY, "activation_eligible_at": NULLABLE_INTEGER, "removal_due_at": NULLABLE_INTEGER},
        ("kid", "alg", "state", "created_at"),
        closed=False,
    ),
    "KeyList": list_of("KeyListed"),
    "KeyGenerate": obj(
        {
            "alg": {"type": "string", "enum": ["ES256", "PS256", "RS256"]},
            "size": {"enum": [2048, 3072, 4096]},
            "activate": BOOLEAN,
        }
    ),
    "KeyActivate": obj({"force": BOOLEAN}),
    "KeyRotate": obj({"if_due": BOOLEAN}),
    "KeyActions": obj(
        {"generated": _KIDS, "activated": _KIDS, "retired": _KIDS, "removed": _KIDS},
        ("generated", "activated", "retired", "removed"),
    ),
}
