"""The admin API's operations: each route with the scope it needs, the audit event it is, and what the OpenAPI
description says of it (:mod:`authserver.admin_api.openapi` is built from :data:`OPERATIONS`, so the two cannot
drift apart).

Every call is one audit event ``admin.<action>`` (:func:`audit`), whatever its outcome: the admin client (when
the token named one), the method and path, the status, the resource's identifiers and ``outcome`` (``done``,
``refused`` or ``failed``). Never a secret, a password or a token.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from authserver.admin_api.authentication import Caller
from authserver.admin_api.authentication import caller_of
from authserver.admin_api.authentication import require
from authserver.telemetry import emit

bp = Blueprint("admin_api", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI description shows it."""

    method: str
    path: str
    action: str
    scope: str | None
    summary: str
    status: int = 200
    request: str | None = None
    response: str | None = None
    #: ``"required"`` (an update: 428 without it), ``"optional"`` (an action: checked when sent), or ``None``.
    if_match: str | None = None
    paginated: bool = False
    query: tuple[tuple[str, str, str], ...] = ()
    errors: tuple[int, ...] = field(default=(400,))


OPERATIONS: list[Operation] = []


def _openapi_path(rule: str) -> str:
    return "/admin" + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def operation(
    rule: str,
    method: str,
    *,
    action: str,
    scope: str | None,
    summary: str,
    **described: Any,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Route ``method rule`` to the view, authenticated for ``scope`` and audited as ``admin.<action>``."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        OPERATIONS.append(Operation(method, _openapi_path(rule), action, scope, summary, **described))

        @functools.wraps(view)
        def guarded(**kwargs: Any) -> Response:
            g.admin_action, g.admin_target = action, dict(kwargs)
            caller = caller_of(request.headers.get("Authorization"))
            g.admin_client, g.admin_caller = caller.client_id, caller
            if scope is not None:
                require(caller, scope)
            return view(**kwargs)

        bp.add_url_rule(rule, endpoint=f"{view.__name__}_{method.lower()}", view_func=guarded, methods=[method])
        return view

    return decorate


def current_caller() -> Caller:
    """The admin client of the current call (authenticated before the view runs)."""
    return g.admin_caller


def note(**details: Any) -> None:
    """Add identifiers or figures to this call's audit event (never a secret)."""
    g.admin_target = {**getattr(g, "admin_target", {}), **details}


def audit(response: Response) -> Response:
    """Emit the call's audit event (an after-request hook: it runs for refusals too)."""
    action = getattr(g, "admin_action", None)
    if action is None:
        return response
    status = response.status_code
    outcome = "done" if status < 400 else ("refused" if status < 500 else "failed")
    emit(
        f"admin.{action}",
        admin_client=getattr(g, "admin_client", None),
        method=request.method,
        path=request.path,
        status=status,
        outcome=outcome,
        **getattr(g, "admin_target", {}),
    )
    return response
