"""The settings of ``authserver serve``: each one a command-line option and an environment variable.

Resolution, per setting: the option if given, else its variable (``AUTHSERVER_SERVE_*``; the listeners'
``AUTHSERVER_ADMIN_BIND``, ``AUTHSERVER_MANAGEMENT_BIND``, ``AUTHSERVER_ADMIN_SOCKET_MODE`` and
``AUTHSERVER_DRAIN_SECONDS``), else (workers only) ``WEB_CONCURRENCY``, else the default, derived from the
machine where it depends on it. A bad
value stops the command before any worker starts, with a message naming the option and the variable.

These configure the process that serves, not the app: the app's own settings stay in
:mod:`authserver.settings` (``AUTHSERVER_*``), which the workers read when they create the app.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from typing import Any


class ServeOptionError(ValueError):
    """A serve setting with a value it cannot take; the message names the option and the variable."""


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask: a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Declared:
    option: str
    variable: str
    doc: str
    default_doc: str


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_BIND = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]\s]+)):(?P<port>\d{1,5})$")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass(frozen=True)
class Bind:
    """Where a listener listens: ``host``/``port``, or the unix socket ``path``."""

    host: str = "127.0.0.1"
    port: int = 0
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """The resolved settings; see :data:`DECLARED` for each one's option, variable and default."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int = 2
    keep_alive: bool = True
    graceful_timeout: int = 10
    backlog: int = 1024
    backpressure: int | None = None  # None: backlog // workers (granian's default)
    access_log: bool = True
    log_level: str = "info"
    respawn: bool = True
    #: The admin and management listeners (None: ``off``); their apps are the package's factories.
    admin_bind: Bind | None = Bind("127.0.0.1", 9001)
    admin_socket_mode: int = 0o600
    management_bind: Bind | None = Bind("127.0.0.1", 9000)
    drain_seconds: int = 5
    app: str = "authserver:create_app"
    factory: bool = True

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def connections_per_worker(self) -> int:
        return self.backpressure or max(1, self.backlog // self.workers)


#: name -> (option, variable, documentation, default as documented); the README's table follows this order.
DECLARED: dict[str, Declared] = {
    "bind": Declared(
        "--bind",
        "AUTHSERVER_SERVE_BIND",
        "address to listen on, `HOST:PORT` (`[::]:8000` for IPv6).",
        "`127.0.0.1:8000`",
    ),
    "workers": Declared(
        "--workers",
        "AUTHSERVER_SERVE_WORKERS",
        "worker processes; if unset, `WEB_CONCURRENCY`, else the CPUs this process may use.",
        "CPU count",
    ),
    "threads": Declared(
        "--threads",
        "AUTHSERVER_SERVE_THREADS",
        "threads per worker that run requests (granian's blocking threads); a request waiting on PostgreSQL "
        "leaves the core to another.",
        "`2`",
    ),
    "keep_alive": Declared(
        "--keep-alive/--no-keep-alive",
        "AUTHSERVER_SERVE_KEEP_ALIVE",
        "HTTP/1.1 keep-alive (a client's connection serves many requests).",
        "on",
    ),
    "graceful_timeout": Declared(
        "--graceful-timeout",
        "AUTHSERVER_SERVE_GRACEFUL_TIMEOUT",
        "seconds a worker has after SIGTERM/SIGINT to finish its in-flight requests before it is killed "
        "(within `docker stop`'s default 10 s).",
        "`10`",
    ),
    "backlog": Declared("--backlog", "AUTHSERVER_SERVE_BACKLOG", "the listening socket's backlog.", "`1024`"),
    "backpressure": Declared(
        "--backpressure",
        "AUTHSERVER_SERVE_BACKPRESSURE",
        "connections one worker holds open at most (granian's backpressure; keep-alive connections count "
        "while open, so keep it well above your clients' pooled connections).",
        "backlog / workers",
    ),
    "access_log": Declared(
        "--access-log/--no-access-log",
        "AUTHSERVER_SERVE_ACCESS_LOG",
        "access log on standard output: time, client address, method, path (never the query string), "
        "protocol, status, milliseconds.",
        "on",
    ),
    "log_level": Declared(
        "--log-level",
        "AUTHSERVER_SERVE_LOG_LEVEL",
        f"level of the server's own log ({', '.join(LOG_LEVELS)}); the app's is `AUTHSERVER_LOG_LEVEL`.",
        "`info`",
    ),
    "respawn": Declared(
        "--respawn/--no-respawn",
        "AUTHSERVER_SERVE_RESPAWN",
        "start a new worker when one dies.",
        "on",
    ),
    "admin_bind": Declared(
        "--admin-bind",
        "AUTHSERVER_ADMIN_BIND",
        "the admin API's listener (`authserver:create_admin_app`): `HOST:PORT`, `unix:/path` or `off`. Never "
        "route it from the public proxy ([docs/operations.md](docs/operations.md#the-listeners)).",
        "`127.0.0.1:9001`",
    ),
    "admin_socket_mode": Declared(
        "--admin-socket-mode",
        "AUTHSERVER_ADMIN_SOCKET_MODE",
        "permissions of the admin listener's unix socket, octal (`660` lets the socket's group in).",
        "`600`",
    ),
    "management_bind": Declared(
        "--management-bind",
        "AUTHSERVER_MANAGEMENT_BIND",
        "the management listener (`/livez`, `/readyz`, `/metrics`, `/version`; `authserver:create_management_app`): "
        "`HOST:PORT`, `unix:/path` or `off`. For probes and Prometheus, not the public proxy.",
        "`127.0.0.1:9000`",
    ),
    "drain_seconds": Declared(
        "--drain-seconds",
        "AUTHSERVER_DRAIN_SECONDS",
        "after SIGTERM, seconds `/readyz` answers `503` while the public listener still serves (load balancers "
        "stop routing here), before the graceful stop; SIGINT (Ctrl-C) skips it. Keep drain + graceful timeout "
        "below the orchestrator's kill delay.",
        "`5`",
    ),
}


def _int(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def convert(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"{value} is out of range (must be {bound})")
        return value

    return convert


def _bool(raw: str) -> bool:
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{raw!r} is not one of {', '.join(_BOOLEANS)}") from None


def _listener_bind(raw: str) -> Bind | None:
    value = raw.strip()
    if value.lower() == "off":
        return None
    if value.startswith("unix:"):
        path = value[len("unix:") :]
        if not path.startswith("/") or "\x00" in path or len(path) > 100:
            raise ValueError(f"{raw!r}: a unix socket needs an absolute path of at most 100 characters")
        return Bind(path=path)
    host, port = parse_bind(value)
    return Bind(host, port)


def _socket_mode(raw: str) -> int:
    try:
        mode = int(raw.strip(), 8)
    except ValueError:
        raise ValueError(f"{raw!r} is not an octal mode such as 600 or 660") from None
    if not 0 <= mode <= 0o777 or mode & 0o007:
        raise ValueError(f"{raw!r}: the mode must give others nothing (e.g. 600, 660)")
    return mode


def _level(raw: str) -> str:
    level = raw.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"{raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def parse_bind(raw: str) -> tuple[str, int]:
    match = _BIND.match(raw.strip())
    if not match:
        raise ValueError(f"{raw!r} is not HOST:PORT (e.g. 127.0.0.1:8000, 0.0.0.0:8000, [::]:8000)")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range (1 to 65535)")
    return match["v6"] or match["host"], port


_CONVERT: dict[str, Callable[[str], Any]] = {
    "bind": parse_bind,
    "workers": _int(1, 512),
    "threads": _int(1, 256),
    "keep_alive": _bool,
    "graceful_timeout": _int(1, 1800),
    "backlog": _int(128),
    "backpressure": _int(1),
    "access_log": _bool,
    "log_level": _level,
    "respawn": _bool,
    "admin_bind": _listener_bind,
    "admin_socket_mode": _socket_mode,
    "management_bind": _listener_bind,
    "drain_seconds": _int(0, 600),
}


def resolve(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ServeOptions:
    """The options given on the command line (``None`` or absent: not given; strings or typed values),
    then the environment, then the defaults; :class:`ServeOptionError` for the first bad value."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, declared in DECLARED.items():
        raw, source = given.get(name), declared.option.split("/")[0]
        if raw is None:
            raw, source = env.get(declared.variable) or None, declared.variable
        if raw is None and name == "workers" and env.get("WEB_CONCURRENCY"):
            raw, source = env["WEB_CONCURRENCY"], "WEB_CONCURRENCY"
        if raw is None:
            continue
        try:
            value = _CONVERT[name](raw) if isinstance(raw, str) else raw
            if name in ("workers", "threads", "graceful_timeout", "backlog", "backpressure", "drain_seconds"):
                value = _CONVERT[name](str(value))
        except ValueError as exc:
            raise ServeOptionError(
                f"invalid {declared.option.split('/')[0]} / {declared.variable} (from {source}): {exc}"
            ) from None
        values[name] = value
    host, port = values.pop("bind", ("127.0.0.1", 8000))
    values.setdefault("workers", cpu_count())
    for name in ("app", "factory"):
        if given.get(name) is not None:
            values[name] = given[name]
    if values.get("app", ServeOptions.app) != ServeOptions.app:
        # Another WSGI app (the bench's floor apps): the authserver listeners beside it have no place.
        values["admin_bind"] = values["management_bind"] = None
    binds = [Bind(host, port), values.get("admin_bind", ServeOptions.admin_bind)]
    binds.append(values.get("management_bind", ServeOptions.management_bind))
    taken = [str(b) for b in binds if b is not None and (b.path is not None or b.port)]
    if len(set(taken)) != len(taken):
        raise ServeOptionError(
            f"the public, admin and management listeners need different addresses, got {', '.join(taken)} "
            "(--bind, AUTHSERVER_ADMIN_BIND, AUTHSERVER_MANAGEMENT_BIND)"
        )
    known = {f.name for f in fields(ServeOptions)}
    return ServeOptions(host=host, port=port, **{k: v for k, v in values.items() if k in known})


def markdown_table() -> str:
    """The README's table of the serve settings."""
    rows = ["| option | variable | default | meaning |", "|---|---|---|---|"]
    for declared in DECLARED.values():
        rows.append(f"| `{declared.option}` | `{declared.variable}` | {declared.default_doc} | {declared.doc} |")
    return "\n".join(rows)
