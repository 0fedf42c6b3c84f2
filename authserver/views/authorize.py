"""The authorization endpoint (RFC 6749 §3.1, §4.1; OpenID Connect Core §3.1.2): ``GET|POST /oauth/authorize``.

Every request, the forms' POSTs included, is validated again from its parameters by the grant
(:class:`~authserver.oauth.grants.authorization_code.AuthorizationCodeGrant`): the login and consent forms carry
the authorization request in hidden fields, and nothing in them is trusted. Then, in order:

1. the login session (its cookie), or the login page; ``prompt=login`` and ``max_age`` ask for a sign-in
   again, which a sign-in in this very interaction satisfies (the form says when, and it must be the
   session's own sign-in, within :data:`FRESH_SECONDS`);
2. for a client that is not first-party, the user's remembered consent, or the consent page;
3. the code, redirected (``302``; ``303`` after a POST) with ``state`` and ``iss``.

``prompt=none`` answers ``login_required`` or ``consent_required`` instead of a page. An unknown client or a
redirect URI that does not match is a page (``400``), never a redirect; every other error is redirected.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint
from flask import Response
from flask import request

from authserver import clock
from authserver.errors import DESCRIPTIONS
from authserver.errors import AccessDeniedError
from authserver.errors import ConsentRequiredError
from authserver.errors import InvalidGrantError
from authserver.errors import LoginRequiredError
from authserver.errors import TooManyRequestsError
from authserver.oauth.codes import redirect_location
from authserver.oauth.grants.authorization_code import AuthorizationCodeGrant
from authserver.oauth.issued import LOGIN_PAGE
from authserver.oauth.login import verify_login
from authserver.oauth.scope import parse_scope
from authserver.oauth.server import current_authorization_server
from authserver.store import current_stores
from authserver.store.login_sessions import LoginSessionInfo
from authserver.telemetry import emit
from authserver.views import login_cookies
from authserver.views import pages

bp = Blueprint("authorize", __name__, url_prefix="/oauth")

#: A sign-in on the login page counts as fresh for prompt=login and max_age this long (the consent page in between).
FRESH_SECONDS = 600
#: The authorization request's parameters the forms carry (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1).
REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
)
GENERIC_LOGIN_ERROR = "Wrong username or password."


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    form_action = request.form.get("action") if request.method == "POST" else None
    if form_action is not None and not login_cookies.csrf_ok():
        emit("authorization.csrf_refused", action=form_action[:20])
        return pages.message("This page has expired", "Go back to the application and start signing in again.", 403)
    try:
        grant = current_authorization_server().get_consent_grant(request)
    except OAuth2Error as error:
        return _error(error)
    interaction = Interaction(grant, form_action)
    try:
        response = interaction.run()
    except OAuth2Error as error:
        error.redirect_uri, error.state = grant.redirect_uri, grant.request.payload.state
        response = _error(error)
    return login_cookies.keep_csrf_cookie(interaction.session_cookie(response))


def _error(error: OAuth2Error) -> Response:
    """RFC 6749 §4.1.2.1: redirect with the error when the redirect URI is known good, else a page."""
    code = error.error if error.error in DESCRIPTIONS else "invalid_request"
    detail = getattr(error, "detail", "") or error.description
    emit("authorization.refused", error=code, detail=str(detail)[:200], redirected=error.redirect_uri is not None)
    if error.redirect_uri is None:
        return pages.message(
            "This sign-in link is not valid",
            "The application sent an unknown client or a redirect address it has not registered. "
            "Nothing was sent back to it. Return to the application and try again.",
            400,
        )
    params = {"error": code, "error_description": DESCRIPTIONS[code], "state": error.state}
    return _redirect(redirect_location(error.redirect_uri, params))


def _redirect(location: str) -> Response:
    response = Response(status=303 if request.method == "POST" else 302)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class Interaction:
    """One authorization request's way through the login session, the login page and the consent page."""

    def __init__(self, grant: AuthorizationCodeGrant, form_action: str | None) -> None:
        self.grant = grant
        self.request = grant.request
        self.client = grant.request.client
        self.form_action = form_action
        self.now = clock.now()
        self.new_session: tuple[str, int] | None = None  # (cookie token, max age) of a sign-in just now
        self.stale_cookie = False  # the browser sent a session cookie of no live session

    def run(self) -> Response:
        session, fresh = self._session()
        prompts = self.request.prompts
        if isinstance(session, Response):
            return session
        if session is None or (not fresh and self._login_again(session)):
            if "none" in prompts:
                raise LoginRequiredError("prompt=none without a login session that satisfies the request")
            return self._login_page()
        if not self.client.first_party:
            answer = self._consent(session, fresh)
            if answer is not None:
                return answer
        status, _body, headers = self.grant.create_authorization_response(self.grant.redirect_uri, session)
        del status, _body
        return _redirect(dict(headers)["Location"])

    # ---------------------------------------------------------------- the login session

    def _session(self) -> tuple[LoginSessionInfo | Response | None, bool]:
        sessions = current_stores().login_sessions
        token = login_cookies.session_token()
        session = sessions.find(token, self.now) if token and len(token) <= 128 else None
        self.stale_cookie = token is not None and session is None
        if self.form_action == "login":
            return self._sign_in(session), True
        fresh = (
            self.form_action == "consent"
            and session is not None
            and request.form.get("login_fresh") == str(session.auth_time)
            and self.now - session.auth_time <= FRESH_SECONDS
        )
        return session, fresh

    def _login_again(self, session: LoginSessionInfo) -> bool:
        max_age = self.request.max_age
        return "login" in self.request.prompts or (max_age is not None and self.now - session.auth_time > max_age)

    def _sign_in(self, previous: LoginSessionInfo | None) -> LoginSessionInfo | Response:
        username, password = request.form.get("username", ""), request.form.get("password", "")
        if not username or not password:
            return self._login_page(error="Enter your username and password.", username=username)
        try:
            login = verify_login(self.client, username, password, request.remote_addr or "unknown", LOGIN_PAGE)
        except TooManyRequestsError as error:
            response = pages.message("Too many attempts", "Too many failed sign-ins. Wait, then try again.", 429)
            response.headers["Retry-After"] = str(max(1, error.retry_after or 1))
            return response
        except InvalidGrantError:  # wrong password, unknown, disabled or locked: one message
            return self._login_page(error=GENERIC_LOGIN_ERROR, username=username)
        sessions = current_stores().login_sessions
        if previous is not None:  # a new sign-in replaces the browser's session: no fixation
            sessions.end(previous.id, self.now)
        session_id, token = sessions.start(login.id, self.now)
        emit("login_session.started", user_id=login.id, session_id=session_id, client_id=self.client.client_id)
        session = sessions.find(token, self.now)
        assert session is not None
        self.new_session = (token, session.expires_at - self.now)
        return session

    def session_cookie(self, response: Response) -> Response:
        """The cookie of a sign-in just now (whatever the answer), or the end of a stale one."""
        if self.new_session is not None:
            login_cookies.set_session_cookie(response, *self.new_session)
        elif self.stale_cookie:
            login_cookies.clear_session_cookie(response)
        return response

    # ---------------------------------------------------------------- the consent

    def _consent(self, session: LoginSessionInfo, fresh: bool) -> Response | None:
        """The consent page, ``None`` when the user consented (remembered, or just now), or an error."""
        consents, scopes = current_stores().consents, self.request.scope.split()
        if self.form_action == "consent":
            if request.form.get("decision") != "allow":
                emit("consent.denied", user_id=session.user_id, client_id=self.client.client_id)
                raise AccessDeniedError("the user denied the request")
            consents.grant(session.user_id, self.client.client_id, scopes, self.now)
            emit("consent.granted", user_id=session.user_id, client_id=self.client.client_id)
            return None
        if "consent" not in self.request.prompts and consents.covers(session.user_id, self.client.client_id, scopes):
            return None
        if "none" in self.request.prompts:
            raise ConsentRequiredError("prompt=none and no remembered consent")
        return pages.page(
            "consent.html",
            redirect_uri=self.grant.redirect_uri,
            client_name=self.client.name or self.client.client_id,
            username=session.username,
            scope_lines=pages.scope_lines(self.client, parse_scope(self.request.scope) or []),
            login_fresh=str(session.auth_time) if fresh or self.new_session else None,
            **self._form(),
        )

    # ---------------------------------------------------------------- the pages

    def _form(self) -> dict[str, Any]:
        data = self.request.payload.data
        fields = [(name, data[name]) for name in REQUEST_FIELDS if name in data]
        return {"request_fields": fields, "csrf_token": login_cookies.csrf_token(), "action": request.path}

    def _login_page(self, error: str | None = None, username: str | None = None) -> Response:
        hint = self.request.payload.data.get("login_hint", "")
        return pages.page(
            "login.html",
            redirect_uri=self.grant.redirect_uri,
            client_name=self.client.name or self.client.client_id,
            error=error,
            username=username if username is not None else hint[:200],
            **self._form(),
        )
