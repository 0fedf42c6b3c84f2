"""Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic,
client_secret_post and none.

An unknown client and a wrong secret fail identically and cost the same: both compute one HMAC
and one constant-time comparison. Using two methods in one request is ``invalid_request``
(RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request").
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import unquote_plus

from authserver.digests import digests_equal
from authserver.digests import secret_digest
from authserver.errors import InvalidClientError
from authserver.errors import InvalidRequestError
from authserver.settings import current_settings
from authserver.store import current_stores
from authserver.store.clients import ClientInfo

_DUMMY_DIGEST = "0" * 64


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Credentials from an ``Authorization: Basic`` header, form-decoded per RFC 6749 §2.3.1."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII character in the header
        raise InvalidClientError("malformed Basic credentials") from None
    if "\x00" in decoded:
        raise InvalidClientError("NUL in Basic credentials")
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClientError("Basic credentials without a colon")
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate(headers: Mapping[str, str], form: Mapping[str, str]) -> tuple[ClientInfo, str]:
    """Return the authenticated client and the method used, or raise ``invalid_client``."""
    basic = parse_basic(headers.get("Authorization"))
    form_id = form.get("client_id")
    form_secret = form.get("client_secret")
    if basic is not None:
        if form_secret is not None or (form_id is not None and form_id != basic[0]):
            raise InvalidRequestError("client credentials in both the Authorization header and the body")
        return _check_secret(basic[0], basic[1]), "client_secret_basic"
    if form_secret is not None:
        return _check_secret(form_id, form_secret), "client_secret_post"
    if form_id:
        client = current_stores().clients.get(form_id)
        if client is None or not client.is_public:
            raise InvalidClientError("unknown client or confidential client without credentials")
        return client, "none"
    raise InvalidClientError("no client authentication")


def _check_secret(client_id: str | None, secret: str) -> ClientInfo:
    client = current_stores().clients.get(client_id) if client_id else None
    stored = client.secret_hash if client is not None and client.secret_hash else _DUMMY_DIGEST
    presented = secret_digest(current_settings().secret_pepper, secret)
    if not digests_equal(presented, stored) or client is None:
        raise InvalidClientError("unknown client or wrong secret")
    return client
