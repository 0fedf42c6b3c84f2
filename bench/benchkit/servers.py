"""The HTTP servers a benchmark can run an app under: ``--server KIND`` and ``--compare-servers K1,K2,...``.

A kind is ``NAME[:W[xT]]``: W worker processes with T threads each (defaults per name below).

| name | what runs |
|---|---|
| ``serve`` | ``authserver serve`` (the product's command, granian), ``--workers W --threads T`` |
| ``sync`` | gunicorn sync workers (the server until issue 16): one request per process, no keep-alive |
| ``gthread`` | gunicorn ``-k gthread --threads T --keep-alive 30`` |
| ``granian`` | granian's WSGI interface, ``--blocking-threads T`` (no serve command around it) |
| ``waitress`` | waitress, one process with T threads (W is always 1) |

The floor apps (bench/floor) run under the same kind as the server, so "what our code adds" stays
measured on one stack. Every kind runs the app from ``cwd`` with the caller's environment, listens
on 127.0.0.1:``port`` and has its workers as direct children of the process started (waitress: the
process itself), which is what the CPU accounting and the RSS figure read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from authserver.testing.servers import serve_argv

#: (default workers, default threads) per name.
DEFAULTS = {"serve": (2, 2), "sync": (4, 1), "gthread": (4, 1), "granian": (2, 2), "waitress": (1, 8)}


@dataclass(frozen=True)
class AppTarget:
    """A WSGI app as ``module:attribute``; ``factory``: the attribute is called with no arguments."""

    module: str
    attribute: str
    factory: bool

    @property
    def gunicorn_spec(self) -> str:
        return f"{self.module}:{self.attribute}{'()' if self.factory else ''}"


AUTHSERVER = AppTarget("authserver", "create_app", factory=True)


@dataclass(frozen=True)
class ServerKind:
    name: str
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str, workers: int | None = None) -> ServerKind:
        """``NAME[:W[xT]]``; ``workers`` (``--workers``) replaces the name's default W when the text has none."""
        name, _, sizes = text.strip().partition(":")
        if name not in DEFAULTS:
            raise ValueError(f"unknown server {name!r}; known: {', '.join(DEFAULTS)}")
        w, t = DEFAULTS[name]
        if workers is not None:
            w = workers
        if sizes:
            first, _, second = sizes.partition("x")
            w = int(first)
            t = int(second) if second else t
        if name == "waitress":
            w = 1
        if w < 1 or t < 1:
            raise ValueError(f"server {text!r}: workers and threads must be at least 1")
        return cls(name, w, t)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.workers}x{self.threads}"

    @property
    def processes(self) -> int | None:
        """Worker processes to wait for (direct children); None: the process serves by itself."""
        return None if self.name == "waitress" else self.workers

    def describe(self) -> str:
        return {
            "serve": f"`authserver serve` (granian WSGI), {self.workers} workers x {self.threads} threads, keep-alive",
            "sync": f"gunicorn {self.workers} sync workers (no keep-alive)",
            "gthread": f"gunicorn {self.workers} gthread workers x {self.threads} threads, keep-alive 30 s",
            "granian": f"granian {self.workers} workers x {self.threads} blocking threads, keep-alive",
            "waitress": f"waitress, 1 process x {self.threads} threads, keep-alive",
        }[self.name]

    def argv(self, app: AppTarget, port: int, *, pid_file: Path | None = None) -> list[str]:
        python = sys.executable
        w, t = str(self.workers), str(self.threads)
        if self.name == "serve":
            # The public listener only, like every other server measured here (and no fixed ports taken).
            extra = ["--admin-bind", "off", "--management-bind", "off"]
            if app != AUTHSERVER:
                extra = ["--wsgi-app", f"{app.module}:{app.attribute}"]
            if not app.factory:
                extra.append("--no-factory")
            return serve_argv(port, self.workers, "--threads", t, "--no-access-log", *extra)
        if self.name in ("sync", "gthread"):
            argv = [python, "-m", "gunicorn", "-w", w, "-b", f"127.0.0.1:{port}"]
            if self.name == "gthread":
                argv += ["-k", "gthread", "--threads", t, "--keep-alive", "30"]
            if pid_file is not None:
                argv += ["--pid", str(pid_file)]
            return [*argv, app.gunicorn_spec]
        if self.name == "granian":
            argv = [python, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", w, "--blocking-threads", t, "--no-ws", "--log-level", "warning"]
            argv += ["--factory"] if app.factory else []
            return [*argv, f"{app.module}:{app.attribute}"]
        target = f"{app.module}:{app.attribute}"
        return [python, "-m", "waitress", f"--listen=127.0.0.1:{port}", f"--threads={t}"] + (
            ["--call", target] if app.factory else [target]
        )
