"""``authserver serve``'s main process: the public, admin and management listeners, each a granian server
in a process of its own (:mod:`.listener`; granian serves one address per server), and the stop.

- Start: a fresh runtime directory (:mod:`.runtime`: the metrics files, the drain mark), then one process
  per listener. The supervisor itself never imports the app.
- **SIGTERM** (an orchestrator's stop): the drain mark first, so ``/readyz`` answers 503 at once and load
  balancers take this server out; the public listener keeps serving for ``drain_seconds``; then every
  listener stops gracefully (no new connections, in-flight requests finish within ``graceful_timeout``),
  the management listener last so ``/livez`` answers to the end. Exit 0.
- **SIGINT** (Ctrl-C in development): the same graceful stop without the drain delay.
- A listener that exits on its own (its address taken, a crash): the others are stopped, exit 1, so the
  orchestrator restarts the whole server rather than run it without, say, its readiness probe.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from authserver.serving import runtime
from authserver.serving.listener import encode
from authserver.serving.options import ServeOptions
from authserver.serving.runner import Listener
from authserver.serving.runner import listeners

log = logging.getLogger("authserver.serving")


class _Stop:
    """The first SIGTERM or SIGINT received, for the main loop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _start(listener: Listener, options: ServeOptions, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "authserver.serving.listener", listener.name, encode(listener, options)]
    # The same process group: a Ctrl-C in a terminal reaches every listener at once (and the supervisor).
    return subprocess.Popen(argv, env=environ, preexec_fn=_die_with_parent)  # noqa: S603


def _exited(children: dict[str, subprocess.Popen[bytes]]) -> str | None:
    return next((name for name, child in children.items() if child.poll() is not None), None)


def _stop(children: dict[str, subprocess.Popen[bytes]], options: ServeOptions) -> None:
    """SIGTERM to the public and admin listeners, then to the management one; a kill past the bound."""
    order = [[n for n in children if n != "management"], [n for n in children if n == "management"]]
    for names in order:
        for name in names:
            with contextlib.suppress(ProcessLookupError):
                children[name].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + options.graceful_timeout + 5
        for name in names:
            try:
                children[name].wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("listener %s did not stop in time: killed", name)
                children[name].kill()
                children[name].wait()


def run(options: ServeOptions) -> int:
    """Serve until SIGTERM/SIGINT or until a listener exits; the exit status (0: a requested stop)."""
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with runtime.created(options.host, options.port) as rt:
        environ = {**os.environ, **rt.environ()}
        children = {listener.name: _start(listener, options, environ) for listener in listeners(options)}
        while not stop.event.wait(0.2):
            failed = _exited(children)
            if failed is not None:
                print(f"authserver serve: the {failed} listener exited; stopping", file=sys.stderr, flush=True)
                _stop(children, options)
                return 1
        if stop.signum == signal.SIGTERM and options.drain_seconds:
            rt.start_draining()
            print(
                f"authserver serve: SIGTERM: draining for {options.drain_seconds} s (/readyz answers 503), "
                "then stopping",
                file=sys.stderr,
                flush=True,
            )
            deadline = time.monotonic() + options.drain_seconds
            while time.monotonic() < deadline and _exited(children) is None:
                time.sleep(0.1)
        else:
            rt.start_draining()
        _stop(children, options)
        return 0
