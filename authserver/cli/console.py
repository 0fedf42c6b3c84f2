"""The ``authserver`` console script: the Flask CLI bound to the app factory.

``authserver db upgrade`` migrates; ``authserver <plural noun> <verb>`` administers; ``authserver serve``
runs the production server (:mod:`authserver.cli.serve`).
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from authserver.app import create_app
from authserver.cli.serve import serve
from authserver.keys.keystore import KeystoreError
from authserver.settings import ConfigError


def _create_app() -> Flask:
    try:
        return create_app({"KEYS_REQUIRED": False, "MIGRATIONS": True})
    except (ConfigError, KeystoreError) as exc:
        click.echo(f"authserver: configuration error: {exc}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def main() -> None:
    """authserver: OAuth 2.0 authorization server administration, and `authserver serve`."""


# Not an app command: the serving process never creates the app itself (its workers do, after the fork).
main.add_command(serve)

if __name__ == "__main__":
    main()
