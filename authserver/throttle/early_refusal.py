"""Early refusal: a password attempt from an IP this process already refused is answered before Flask."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs

from flask import Flask

from authserver.errors import TooManyRequestsError
from authserver.errors import render_oauth_error
from authserver.http import FORM
from authserver.settings import current_settings
from authserver.telemetry import emit
from authserver.throttle.policy import Throttle
from authserver.usernames import MAX_LENGTH as MAX_USERNAME_LENGTH

TOKEN_PATH = "/oauth/token"


class RefuseDeniedAttempts:
    """WSGI middleware: a password attempt from an IP that this process already knows is over its
    failure ceiling (or while the global ceiling holds) gets its 429 before Flask, client
    authentication and any store round trip, so a one-IP flood of guesses costs the others little.

    Only the in-process cache of reached ceilings is read; the first refused attempt still goes the
    whole way (and fills it). Other grants from the same IP, refreshes included, pass untouched. The
    answer is the one the grant gives: ``429 temporarily_unavailable`` with ``Retry-After``.
    """

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.throttle: Throttle = app.extensions["authserver.throttle"]
        self.clock = app.extensions["authserver.clock"]
        self.max_bytes = current_settings(app).max_request_bytes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != TOKEN_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        ip = environ.get("REMOTE_ADDR") or "unknown"  # after ProxyFix: the same address the grant sees
        verdict = self.throttle.denied(ip, self.clock.now())
        form = self._password_form(environ) if verdict is not None else None
        if verdict is None or form is None:
            return self.wsgi_app(environ, start_response)
        username = (form.get("username") or [""])[0][:MAX_USERNAME_LENGTH]
        emit("login.throttled", reason=verdict.reason, username=username, ip=ip, client_id=None)
        error = TooManyRequestsError(
            f"{verdict.reason} failure ceiling (refused early)", retry_after=verdict.retry_after
        )
        return render_oauth_error(error)(environ, start_response)

    def _password_form(self, environ: dict[str, Any]) -> dict[str, list[str]] | None:
        """The form of a password-grant request, else ``None``; the body stays readable for the app."""
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != FORM:
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= self.max_bytes:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        return form if form.get("grant_type") == ["password"] else None
