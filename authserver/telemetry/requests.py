"""The outermost layer of the public pipeline (:mod:`authserver.wsgi`): each request's id, its duration
metric and, with tracing on, its server span.

- **Request id.** ``X-Request-Id`` from the client is taken only where forwarded headers are trusted
  (``AUTHSERVER_TRUSTED_PROXY_HOPS`` > 0: the proxy in front sets or passes it), and only if it is 1 to
  128 characters of ``A-Za-z0-9._:-``; otherwise a new random id. Either way the response echoes it
  and every log line written while serving the request carries it (:mod:`.logs`).
- **Duration**: ``authserver_http_request_duration_seconds{route,status}``, the route being the URL
  rule's template (``/oauth/token``; ``unmatched`` for paths no rule serves), so its values stay few.
- **Span** (``AUTHSERVER_OTEL_ENDPOINT``): ``METHOD route``, the parent from a trusted ``traceparent``.

Cost per request without tracing: a random id, a context variable set and reset, a clock read twice and a
histogram observation; no string formatting.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask

from authserver.settings import current_settings
from authserver.telemetry import tracing
from authserver.telemetry.logs import request_ids
from authserver.telemetry.metrics import RequestDurations

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestTelemetry:
    def __init__(self, app: Flask, wsgi_app: WsgiApp) -> None:
        self.flask = app
        self.app = wsgi_app
        self.trusted = current_settings(app).trusted_proxy_hops > 0
        self.tracing = tracing.current_tracing(app)
        self.durations = RequestDurations()
        self._routes: frozenset[str] | None = None

    def route(self, path: str) -> str:
        if self._routes is None:  # after every blueprint is registered
            self._routes = frozenset(r.rule for r in self.flask.url_map.iter_rules() if "<" not in r.rule)
        if path in self._routes:
            return path
        return "/static/<path:filename>" if path.startswith("/static/") else "unmatched"

    def request_id(self, environ: dict[str, Any]) -> str:
        if self.trusted:
            given = environ.get("HTTP_X_REQUEST_ID")
            if given is not None and _VALID_ID.fullmatch(given):
                return given
        return os.urandom(16).hex()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = self.request_id(environ)
        environ["authserver.request_id"] = request_id
        status: list[str] = []

        def start(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[:] = [line[:3]]
            headers.append(("X-Request-Id", request_id))
            return start_response(line, headers, exc_info)

        started = time.perf_counter()
        try:
            if self.tracing is None:
                token = request_ids.set((request_id, None))
                try:
                    return self.app(environ, start)
                finally:
                    request_ids.reset(token)
            return self._traced(environ, start, request_id, status)
        finally:
            route = self.route(environ.get("PATH_INFO", ""))
            self.durations.observe(route, status[0] if status else "500", time.perf_counter() - started)

    def _traced(
        self, environ: dict[str, Any], start: Callable[..., Any], request_id: str, status: list[str]
    ) -> Iterable[bytes]:
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace import Status
        from opentelemetry.trace import StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        assert self.tracing is not None
        parent = None
        if self.trusted and "HTTP_TRACEPARENT" in environ:
            parent = TraceContextTextMapPropagator().extract({"traceparent": environ["HTTP_TRACEPARENT"]})
        method = environ.get("REQUEST_METHOD", "GET")
        route = self.route(environ.get("PATH_INFO", ""))
        attributes = {"http.request.method": method, "http.route": route, "authserver.request_id": request_id}
        with self.tracing.tracer.start_as_current_span(
            f"{method} {route}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            token = request_ids.set((request_id, trace_id))
            try:
                body = self.app(environ, start)
            finally:
                request_ids.reset(token)
            code = int(status[0]) if status else 500
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return body
