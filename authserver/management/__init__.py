"""The management listener (``AUTHSERVER_MANAGEMENT_BIND``), served by
:func:`authserver.app.create_management_app`: liveness, readiness, metrics and version.

Never routed by the public proxy: it says what runs (``/version``), what is wrong (``/readyz``'s
reasons) and how much traffic there is (``/metrics``). docs/operations.md, "The listeners".
"""

from __future__ import annotations

from flask import Flask

from authserver.management import exposition
from authserver.management import probes
from authserver.management.readiness import Checks
from authserver.serving import runtime


def init_app(app: Flask) -> None:
    """Register the management endpoints on ``app``."""
    checks = Checks(app, runtime.current())
    app.extensions["authserver.management.checks"] = checks
    app.extensions["authserver.management.registry"] = exposition.registry_for(app, checks, probes.app_version())
    app.register_blueprint(probes.bp)
    app.register_blueprint(exposition.bp)
    app.wsgi_app = probes.Liveness(app.wsgi_app)  # type: ignore[method-assign]
