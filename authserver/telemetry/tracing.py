"""OpenTelemetry traces, when ``AUTHSERVER_OTEL_ENDPOINT`` is set: a span per HTTP request, per database
statement, per argon2 hash or verify and per JWT signature, exported over OTLP/HTTP.

Unset, nothing of OpenTelemetry is imported and :func:`span` returns one shared no-op context manager
after one module-level check: the hot paths pay a function call.

Fork safety: the provider, its batch exporter thread and its HTTP session are made in
:func:`init_app`, which runs in the app factory, and ``authserver serve``'s workers each call the factory
themselves after granian forked them (authserver.serving.runner): nothing of it crosses a fork. A server
that creates the app before forking (gunicorn ``--preload``) would share one exporter thread that the
children do not have; that is why the app is never preloaded.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy import event

from authserver.extensions import db
from authserver.settings import current_settings

_EXTENSION = "authserver.tracing"
_NOOP: AbstractContextManager[Any] = contextlib.nullcontext()
#: Whether any app of this process traces; the one check a hot path pays when none does.
_enabled = False


class Tracing:
    """One app's tracer and the provider that exports its spans."""

    def __init__(self, provider: Any, tracer: Any) -> None:
        self.provider = provider
        self.tracer = tracer

    @contextlib.contextmanager
    def span(self, name: str, kind: str = "INTERNAL", **attributes: Any) -> Iterator[Any]:
        from opentelemetry.trace import SpanKind

        with self.tracer.start_as_current_span(name, kind=getattr(SpanKind, kind), attributes=attributes) as span:
            yield span


def init_app(app: Flask) -> None:
    """Set up the tracer of ``app`` when ``AUTHSERVER_OTEL_ENDPOINT`` is set; else do nothing."""
    global _enabled
    endpoint = current_settings(app).otel_endpoint
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "authserver", "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource)  # this app's, not the process-global provider
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    app.extensions[_EXTENSION] = Tracing(provider, provider.get_tracer("authserver"))
    atexit.register(provider.shutdown)  # flush what is batched when the worker exits
    _enabled = True
    _instrument_engines(app)


def current_tracing(app: Flask | None = None) -> Tracing | None:
    if app is None:
        if not _enabled or not has_app_context():
            return None
        app = current_app
    return app.extensions.get(_EXTENSION)


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span of the current app's tracer, or a no-op when it has none."""
    if not _enabled:
        return _NOOP
    tracing = current_tracing()
    return _NOOP if tracing is None else tracing.span(name, **attributes)


def db_span(sql: str, system: str) -> AbstractContextManager[Any]:
    """A client span for one SQL statement: its text with placeholders (values are never recorded)."""
    if not _enabled:
        return _NOOP
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    return span(f"db {verb}", kind="CLIENT", **{"db.system": system, "db.statement": sql[:2000]})


def _instrument_engines(app: Flask) -> None:
    """Spans for the statements of the app's SQLAlchemy engines (the held psycopg cursors of
    :mod:`authserver.store.autocommit` open theirs with :func:`db_span`)."""
    with app.app_context():
        engines = [db.engine, app.extensions.get("authserver.autocommit_engine")]
    tracing: Tracing = app.extensions[_EXTENSION]

    def before(conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        manager = tracing.span(
            f"db {verb}", kind="CLIENT", **{"db.system": conn.dialect.name, "db.statement": statement[:2000]}
        )
        manager.__enter__()
        context._authserver_span = manager

    def after(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        manager = getattr(context, "_authserver_span", None)
        if manager is not None:
            context._authserver_span = None
            manager.__exit__(None, None, None)

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        manager = getattr(context, "_authserver_span", None) if context is not None else None
        if manager is not None:
            context._authserver_span = None
            error = exception_context.original_exception
            manager.__exit__(type(error), error, None)

    for engine in engines:
        if engine is not None:
            event.listen(engine, "before_cursor_execute", before)
            event.listen(engine, "after_cursor_execute", after)
            event.listen(engine, "handle_error", failed)
