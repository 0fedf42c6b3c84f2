"""The errors of the administrative functions (users, clients, tokens) behind the CLI and the admin API.

::

    AdminError            a request that cannot be done (the admin API: 400 invalid_request)
    ├── NotFoundError     the user, client or family named does not exist (404 not_found)
    └── ConflictError     it exists already, or the state forbids it (409 conflict)
"""

from __future__ import annotations


class AdminError(Exception):
    """An administrative request that cannot be done; the message says why and is shown to the operator."""


class NotFoundError(AdminError):
    """The user, client or family the request names does not exist."""


class ConflictError(AdminError):
    """What the request would create exists already (a client id, a username, an origin of another client)."""
