"""``authserver serve``: the production server (granian, :mod:`authserver.serving`), configured by options
or ``AUTHSERVER_SERVE_*`` variables (README, "Production")."""

from __future__ import annotations

import sys
from typing import Any

import click

from authserver.serving.options import DECLARED
from authserver.serving.options import ServeOptionError
from authserver.serving.options import resolve
from authserver.settings import ConfigError
from authserver.settings import Settings

DEFAULT_APP = "authserver:create_app"


def _help(name: str) -> str:
    declared = DECLARED[name]
    return f"{declared.doc} [env: {declared.variable}; default: {declared.default_doc.strip('`')}]"


@click.command("serve")
@click.option("--bind", metavar="HOST:PORT", help=_help("bind"))
@click.option("--workers", "-w", metavar="N", help=_help("workers"))
@click.option("--threads", metavar="N", help=_help("threads"))
@click.option("--keep-alive/--no-keep-alive", default=None, help=_help("keep_alive"))
@click.option("--graceful-timeout", metavar="SECONDS", help=_help("graceful_timeout"))
@click.option("--backlog", metavar="N", help=_help("backlog"))
@click.option("--backpressure", metavar="N", help=_help("backpressure"))
@click.option("--access-log/--no-access-log", default=None, help=_help("access_log"))
@click.option("--log-level", metavar="LEVEL", help=_help("log_level"))
@click.option("--respawn/--no-respawn", default=None, help=_help("respawn"))
@click.option("--admin-bind", metavar="HOST:PORT|unix:PATH|off", help=_help("admin_bind"))
@click.option("--admin-socket-mode", metavar="MODE", help=_help("admin_socket_mode"))
@click.option("--management-bind", metavar="HOST:PORT|unix:PATH|off", help=_help("management_bind"))
@click.option("--drain-seconds", metavar="SECONDS", help=_help("drain_seconds"))
@click.option("--wsgi-app", "app", default=None, hidden=True, help="module:attribute (the bench's floor apps)")
@click.option("--factory/--no-factory", default=None, hidden=True, help="call the attribute to get the app")
def serve(**given: Any) -> None:
    """Serve the authorization server (production): the public, admin and management listeners on granian,
    worker processes with request threads, HTTP keep-alive, a drain then a graceful stop on SIGTERM, an
    access log without query strings."""
    try:
        options = resolve(given)
    except ServeOptionError as exc:
        click.echo(f"authserver serve: {exc}", err=True)
        sys.exit(2)
    if options.app == DEFAULT_APP:
        # The workers create the app; a configuration error would only show there, once per worker.
        try:
            Settings.load()
        except ConfigError as exc:
            click.echo(f"authserver serve: configuration error: {exc}", err=True)
            sys.exit(2)
    from authserver.serving.supervisor import run

    click.echo(
        f"authserver serve: {options.bind}, {options.workers} workers x {options.threads} threads, "
        f"keep-alive {'on' if options.keep_alive else 'off'}, graceful timeout {options.graceful_timeout} s; "
        f"admin {options.admin_bind or 'off'}, management {options.management_bind or 'off'}, "
        f"drain {options.drain_seconds} s",
        err=True,
    )
    sys.exit(run(options))
