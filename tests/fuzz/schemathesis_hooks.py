"""Schemathesis hooks for tests/fuzz/test_openapi_fuzz.py, loaded by the ``schemathesis run`` it starts
(``SCHEMATHESIS_HOOKS=tests.fuzz.schemathesis_hooks``).

A description cannot hold credentials, and random ones never get past client authentication: every
generated body would stop at ``401 invalid_client`` and the stateful links (log in → refresh → revoke →
introspect) would never start. So, for the token endpoint and the JSON log in, these hooks let
Hypothesis choose between the generated body as it is, the generated body with the real client's
credentials merged in, and an exact valid log in (password grant, client_credentials, JSON body mode).
The credentials come from the environment the test sets (``FUZZ_*``); they are a test user and client
of the throw-away database, never real ones.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation


def _env(name: str) -> str:
    return os.environ[f"FUZZ_{name}"]


def _client() -> dict[str, str]:
    return {"client_id": _env("CLIENT_ID"), "client_secret": _env("CLIENT_SECRET")}


def _negative_body(case: schemathesis.Case) -> bool:
    """The body was generated to be invalid: leave it alone, its rejection is the check. (A case negative
    elsewhere, say a bad header, still gets a valid body: the header alone must make the server refuse.)"""
    meta = case._meta  # no public accessor in Schemathesis 4
    return meta is not None and meta.is_negative_at(ParameterLocation.BODY)


def _choose(case: schemathesis.Case, bodies: list[Any]) -> st.SearchStrategy[schemathesis.Case]:
    """The case as generated, or with one of ``bodies`` (assigning the body makes Schemathesis revalidate it)."""
    if _negative_body(case):
        return st.just(case)

    def with_body(index: int) -> schemathesis.Case:
        if index:
            case.body = bodies[index - 1]
        return case

    return st.integers(0, len(bodies)).map(with_body)


@schemathesis.hook("flatmap_case").apply_to(method="POST", path="/oauth/token")
def token_cases(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
    password_login = {"grant_type": "password", "username": _env("USERNAME"), "password": _env("PASSWORD")}
    bodies: list[Any] = [
        {**password_login, **_client()},
        {**password_login, **_client(), "scope": "read"},
        {"grant_type": "client_credentials", **_client()},
    ]
    if isinstance(case.body, dict):
        bodies.append({**case.body, **_client()})
    return _choose(case, bodies)


@schemathesis.hook("flatmap_case").apply_to(method="POST", path="/oauth/introspect")
def introspect_cases(
    context: schemathesis.HookContext, case: schemathesis.Case
) -> st.SearchStrategy[schemathesis.Case]:
    return _with_client(case)


@schemathesis.hook("flatmap_case").apply_to(method="POST", path="/oauth/revoke")
def revoke_cases(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
    return _with_client(case)


def _with_client(case: schemathesis.Case) -> st.SearchStrategy[schemathesis.Case]:
    if not isinstance(case.body, dict):
        return st.just(case)
    return _choose(case, [{**case.body, **_client()}])


@schemathesis.hook("flatmap_case").apply_to(method="POST", path="/login")
def json_login_cases(
    context: schemathesis.HookContext, case: schemathesis.Case
) -> st.SearchStrategy[schemathesis.Case]:
    login = {"username": _env("USERNAME"), "password": _env("PASSWORD"), "clientId": _env("PUBLIC_CLIENT_ID")}
    return _choose(case, [login])
