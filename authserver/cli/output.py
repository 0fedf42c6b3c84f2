"""Printing CLI results as text or ``--json``."""

from __future__ import annotations

import json
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")

#: For commands whose argument is an identifier we did not choose the alphabet of: a kid (RFC 7638
#: thumbprint), a client_id or a username may begin with "-" (a base64url kid does one time in 64),
#: and click would take it for an option ("No such option"). Unknown option-like words become the
#: argument instead; a mistyped option still fails, as an unexpected extra argument.
DASHED_ARGUMENT = {"ignore_unknown_options": True}


def show(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)
