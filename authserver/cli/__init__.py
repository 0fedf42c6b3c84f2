"""``authserver <plural noun> <verb>``: the command groups every app registers (the console script is
:mod:`authserver.cli.console`)."""

from __future__ import annotations

from flask import Flask

from authserver.cli import admin
from authserver.cli import clients
from authserver.cli import demo
from authserver.cli import keys
from authserver.cli import tokens
from authserver.cli import users


def register_commands(app: Flask) -> None:
    for group in (users.group, clients.group, keys.group, tokens.group, demo.group, admin.group):
        if group.name not in app.cli.commands:
            app.cli.add_command(group)
