"""The admin API's OpenAPI 3.1 description, built from the operations themselves (:data:`routes.OPERATIONS`)
and the schemas (:mod:`~authserver.admin_api.schemas`).

docs/admin-openapi.json is this document (a test keeps them equal); rewrite it with
``.venv/bin/python -c "from authserver.admin_api import openapi; openapi.write()"``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from authserver.admin.access import ADMIN_SCOPES
from authserver.admin_api.routes import OPERATIONS
from authserver.admin_api.routes import Operation
from authserver.admin_api.schemas import SCHEMAS
from authserver.admin_api.schemas import ref

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Invalid request (error_description says why)",
    401: "No valid admin token (WWW-Authenticate: Bearer)",
    403: "insufficient_scope (WWW-Authenticate names the scope), or access_denied",
    404: "No such resource",
    409: "Conflict: it exists already, or the key lifecycle refused the step",
    412: "If-Match names another version",
    428: "If-Match is required",
}


def _error(status: int) -> dict[str, Any]:
    return {"description": _STATUS_TEXT[status], "content": {"application/json": {"schema": ref("Error")}}}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in (part[1:-1] for part in op.path.split("/") if part.startswith("{"))
    ]
    if op.paginated:
        params += [
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
            {
                "name": "cursor",
                "in": "query",
                "schema": {"type": "string"},
                "description": "next_cursor of the page before",
            },
        ]
    params += [
        {"name": name, "in": "query", "schema": {"type": kind}, "description": text} for name, kind, text in op.query
    ]
    if op.if_match is not None:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": op.if_match == "required",
                "schema": {"type": "string"},
                "description": "The ETag of the version read (or *)",
            }
        )
    return params


def _operation(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _STATUS_TEXT[op.status]}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": ref(op.response)}}
        if op.method == "GET" or op.if_match is not None:
            success["headers"] = {"ETag": {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in sorted({*op.errors, 401, 403}):
        responses[str(status)] = _error(status)
    doc: dict[str, Any] = {
        "operationId": op.action,
        "summary": op.summary,
        "tags": [op.path.split("/")[2]],
        "security": [{"adminToken": [op.scope] if op.scope else []}],
        "x-audit-event": f"admin.{op.action}",
        "responses": responses,
    }
    params = _parameters(op)
    if params:
        doc["parameters"] = params
    if op.request is not None:
        doc["requestBody"] = {
            "required": op.request not in _OPTIONAL_BODIES,
            "content": {"application/json": {"schema": ref(op.request)}},
        }
    return doc


_OPTIONAL_BODIES = {"SecretRotation", "KeyGenerate", "KeyActivate", "KeyRotate"}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every admin operation."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "authserver admin API",
            "version": "1",
            "description": "Served on the admin listener (AUTHSERVER_ADMIN_BIND) only; see docs/admin-api.md. "
            "Authenticate with an access token of an admin client (client_credentials at /oauth/token of the "
            "public listener, audience authserver-admin). A write scope implies the read scope of its area.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "adminToken": {
                    "type": "oauth2",
                    "description": "Bearer access token (RFC 6750) of an admin client",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/oauth/token",
                            "scopes": {
                                scope: f"admin API, {scope.split(':')[1]}, {scope.split(':')[2]}"
                                for scope in ADMIN_SCOPES
                            },
                        }
                    },
                }
            },
        },
    }


DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "admin-openapi.json"


def write() -> None:
    """Rewrite docs/admin-openapi.json from the code."""
    DOCS_FILE.write_text(document_text())


def document_text() -> str:
    """The document as kept in docs/admin-openapi.json."""
    return json.dumps(document(), indent=2, sort_keys=False) + "\n"
