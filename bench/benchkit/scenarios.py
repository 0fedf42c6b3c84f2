"""The scenario table. Adding a scenario = one Lua script in bench/scenarios/ + one entry here.

Each entry says when the server supports it (checked against the live metadata document, so a
scenario starts running the day the server grows the feature), how many fresh refresh tokens one
wrk invocation needs, and how to prepare one wrk invocation (URL path and environment for Lua).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from urllib.parse import urlparse

import requests

from benchkit.server import Credentials
from benchkit.server import Deployment

NOT_YET = "not implemented in the server yet"


@dataclass
class Context:
    """What scenario hooks may use: the deployment, credentials, metadata and the token supply."""

    deployment: Deployment
    creds: Credentials
    metadata: dict
    run_dir: Path
    tokens: list[str] = field(default_factory=list)  # pre-minted refresh tokens, each handed out once
    cache: dict = field(default_factory=dict)  # per-deployment state of scenario hooks

    def take_tokens(self, count: int) -> list[str]:
        if len(self.tokens) < count:
            self.tokens += self.deployment.mint_refresh_tokens(self.creds, count - len(self.tokens))
        taken, self.tokens = self.tokens[:count], self.tokens[count:]
        return taken


@dataclass(frozen=True)
class Invocation:
    path: str
    env: dict[str, str]


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    what: str
    unsupported: Callable[[dict], str | None]  # metadata -> reason to skip, or None
    prepare: Callable[[Context, int, str], Invocation]  # (ctx, connections, label) -> one wrk invocation
    tokens_needed: Callable[[int], int] = lambda connections: 0
    setup: Callable[[Context], None] = lambda ctx: None  # once per server start, before any measurement


def _path(url: str) -> str:
    return urlparse(url).path or "/"


def _grant(name: str) -> Callable[[dict], str | None]:
    return lambda meta: None if name in meta.get("grant_types_supported", []) else NOT_YET


def refresh_pool(connections: int) -> int:
    """Starting tokens (= chains) of one refresh run: one per connection plus spares for broken chains."""
    return connections + max(4, connections)


def _prepare_refresh(ctx: Context, connections: int, label: str) -> Invocation:
    tokens_file = ctx.run_dir / f"tokens-{label}.txt"
    tokens_file.write_text("\n".join(ctx.take_tokens(refresh_pool(connections))) + "\n")
    return Invocation(
        _path(ctx.metadata["token_endpoint"]),
        {"BENCH_BASIC_AUTH": ctx.creds.basic_auth, "BENCH_TOKENS_FILE": str(tokens_file)},
    )


def _prepare_password(ctx: Context, connections: int, label: str) -> Invocation:
    return Invocation(
        _path(ctx.metadata["token_endpoint"]),
        {
            "BENCH_BASIC_AUTH": ctx.creds.basic_auth,
            "BENCH_USERNAME": ctx.creds.username,
            "BENCH_PASSWORD": ctx.creds.password,
        },
    )


def _prepare_jwks(ctx: Context, connections: int, label: str) -> Invocation:
    return Invocation(_path(ctx.metadata["jwks_uri"]), {})


def _setup_client_credentials(ctx: Context) -> None:
    if "cc_client" not in ctx.cache:
        ctx.cache["cc_client"] = ctx.deployment.client_create("bench-service", ["client_credentials"])


def _prepare_client_credentials(ctx: Context, connections: int, label: str) -> Invocation:
    client = ctx.cache["cc_client"]
    creds = Credentials("", "", client["client_id"], client["client_secret"])
    return Invocation(_path(ctx.metadata["token_endpoint"]), {"BENCH_BASIC_AUTH": creds.basic_auth})


def _setup_introspect(ctx: Context) -> None:
    if "rs_client" not in ctx.cache:  # a resource server: a confidential client allowed to introspect
        ctx.cache["rs_client"] = ctx.deployment.client_create("bench-resource-server", [], "--introspect")


def _prepare_introspect(ctx: Context, connections: int, label: str) -> Invocation:
    client = ctx.cache["rs_client"]
    creds = Credentials("", "", client["client_id"], client["client_secret"])
    token = ctx.deployment.password_grant(ctx.creds)["access_token"]  # fresh: stays active for the whole run
    path = _path(ctx.metadata["introspection_endpoint"])
    answer = requests.post(
        ctx.deployment.base_url + path, data={"token": token}, timeout=10, headers={"Authorization": creds.basic_auth}
    )
    if answer.status_code != 200 or '"active": true' not in answer.text.replace('"active":true', '"active": true'):
        raise RuntimeError(f"introspection check failed: {answer.status_code} {answer.text[:200]}")
    return Invocation(path, {"BENCH_BASIC_AUTH": creds.basic_auth, "BENCH_ACCESS_TOKEN": token})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "refresh",
            "refresh.lua",
            "refresh_token grant; each connection presents a token an earlier response returned (chains)",
            _grant("refresh_token"),
            _prepare_refresh,
            refresh_pool,
        ),
        Scenario(
            "password",
            "password.lua",
            "password grant, fixed credentials: one argon2id verify per request",
            _grant("password"),
            _prepare_password,
        ),
        Scenario("jwks", "jwks.lua", "GET the JWKS document", lambda meta: None, _prepare_jwks),
        Scenario(
            "client_credentials",
            "client_credentials.lua",
            "client_credentials grant, one service client",
            _grant("client_credentials"),
            _prepare_client_credentials,
            setup=_setup_client_credentials,
        ),
        Scenario(
            "introspect",
            "introspect.lua",
            "RFC 7662 introspection of one (active) access token by a resource-server client",
            lambda meta: None if meta.get("introspection_endpoint") else NOT_YET,
            _prepare_introspect,
            setup=_setup_introspect,
        ),
    )
}

DEFAULT_SCENARIOS = "refresh,password,jwks,client_credentials,introspect"
