"""``authserver demo seed`` and ``authserver demo run``: the README's story, set up and walked through.

``demo run`` is an HTTP client of a running server and resource service (it touches no database):
log in, call the resource, let the access token expire, refresh, log in again, log out. It exits
non-zero as soon as one step does not answer as expected.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from typing import TextIO

import click
from flask.cli import AppGroup

from authserver.admin import clients
from authserver.admin import users
from authserver.admin.errors import AdminError
from authserver.cli.output import json_option
from authserver.cli.output import show
from authserver.settings import current_settings
from authserver.settings import load_values

DEMO_USER = "demo"
DEMO_CLIENT = "demo-app"
#: The public first-party client the article's samples log in through: the login default (they name no client).
ARTICLE_CLIENT = "demo-spa"
#: Where `make browser-app` serves examples/browser_app: registered for demo-spa (cookie mode, CORS).
BROWSER_APP_ORIGIN = "http://127.0.0.1:8002"
#: The confidential third-party client of examples/third_party_app (`make third-party-app`, :8003): not
#: first-party, so its users see the consent page.
THIRD_PARTY_CLIENT = "demo-third-party"
THIRD_PARTY_APP_URL = "http://127.0.0.1:8003"
THIRD_PARTY_SCOPES = ["openid", "profile", "email", "read"]
#: The demo user's OpenID Connect profile, shown by the third-party app (userinfo).
DEMO_NAME, DEMO_EMAIL = "Demo User", "demo@example.test"
#: Access-token lifetime of `demo seed --short-ttl`: long enough to use, short enough to watch expire.
SHORT_TTL = 5


@click.group("demo", cls=AppGroup)
def group() -> None:
    """Demo set-up for local development (refused in production)."""


def _development_only(env: str) -> None:
    """Demo commands create a user and a client with printed credentials: never outside development."""
    if env != "development":
        raise click.ClickException(
            f"demo commands run only in development, and AUTHSERVER_ENV is {env!r}; nothing was changed"
        )


@group.command("seed")
@click.option("--short-ttl", is_flag=True, help=f"Give demo-app {SHORT_TTL}-second access tokens (for `demo run`).")
@json_option
def seed(short_ttl: bool, as_json: bool) -> None:
    """Create (or reset) user `demo` and client `demo-app`, printing fresh credentials; and the article's
    user `user` / `pass` with the public login-default client `demo-spa` (the article's samples run as is),
    registered for the browser app's origin (`make browser-app`)."""
    _development_only(current_settings().env)
    password = secrets.token_urlsafe(12)
    try:
        users.set_password(DEMO_USER, password)
    except AdminError:
        users.create_user(DEMO_USER, password)
    ttl = SHORT_TTL if short_ttl else None
    if DEMO_CLIENT not in {client.client_id for client in clients.list_clients()}:
        _client, secret = clients.create_client(
            name="Demo app",
            client_id=DEMO_CLIENT,
            grant_types=["password", "refresh_token"],
            scopes=["read", "write"],
            first_party=True,
            access_token_ttl=ttl,
        )
    else:
        clients.set_access_token_ttl(DEMO_CLIENT, ttl)  # reset on every seed: a plain `demo seed` gets the default
        _client, secret = clients.rotate_secret(DEMO_CLIENT)
    _seed_article()
    third_party_secret = _seed_third_party()
    data = {
        "username": DEMO_USER,
        "password": password,
        "client_id": DEMO_CLIENT,
        "client_secret": secret,
        "article_username": users.ARTICLE_USERNAME,
        "article_password": users.ARTICLE_PASSWORD,
        "article_client_id": ARTICLE_CLIENT,
        "third_party_client_id": THIRD_PARTY_CLIENT,
        "third_party_app": THIRD_PARTY_APP_URL,
    }
    if third_party_secret is not None:
        data["third_party_client_secret"] = third_party_secret
    text = "\n".join(f"  {k}: {v}" for k, v in data.items())
    steps = (
        f"the third-party app (authorization code flow, OpenID Connect): `make third-party-app`, then open "
        f"{THIRD_PARTY_APP_URL}, sign in as {DEMO_USER} with the password above and allow"
    )
    show(data, as_json, f"demo credentials (development only):\n{text}\n{steps}")


def _seed_third_party() -> str | None:
    """The demo user's profile, and demo-third-party with its redirect URIs: its secret when it is created
    now (an existing one keeps its secret, so a running `make third-party-app` survives `make run` restarts;
    `demo third-party-secret` gives it a new one)."""
    users.update_profile(DEMO_USER, name=DEMO_NAME, email=DEMO_EMAIL, email_verified=True)
    callback, home = f"{THIRD_PARTY_APP_URL}/callback", f"{THIRD_PARTY_APP_URL}/"
    if THIRD_PARTY_CLIENT not in {client.client_id for client in clients.list_clients()}:
        _client, secret = clients.create_client(
            name="Demo third-party app",
            client_id=THIRD_PARTY_CLIENT,
            grant_types=["authorization_code", "refresh_token"],
            scopes=THIRD_PARTY_SCOPES,
            redirect_uris=(callback,),
            post_logout_redirect_uris=(home,),
        )
        return secret
    registered = clients.registration(THIRD_PARTY_CLIENT)
    if callback not in registered.redirect_uris:
        clients.add_redirect_uri(THIRD_PARTY_CLIENT, callback)
    if home not in registered.post_logout_redirect_uris:
        clients.add_redirect_uri(THIRD_PARTY_CLIENT, home, post_logout=True)
    return None


def _seed_article() -> None:
    """The article's user, and the public client its samples use without naming it: the login default of the
    JSON API (made so again on every seed, like the demo's other resets)."""
    users.seed_article_user()
    if ARTICLE_CLIENT not in {client.client_id for client in clients.list_clients()}:
        clients.create_client(
            name="Demo single-page app (the article's samples)",
            client_id=ARTICLE_CLIENT,
            grant_types=["password", "refresh_token"],
            scopes=["read", "write"],
            public=True,
            first_party=True,
        )
    clients.set_login_default(ARTICLE_CLIENT)
    if BROWSER_APP_ORIGIN not in clients.registration(ARTICLE_CLIENT).origins:
        with contextlib.suppress(AdminError):  # a client of the developer's own has it: it stays theirs
            clients.add_origin(ARTICLE_CLIENT, BROWSER_APP_ORIGIN)


@group.command("third-party-secret")
def third_party_secret() -> None:
    """Give demo-third-party (examples/third_party_app) a fresh secret and print it alone, for
    `make third-party-app`."""
    _development_only(current_settings().env)
    try:
        _client, secret = clients.rotate_secret(THIRD_PARTY_CLIENT)
    except AdminError:
        raise click.ClickException(
            f"{THIRD_PARTY_CLIENT} is not registered: `make run` (or `authserver demo seed`) registers it"
        ) from None
    click.echo(secret)


# ---------------------------------------------------------------- demo run


class StoryError(click.ClickException):
    """A step answered differently from the story: exit code 1."""


def _http(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    bearer: str | None = None,
    basic: tuple[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if basic:
        raw = ":".join(urllib.parse.quote_plus(part) for part in basic)  # RFC 6749 §2.3.1
        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
    body = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - our URLs
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            status, reply_headers, raw_body = reply.status, dict(reply.headers.items()), reply.read()
    except urllib.error.HTTPError as exc:
        status, reply_headers, raw_body = exc.code, dict(exc.headers.items()), exc.read()
    except OSError as exc:
        raise StoryError(f"{method} {url}: {exc}") from None
    try:
        return status, reply_headers, json.loads(raw_body) if raw_body else None
    except ValueError:
        return status, reply_headers, raw_body.decode(errors="replace")[:200]


def _claims(token: str) -> dict[str, Any]:
    """The payload, unverified: the demo only reads ``exp`` to know how long to wait."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Story:
    """Numbered steps, each a request and the status it must answer."""

    def __init__(self, issuer: str, resource: str, client: tuple[str, str], user: tuple[str, str]) -> None:
        self.issuer, self.resource, self.client, self.user = issuer.rstrip("/"), resource.rstrip("/"), client, user
        self.number = 0

    def expect(self, title: str, status: int, reply: tuple[int, dict[str, str], Any], error: str | None = None) -> Any:
        self.number += 1
        got, headers, body = reply
        got_error = body.get("error") if isinstance(body, dict) else None
        ok = got == status and (error is None or got_error == error)
        detail = headers.get("WWW-Authenticate") or (got_error if got >= 400 else "")
        click.echo(f"{self.number:>2}. {title:<58} {got} {detail or ''}".rstrip())
        if not ok:
            raise StoryError(
                f"step {self.number} ({title}): expected {status}{' ' + error if error else ''}, "
                f"got {got}: {json.dumps(body)[:300]}"
            )
        return body

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        return _http("POST", f"{self.issuer}/oauth/token", form=form, basic=self.client)

    def login(self, title: str) -> dict[str, Any]:
        username, password = self.user
        return self.expect(
            title, 200, self.token({"grant_type": "password", "username": username, "password": password})
        )

    def refresh(self, title: str, refresh_token: str, status: int = 200, error: str | None = None) -> Any:
        return self.expect(
            title, status, self.token({"grant_type": "refresh_token", "refresh_token": refresh_token}), error
        )

    def call(self, title: str, path: str, access_token: str, status: int, error: str | None = None) -> Any:
        return self.expect(title, status, _http("GET", f"{self.resource}{path}", bearer=access_token), error)

    def await_expiry(self, access_token: str, max_wait: float) -> None:
        exp = _claims(access_token)["exp"]
        click.echo(f"    … waiting {max(0, exp - time.time()):.0f} s for the access token to expire (exp={exp})")
        time.sleep(max(0.0, exp - time.time()))
        deadline = exp + max_wait  # the resource service may allow a few seconds of clock-skew leeway
        while time.time() < deadline:
            status, _h, _b = _http("GET", f"{self.resource}/user/data", bearer=access_token)
            if status == 401:
                break
            time.sleep(0.5)
        late = time.time() - exp
        self.call(
            f"GET /user/data with the expired token ({late:.1f} s after exp)",
            "/user/data",
            access_token,
            401,
            "invalid_token",
        )

    def walk(self, max_wait: float) -> None:
        first = self.login("log in (password grant)")
        sub = self.call("GET /user/data with the access token", "/user/data", first["access_token"], 200)["sub"]
        click.echo(f"    sub={sub} scope={first.get('scope')!r} expires_in={first.get('expires_in')} s")
        self.call(
            "GET /user/admin (needs scope admin)", "/user/admin", first["access_token"], 403, "insufficient_scope"
        )
        self.await_expiry(first["access_token"], max_wait)
        refreshed = self.refresh("refresh (refresh_token grant): a new pair", first["refresh_token"])
        self.call("GET /user/data with the new access token", "/user/data", refreshed["access_token"], 200)
        second = self.login("log in again: a second, independent session")
        again = self.refresh("the first session still refreshes", refreshed["refresh_token"])
        self.expect(
            "log out the second session (POST /oauth/revoke)",
            200,
            _http(
                "POST",
                f"{self.issuer}/oauth/revoke",
                basic=self.client,
                form={"token": second["refresh_token"], "token_type_hint": "refresh_token"},
            ),
        )
        self.refresh("refresh with the revoked refresh token", second["refresh_token"], 400, "invalid_grant")
        self.refresh("the first session is untouched by that log-out", again["refresh_token"])


def _credentials(source: TextIO | None, **given: str | None) -> dict[str, str]:
    data: dict[str, Any] = json.load(source) if source is not None else {}
    merged = {**data, **{k: v for k, v in given.items() if v}}
    missing = [k for k in ("client_id", "client_secret", "username", "password") if not merged.get(k)]
    if missing:
        raise click.UsageError(
            f"missing {', '.join(missing)}: pass --credentials (from `demo seed --json`) or the options"
        )
    return merged


@group.command("run", with_appcontext=False)
@click.option("--issuer", default="http://127.0.0.1:8000", show_default=True, help="The authorization server.")
@click.option("--resource", default="http://127.0.0.1:8001", show_default=True, help="The example resource service.")
@click.option("--credentials", type=click.File("r"), default=None, help="JSON of `demo seed --json` (- for stdin).")
@click.option("--client-id", default=None)
@click.option("--client-secret", default=None)
@click.option("--username", default=None)
@click.option("--password", default=None)
@click.option(
    "--max-wait",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds after exp to wait for the resource service to refuse the token (its leeway).",
)
def run(
    issuer: str,
    resource: str,
    credentials: TextIO | None,
    client_id: str | None,
    client_secret: str | None,
    username: str | None,
    password: str | None,
    max_wait: float,
) -> None:
    """Walk the story against a running server and resource service; exit 1 if a step misbehaves."""
    _development_only(load_values()["ENV"])  # an HTTP client, needing no app: the environment decides
    creds = _credentials(
        credentials, client_id=client_id, client_secret=client_secret, username=username, password=password
    )
    story = Story(
        issuer, resource, (creds["client_id"], creds["client_secret"]), (creds["username"], creds["password"])
    )
    story.walk(max_wait)
    click.echo(f"demo: all {story.number} steps behaved as expected")
