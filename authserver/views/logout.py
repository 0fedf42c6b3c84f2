"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at ``/oauth/logout``, ``GET`` and ``POST``.

The request names its client by ``id_token_hint`` (an ID token we issued, expired or not) and/or ``client_id``
(which must agree); ``post_logout_redirect_uri`` must be one the client registered, exactly (§3), and is
honoured only with a client; ``state`` goes back with it. A request that breaks any of these is shown an
error page and nothing is ended or redirected to.

Signing out ends the login session and the refresh-token families issued under it (their access tokens then
read inactive at introspection and userinfo): the browser's session (its cookie), and the session named by
the hint's ``sid``. Forced logout (§6: a site sending the browser here) is stopped by asking: the browser's
session ends at once only when the hint shows it is the same user's; otherwise (no hint, or another user's)
a page asks **Sign out?** and the answer is a POST carrying a CSRF token.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import request

from authserver import clock
from authserver.oauth import families
from authserver.oauth.id_token_hint import Hint
from authserver.oauth.id_token_hint import verified_hint
from authserver.store import current_stores
from authserver.store.clients import ClientInfo
from authserver.store.login_sessions import LoginSessionInfo
from authserver.store.transaction import run_with_retry
from authserver.telemetry import emit
from authserver.views import login_cookies
from authserver.views import pages

bp = Blueprint("logout", __name__, url_prefix="/oauth")

#: The parameters of §2 we act on, carried through the confirmation form.
FIELDS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
MAX_PARAMETER_CHARS = 8192


class Refused(Exception):
    """The logout request is not valid: shown an error page, never redirected (§3)."""


@dataclass(frozen=True)
class LogoutRequest:
    hint: Hint | None
    client: ClientInfo | None
    redirect_uri: str | None
    state: str | None
    fields: list[tuple[str, str]]

    def speaks_for(self, session: LoginSessionInfo) -> bool:
        """The hint shows the RP signed in the browser's user: no need to ask (§2, §6)."""
        return self.hint is not None and self.hint.sub == session.user_id


def parse(params: Mapping[str, str], repeated: bool) -> LogoutRequest:
    if repeated:
        raise Refused("a parameter is repeated")
    fields = [(name, params[name]) for name in FIELDS if params.get(name)]
    if any(len(value) > MAX_PARAMETER_CHARS or "\x00" in value for _, value in fields):
        raise Refused("a parameter is too long or has a NUL")
    values = dict(fields)
    hint = None
    if "id_token_hint" in values:
        hint = verified_hint(values["id_token_hint"])
        if hint is None:
            raise Refused("id_token_hint is not an ID token of ours")
    client_id = values.get("client_id")
    if client_id is not None and hint is not None and client_id != hint.client_id:
        raise Refused("client_id is not the id_token_hint's audience")
    client_id = client_id or (hint.client_id if hint else None)
    client = current_stores().clients.get(client_id) if client_id else None
    if client_id is not None and client is None and "client_id" in values:
        raise Refused("unknown client_id")
    redirect_uri = values.get("post_logout_redirect_uri")
    if redirect_uri is not None:
        if client is None:
            raise Refused("post_logout_redirect_uri without a client (client_id or id_token_hint)")
        if redirect_uri not in client.post_logout_redirect_uris:  # exact string match (§3)
            raise Refused("post_logout_redirect_uri is not registered for the client")
    return LogoutRequest(hint, client, redirect_uri, values.get("state"), fields)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    params = request.form if request.method == "POST" else request.args
    try:
        req = parse(params.to_dict(), any(len(v) > 1 for v in params.listvalues()))
    except Refused as refused:
        emit("logout.refused", detail=str(refused))
        return pages.message(
            "This sign-out link is not valid",
            "The application sent a sign-out request this server cannot accept, so you are still signed in "
            "and nothing was sent back to it. Return to the application and try again.",
            400,
        )
    now = clock.now()
    browser = _browser_session(now)
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes" and login_cookies.csrf_ok()
    if browser is not None and not confirmed and not req.speaks_for(browser):
        return login_cookies.keep_csrf_cookie(_confirmation(req, browser))
    sessions = {s for s in (browser.id if browser else None, req.hint.session_id if req.hint else None) if s}
    end_login_sessions(sessions, now, req.client.client_id if req.client else None)
    response = _redirect(req) if req.redirect_uri is not None else _signed_out()
    login_cookies.clear_session_cookie(response)
    return response


def end_login_sessions(session_ids: Iterable[str], now: int, client_id: str | None) -> int:
    """End each login session (the login-session store) and revoke the families issued under it; how many
    refresh tokens were revoked. The one place logout writes."""
    stores, revoked = current_stores(), 0
    for session_id in sorted(session_ids):
        count = run_with_retry(functools.partial(families.revoke_session_families, session_id, now))
        ended = stores.login_sessions.end(session_id, now)
        emit("login_session.ended", session_id=session_id, client_id=client_id, families=count, ended=ended)
        revoked += count
    return revoked


def _browser_session(now: int) -> LoginSessionInfo | None:
    token = login_cookies.session_token()
    return current_stores().login_sessions.find(token, now) if token and len(token) <= 128 else None


def _confirmation(req: LogoutRequest, browser: LoginSessionInfo) -> Response:
    return pages.page(
        "logout.html",
        redirect_uri=req.redirect_uri,
        username=browser.username,
        client_name=(req.client.name or req.client.client_id) if req.client else None,
        request_fields=req.fields,
        csrf_token=login_cookies.csrf_token(),
        action=request.path,
    )


def _signed_out() -> Response:
    return pages.message("Signed out", "You have signed out of this server.", 200)


def _redirect(req: LogoutRequest) -> Response:
    """Back to the registered post-logout URI, ``state`` added to its own query (§3)."""
    assert req.redirect_uri is not None
    parts = urlsplit(req.redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if req.state is not None:
        query.append(("state", req.state))
    response = Response(status=303 if request.method == "POST" else 302)
    response.headers["Location"] = parts._replace(query=urlencode(query)).geturl()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
