"""The server checks its own access tokens (introspection, revocation, log out everywhere) with the
resource servers' verifier (authserver_verifier, against the keys it publishes): a token that a
resource server refuses is never active at the server either, even when it carries our signature.

Each token here is signed with the server's own active key, so only the verifier's strict checks
(docs/verifier.md "What is checked") can tell it apart from a genuine one.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lifecycle_helpers import INACTIVE
from lifecycle_helpers import assert_error
from lifecycle_helpers import assert_tokens
from lifecycle_helpers import introspect
from lifecycle_helpers import make_rs

from authserver.keys.keyring import current_keystore


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def setup(make_user, make_client, oauth):
    make_user()
    reg = make_client()
    return make_rs(make_client), assert_tokens(oauth.password(reg))


@pytest.fixture
def resign(app):
    """Sign any header and payload (bytes: duplicates survive) with the server's active RS256 key."""

    def sign(header: dict, payload: bytes) -> str:
        with app.app_context():
            keystore = current_keystore()
            assert keystore.signing.record.alg == "RS256"
            key = keystore.signing.key.get_op_key("sign")
        unsigned = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
        return f"{unsigned}.{b64url(key.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256()))}"

    return sign


def parts(token: str) -> tuple[dict, dict]:
    head, payload, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(head), decode(payload)


def test_a_token_re_signed_as_issued_is_active(setup, client, resign):
    rs, body = setup
    header, claims = parts(body["access_token"])
    assert introspect(client, rs, resign(header, json.dumps(claims).encode()))["active"] is True


@pytest.mark.parametrize(
    ("member", "value"),
    [("jku", "https://evil.test/jwks.json"), ("x5u", "https://evil.test/c"), ("jwk", {"kty": "RSA"})],
)
def test_our_signature_with_a_key_fetching_header_is_inactive(setup, client, resign, member, value):
    rs, body = setup
    header, claims = parts(body["access_token"])
    assert introspect(client, rs, resign({**header, member: value}, json.dumps(claims).encode())) == INACTIVE


def test_our_signature_over_duplicate_claims_is_inactive(setup, client, resign):
    rs, body = setup
    header, claims = parts(body["access_token"])
    # Two parsers keeping different duplicates would disagree about who this token is for.
    payload = json.dumps(claims)[:-1].encode() + b', "sub": "someone-else"}'
    assert introspect(client, rs, resign(header, payload)) == INACTIVE


@pytest.mark.parametrize(
    "change", ["no aud", "empty aud", "iat in the future", "nbf in the future", "sid not a string"]
)
def test_our_signature_over_claims_a_resource_server_refuses_is_inactive(setup, client, clock, resign, change):
    rs, body = setup
    header, claims = parts(body["access_token"])
    now = clock.now()
    claims = {
        "no aud": lambda c: {k: v for k, v in c.items() if k != "aud"},
        "empty aud": lambda c: {**c, "aud": ""},
        "iat in the future": lambda c: {**c, "iat": now + 60},
        "nbf in the future": lambda c: {**c, "nbf": now + 60},
        "sid not a string": lambda c: {**c, "sid": 7},
    }[change](claims)
    assert introspect(client, rs, resign(header, json.dumps(claims).encode())) == INACTIVE


def test_log_out_everywhere_refuses_our_signature_with_a_jku_header(setup, client, resign):
    _, body = setup
    header, claims = parts(body["access_token"])
    token = resign({**header, "jku": "https://evil.test/jwks.json"}, json.dumps(claims).encode())
    reply = client.post("/oauth/sessions/revoke-all", headers={"Authorization": f"Bearer {token}"})
    assert_error(reply, 401, "invalid_token")
    genuine = client.post("/oauth/sessions/revoke-all", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert genuine.status_code == 200
