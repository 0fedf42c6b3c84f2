"""The WSGI pipeline in front of Flask, in one place. A request passes, outermost first:

0. :class:`~authserver.telemetry.requests.RequestTelemetry`: the request id (a trusted ``X-Request-Id``
   or a new one, echoed in the response and on every log line), the duration metric, the trace span.
1. :class:`~authserver.views.wellknown.JwksShortcut`: ``GET /.well-known/jwks.json`` is answered here,
   before anything else (the most requested, least dynamic document; the client's address is irrelevant).
2. :mod:`authserver.forwarding`: with ``TRUSTED_PROXY_HOPS``, werkzeug's ProxyFix and the validation of
   the forwarded address set ``REMOTE_ADDR`` to the client's IP; in production without trusted proxies,
   the warning about an ignored ``X-Forwarded-For``.
3. :class:`~authserver.throttle.early_refusal.RefuseDeniedAttempts`: a password attempt from an IP this
   process already refused gets its 429 here (it needs the client's address, so it sits inside 2).
4. Flask.
"""

from __future__ import annotations

from flask import Flask

from authserver import forwarding
from authserver.forwarding import WsgiApp
from authserver.telemetry.requests import RequestTelemetry
from authserver.throttle.early_refusal import RefuseDeniedAttempts
from authserver.views.wellknown import JwksShortcut


def install_pipeline(app: Flask) -> None:
    """Wrap ``app.wsgi_app`` in the layers above, innermost first."""
    pipeline: WsgiApp = RefuseDeniedAttempts(app, app.wsgi_app)
    pipeline = forwarding.wrap(app, pipeline)
    if "authserver.keys.keyring" in app.extensions:  # the CLI may run without keys
        pipeline = JwksShortcut(app, pipeline)
    pipeline = RequestTelemetry(app, pipeline)
    app.wsgi_app = pipeline  # type: ignore[method-assign]
