"""Log lines: one JSON object per line in production, a readable line in development; both carry the
request id (and, with tracing on, the trace id) of the request being served.

``AUTHSERVER_LOG_FORMAT``: ``json``, ``console``, or ``auto`` (the default: JSON in production, where a
log pipeline parses it; console in development, where a person reads it).

The request's ids live in a :class:`contextvars.ContextVar` that :mod:`authserver.wsgi` sets around each
request; the handler's :class:`RequestIds` filter reads it only for a record that is actually written,
so a disabled level costs nothing.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

from flask import Flask

from authserver.settings import ConfigError
from authserver.settings import current_settings

_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

#: ``(request_id, trace_id or None)`` of the request this thread serves; None outside a request.
request_ids: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar(
    "authserver_request_ids", default=None
)

FORMATS = ("auto", "json", "console")


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class RequestIds(logging.Filter):
    """Stamps a record with the request id (and trace id) of the request being served, as it is handled:
    in the thread that logs, so the formatters, whenever they run, write the right ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = request_ids.get()
        if ids is not None:
            record.request_id = ids[0]
            if ids[1] is not None:
                record.trace_id = ids[1]
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_extra(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ConsoleFormatter(logging.Formatter):
    """``12:03:04 WARNING authserver: message  key=value ...``: for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _extra(record)
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        text = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += "  " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def formatter_for(log_format: str, production: bool) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ConfigError(f"AUTHSERVER_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {log_format!r}")
    if log_format == "json" or (log_format == "auto" and production):
        return JsonFormatter()
    return ConsoleFormatter()


def init_app(app: Flask) -> None:
    """Send ``authserver.*`` logs to stderr in the configured format; keep Authlib's token-dumping DEBUG off."""
    settings = current_settings(app)
    formatter = formatter_for(settings.log_format, settings.production)
    logger = logging.getLogger("authserver")
    logger.setLevel(settings.log_level.upper())
    ours = [h for h in logger.handlers if getattr(h, "_authserver", False)]
    if ours:
        ours[0].setFormatter(formatter)  # the process's one handler; the latest app's format
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        handler.addFilter(RequestIds())
        handler._authserver = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    # Authlib's grants log whole token dicts with log.debug("Issue token %r ..."): never let them through.
    logging.getLogger("authlib").setLevel(logging.INFO)
