"""The one error of the administrative functions (users, clients) behind the CLI."""

from __future__ import annotations


class AdminError(Exception):
    """An administrative request that cannot be done; the message says why and is shown to the operator."""
