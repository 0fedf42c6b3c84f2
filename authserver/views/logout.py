"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at ``/oauth/logout``, ``GET`` and ``POST``: the
browser side of :mod:`authserver.oauth.logout`. An invalid request is shown an error page and nothing is
ended or redirected to.

Signing out ends the login session and the refresh-token families issued under it (their access tokens then
read inactive at introspection and userinfo): the browser's session (its cookie), and the session named by
the hint's ``sid``. Forced logout (§6: a site sending the browser here) is stopped by asking: the browser's
session ends at once only when the hint shows it is the same user's; otherwise (no hint, or another user's)
a page asks **Sign out?** and the answer is a POST carrying a CSRF token.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import request

from authserver import clock
from authserver.oauth.logout import LogoutRequest
from authserver.oauth.logout import Refused
from authserver.oauth.logout import end_login_sessions
from authserver.oauth.logout import parse
from authserver.store import current_stores
from authserver.store.login_sessions import LoginSessionInfo
from authserver.telemetry import emit
from authserver.views import login_cookies
from authserver.views import pages

bp = Blueprint("logout", __name__, url_prefix="/oauth")


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
