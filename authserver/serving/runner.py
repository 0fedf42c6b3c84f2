"""One granian server for one listener: the WSGI app in worker processes, each with a few request threads.

Why granian (bench/README.md, "The server"): its HTTP handling is Rust, connections stay alive, and the
Python side only runs the WSGI callable; on the 2-core benchmark machine it serves the same app with
less CPU per request than gunicorn's sync or gthread workers. Granian serves one address per server, so
``authserver serve`` runs one of these per listener under a small supervisor (:mod:`.supervisor`). How
the app's guarantees hold under it:

- **Nothing crosses a fork.** The listener process never imports or creates the app: each worker process
  loads its target (``authserver:create_app``, ``create_admin_app``, ``create_management_app``) and calls
  it itself (granian's target loader runs in the worker), so the database pools, the tracing exporter's
  thread and the metrics files are all made after the fork. The held PostgreSQL connections
  (:mod:`authserver.store.autocommit`) also key on the pid.
- **Per-thread connections.** A worker runs requests on at most ``threads`` *blocking threads*, made by
  granian (not by :mod:`threading`: Python sees them as dummy threads). Each keeps its own thread-local
  state between requests; when an idle thread ends, its thread-local values are dropped, and the held
  connection and the argon2 slot descriptors are closed with them (they are tied to a per-thread
  anchor, not to the thread object, which for a dummy thread is never collected).
- **argon2 slots** (:mod:`authserver.passwords.slots`) are ``flock`` locks on one open file description
  per thread, so they cap hashing across the threads of a worker and across workers alike.
- **Graceful stop.** SIGTERM or SIGINT: the workers stop accepting, finish their in-flight requests and
  exit; one still busy after ``graceful_timeout`` seconds is killed.
- **Backpressure.** A worker holds at most ``connections_per_worker`` connections open; kept-alive
  connections count while open (a full worker stops accepting), requests beyond the threads wait in
  granian's queue, not in Python.
- **Access log**: path only. ``%(path)s`` is the path without the query string: authorization codes and
  ``state`` travel in the query of ``/oauth/authorize`` redirects and client callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authserver.serving.options import Bind
from authserver.serving.options import ServeOptions

#: time, client address, "METHOD /path PROTOCOL", status, milliseconds. Never %(query_string)s.
ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms'


@dataclass(frozen=True)
class Listener:
    """One listener of ``authserver serve``: its app, address and size."""

    name: str  # public, admin, management
    app: str
    factory: bool
    bind: Bind
    workers: int
    threads: int
    access_log: bool
    socket_mode: int | None = None


def listeners(options: ServeOptions) -> list[Listener]:
    """The listeners ``options`` asks for, public first."""
    found = [
        Listener(
            "public",
            options.app,
            options.factory,
            Bind(options.host, options.port),
            options.workers,
            options.threads,
            options.access_log,
        )
    ]
    if options.admin_bind is not None:
        # One worker: operators' calls, not traffic; its access log is part of the audit trail.
        found.append(
            Listener(
                "admin",
                "authserver:create_admin_app",
                True,
                options.admin_bind,
                1,
                options.threads,
                options.access_log,
                options.admin_socket_mode,
            )
        )
    if options.management_bind is not None:
        # Probes and scrapes every few seconds: no access log (they would drown the public one).
        found.append(
            Listener("management", "authserver:create_management_app", True, options.management_bind, 1, 2, False)
        )
    return found


def log_config(level: str) -> dict[str, Any]:
    """The server's log (stderr) and the access log (stdout, one line per request, no query strings)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "generic": {"()": "logging.Formatter", "fmt": "[%(levelname)s] %(message)s"},
            "access": {"()": "logging.Formatter", "fmt": "%(message)s"},
        },
        "handlers": {
            "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": level.upper(), "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def build(listener: Listener, options: ServeOptions) -> Any:
    """The granian server for ``listener`` (not started)."""
    from granian import Granian
    from granian.constants import HTTPModes
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    where: dict[str, Any] = {"address": listener.bind.host, "port": listener.bind.port}
    if listener.bind.path is not None:
        where = {"uds": Path(listener.bind.path), "uds_permissions": listener.socket_mode}
    return Granian(
        listener.app,
        **where,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=listener.workers,
        blocking_threads=listener.threads,
        backlog=options.backlog,
        backpressure=options.backpressure or max(1, options.backlog // listener.workers),
        http1_settings=HTTP1Settings(keep_alive=options.keep_alive),
        log_enabled=True,
        log_level=LogLevels(options.log_level),
        log_dictconfig=log_config(options.log_level),
        log_access=listener.access_log,
        log_access_format=ACCESS_LOG_FORMAT,
        respawn_failed_workers=options.respawn,
        workers_kill_timeout=options.graceful_timeout,
        factory=listener.factory,
    )
