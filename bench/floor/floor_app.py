"""The floor of this stack: the smallest refresh handler that does a refresh's unavoidable work.

``../shared/PERFORMANCE-NOTES.md`` gives it as the reference for the refresh target ("a minimal Flask
handler: HMAC-SHA-256 client auth, one SQL statement that consumes the old refresh token and inserts
its successor, joserfc RS256 signing; psycopg 3, autocommit, gunicorn 3 sync workers": 1,450 req/s,
0.93 ms server + 0.20 ms PostgreSQL CPU per request on the machine those notes were measured on).
The benchmark runs this file on the same machine, database and load as the real server, so the
real server's figures can be read against what Flask + psycopg + joserfc cost here at the least.

It is NOT an authorization server: no expiry, scope, reuse detection, revocation, event log,
throttle, error bodies or input validation beyond what the happy path needs. Never deploy it.

    FLOOR_DATABASE_URL=postgresql://... FLOOR_KEY_PEM=key.pem FLOOR_CLIENT_ID=c FLOOR_CLIENT_DIGEST=hex \
        gunicorn -w 3 --chdir bench/floor "floor_app:create_app()"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time

import psycopg
from flask import Flask
from flask import Response
from flask import request
from joserfc import jwt
from joserfc.jwk import RSAKey

PEPPER = b"floor-pepper"

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_refresh_tokens (
    digest bytea PRIMARY KEY,
    family uuid NOT NULL,
    user_id integer NOT NULL,
    client_id text NOT NULL,
    used_at timestamptz
)
"""

ROTATE = """
WITH used AS (
    UPDATE floor_refresh_tokens SET used_at = now()
    WHERE digest = %(old)s AND client_id = %(client)s AND used_at IS NULL
    RETURNING family, user_id, client_id
)
INSERT INTO floor_refresh_tokens (digest, family, user_id, client_id)
SELECT %(new)s, family, user_id, client_id FROM used
RETURNING user_id
"""


def digest(value: str) -> bytes:
    return hmac.new(PEPPER, value.encode(), hashlib.sha256).digest()


def create_app() -> Flask:
    app = Flask(__name__)
    conn = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    key = RSAKey.import_key(open(os.environ["FLOOR_KEY_PEM"], "rb").read())  # noqa: SIM115
    header = {"alg": "RS256", "typ": "at+jwt", "kid": "floor"}
    client_id = os.environ["FLOOR_CLIENT_ID"]
    client_digest = bytes.fromhex(os.environ["FLOOR_CLIENT_DIGEST"])

    @app.post("/oauth/token")
    def token() -> Response:
        auth = request.headers.get("Authorization", "")
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return Response(status=401)
        if cid != client_id or not hmac.compare_digest(digest(secret), client_digest):
            return Response(status=401)
        new = secrets.token_urlsafe(32)
        row = conn.execute(
            ROTATE,
            {"old": digest(request.form.get("refresh_token", "")), "client": cid, "new": digest(new)},
            prepare=True,
        ).fetchone()
        if row is None:
            return Response('{"error":"invalid_grant"}', status=400, content_type="application/json")
        now = int(time.time())
        access = jwt.encode(
            header,
            {
                "iss": "https://floor",
                "sub": str(row[0]),
                "aud": "api",
                "client_id": cid,
                "iat": now,
                "exp": now + 300,
                "jti": secrets.token_urlsafe(16),
            },
            key,
        )
        body = json.dumps({"access_token": access, "token_type": "Bearer", "expires_in": 300, "refresh_token": new})
        return Response(body, content_type="application/json", headers={"Cache-Control": "no-store"})

    return app


def seed(database_url: str, client_id: str, count: int) -> list[str]:
    """Create the table and ``count`` refresh tokens (one family each) for ``client_id``."""
    import uuid

    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO floor_refresh_tokens (digest, family, user_id, client_id) VALUES (%s, %s, 1, %s)",
                [(digest(t), uuid.uuid4(), client_id) for t in tokens],
            )
    return tokens
