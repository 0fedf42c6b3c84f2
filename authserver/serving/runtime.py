"""The per-server runtime directory that ``authserver serve`` creates and removes: what its listener
processes share without a database.

- ``metrics/``: prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``), one per metric
  kind and process, which the management listener sums at every scrape: ``/metrics`` counts the
  requests of every worker of every listener, not of the one that answers the scrape.
- ``draining``: created by the supervisor on SIGTERM; while it exists ``/readyz`` answers 503.
- ``public.json``: the public listener's address, which ``/readyz`` connects to (ready means accepting).

A fresh directory per server (never one left by a previous run: stale counter files would add up).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Set by the supervisor for its listener processes; not a setting an operator sets.
RUNTIME_DIR_VARIABLE = "AUTHSERVER_SERVE_RUNTIME_DIR"
#: prometheus_client reads it when first imported: set before the listener processes start.
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Runtime:
    path: Path

    @property
    def metrics_dir(self) -> Path:
        return self.path / "metrics"

    @property
    def draining(self) -> bool:
        return (self.path / "draining").exists()

    def start_draining(self) -> None:
        (self.path / "draining").touch()

    def public_address(self) -> tuple[str, int] | None:
        """Where to reach the public listener from this host, or None (a unix socket, or unknown)."""
        try:
            bind = json.loads((self.path / "public.json").read_text())
        except (OSError, ValueError):
            return None
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind["host"], bind["host"])  # noqa: S104 (a wildcard bind)
        return host, int(bind["port"])

    def environ(self) -> dict[str, str]:
        """The variables that hand this directory to the listener processes."""
        return {RUNTIME_DIR_VARIABLE: str(self.path), MULTIPROC_VARIABLE: str(self.metrics_dir)}


@contextlib.contextmanager
def created(public_host: str, public_port: int) -> Iterator[Runtime]:
    """A new runtime directory (mode 0700), removed when the block ends."""
    runtime = Runtime(Path(tempfile.mkdtemp(prefix="authserver-serve-")))
    try:
        runtime.metrics_dir.mkdir()
        (runtime.path / "public.json").write_text(json.dumps({"host": public_host, "port": public_port}))
        yield runtime
    finally:
        shutil.rmtree(runtime.path, ignore_errors=True)


def current(environ: Mapping[str, str] | None = None) -> Runtime | None:
    """The runtime directory of the server this process belongs to; None outside ``authserver serve``."""
    value = (os.environ if environ is None else environ).get(RUNTIME_DIR_VARIABLE)
    return Runtime(Path(value)) if value else None
