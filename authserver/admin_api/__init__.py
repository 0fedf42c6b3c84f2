"""The admin HTTP API, served on its own listener (``AUTHSERVER_ADMIN_BIND``) by
:func:`authserver.app.create_admin_app`: JSON resources under ``/admin/`` over the domain functions of
:mod:`authserver.admin`, the same ones the CLI calls (docs/admin-api.md; the OpenAPI description at
``/openapi.json`` and in docs/admin-openapi.json).

* :mod:`~authserver.admin_api.authentication`: admin clients' bearer tokens, strictly checked;
* :mod:`~authserver.admin_api.routes`: each operation's scope, audit event and description;
* :mod:`~authserver.admin_api.clients`, :mod:`~.users`, :mod:`~.keys`, :mod:`~.tokens`: the resources;
* :mod:`~authserver.admin_api.problems`, :mod:`~.conditional`, :mod:`~.pagination`, :mod:`~.body`,
  :mod:`~.responses`: the wire rules every resource shares; :mod:`~.openapi`: the description.
"""

from __future__ import annotations

from flask import Flask
from flask import Response

from authserver.admin.errors import AdminError
from authserver.admin_api import clients as _clients  # noqa: F401 - registers its operations
from authserver.admin_api import keys as _keys  # noqa: F401
from authserver.admin_api import openapi
from authserver.admin_api import tokens as _tokens  # noqa: F401
from authserver.admin_api import users as _users  # noqa: F401
from authserver.admin_api.problems import ApiError
from authserver.admin_api.problems import ConflictApiError
from authserver.admin_api.problems import from_admin_error
from authserver.admin_api.problems import render
from authserver.admin_api.responses import json_response
from authserver.admin_api.routes import audit
from authserver.admin_api.routes import bp
from authserver.errors import error_response
from authserver.keys.keystore import KeystoreError
from authserver.store.throttle_counters import StoreError


def _admin_error(exc: AdminError) -> Response:
    return render(from_admin_error(exc))


def _keystore_error(exc: KeystoreError) -> Response:
    return render(ConflictApiError(str(exc)))


def _store_error(exc: StoreError) -> Response:
    return error_response("temporarily_unavailable", 503)


def _openapi_json() -> Response:
    return json_response(openapi.document())


def init_app(app: Flask) -> None:
    """Register the admin API's blueprints and error handlers on ``app``."""
    bp_handlers = ((ApiError, render), (AdminError, _admin_error), (KeystoreError, _keystore_error))
    for exc_class, handler in bp_handlers:
        app.register_error_handler(exc_class, handler)
    app.register_error_handler(StoreError, _store_error)
    app.register_blueprint(bp)
    app.after_request(audit)
    app.add_url_rule("/openapi.json", "admin_openapi", _openapi_json, methods=["GET"])
