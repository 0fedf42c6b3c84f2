"""The CLI against the admin API: ``--endpoint URL`` and ``--token TOKEN`` on a command group (or
``AUTHSERVER_ADMIN_URL`` and ``AUTHSERVER_ADMIN_TOKEN``) send a command to the admin listener instead of
running it on the database (docs/admin-api.md "The CLI against the API").

A command that runs both ways calls :func:`either` with what it does locally (a domain function, in the app
context, created only then) and what it does remotely (requests through :class:`AdminApi`); both give the
same records, so the output is the same. A refusal of the API is the command's error: exit 1 with its
``error_description``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import click
from flask.cli import ScriptInfo

T = TypeVar("T")
_META = "authserver.admin_api"
TIMEOUT_SECONDS = 30


class AdminApi:
    """A small HTTP client of the admin API: JSON in, JSON out, the bearer token on every request."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url.rstrip("/"), token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """The answer's JSON (``None`` for 204) and headers; :class:`click.ClickException` for a refusal."""
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        all_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 - operator's URL
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as reply:  # noqa: S310
                raw, reply_headers = reply.read(), dict(reply.headers.items())
        except urllib.error.HTTPError as exc:
            raise click.ClickException(_refusal(exc.code, exc.read())) from None
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"admin API at {self.url}: {exc}") from None
        return (json.loads(raw) if raw else None), reply_headers

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)[0]

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)[0]

    def change(self, method: str, path: str, body: Any = None) -> Any:
        """An update (``PATCH``, ``DELETE``) of the version read just now: the read's ETag as ``If-Match``."""
        _current, headers = self.request("GET", path)
        etag = {k.lower(): v for k, v in headers.items()}.get("etag", "")
        return self.request(method, path, body, headers={"If-Match": etag})[0]

    def items(self, path: str) -> list[Any]:
        """Every item of a paged listing, following ``next_cursor``."""
        found: list[Any] = []
        query: dict[str, str] = {"limit": "200"}
        while True:
            page = self.get(path, **query)
            found += page["items"]
            if not page.get("next_cursor"):
                return found
            query = {"limit": "200", "cursor": page["next_cursor"]}


def _refusal(status: int, raw: bytes) -> str:
    try:
        body = json.loads(raw)
        return f"{body['error_description']} ({status} {body['error']})"
    except (ValueError, KeyError, TypeError):
        return f"the admin API answered {status}"


def endpoint_options(remote_commands: frozenset[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--endpoint``/``--token`` for a group whose ``remote_commands`` can run against the admin API."""

    def decorate(callback: Callable[..., Any]) -> Callable[..., Any]:
        def group_callback(endpoint: str | None, token: str | None, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            if endpoint:
                if not token:
                    raise click.UsageError("--endpoint needs --token (or AUTHSERVER_ADMIN_TOKEN)")
                if ctx.invoked_subcommand not in remote_commands:
                    raise click.UsageError(
                        f"{ctx.info_name} {ctx.invoked_subcommand} runs on the database only; "
                        f"against the admin API: {', '.join(sorted(remote_commands))}"
                    )
                ctx.meta[_META] = AdminApi(endpoint, token)
            return callback(**kwargs)

        group_callback.__doc__ = callback.__doc__
        group_callback.__name__ = callback.__name__
        options = [
            click.option(
                "--endpoint",
                envvar="AUTHSERVER_ADMIN_URL",
                default=None,
                help="The admin API's URL: run the command there instead of on the database (AUTHSERVER_ADMIN_URL).",
            ),
            click.option(
                "--token",
                envvar="AUTHSERVER_ADMIN_TOKEN",
                default=None,
                help="An admin client's access token for --endpoint (AUTHSERVER_ADMIN_TOKEN).",
            ),
        ]
        wrapped: Callable[..., Any] = group_callback
        for option in options:
            wrapped = option(wrapped)
        return wrapped

    return decorate


def either(local: Callable[[], T], remote: Callable[[AdminApi], T]) -> T:
    """``remote(api)`` when the group was given an endpoint, else ``local()`` in the app's context."""
    ctx = click.get_current_context()
    api = ctx.meta.get(_META)
    if api is not None:
        return remote(api)
    app = ctx.ensure_object(ScriptInfo).load_app()
    with app.app_context():
        return local()
