"""Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic,
client_secret_post and none.

An unknown client and a wrong secret fail identically and cost the same: both compute one HMAC
and two constant-time comparisons (the current secret, and the previous one of a rotation with an
overlap, a dummy otherwise), whichever matches. Using two methods in one request is ``invalid_request``
(RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request").
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import unquote_plus

from authserver import clock
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
    clients = current_stores().clients
    presented = secret_digest(current_settings().secret_pepper, secret)
    client = clients.get(client_id) if client_id else None
    if client is not None and _matches(client, presented):
        return client
    # The snapshot may predate a rotation through another process: one fresh read before refusing (every
    # failure, an unknown client's too, pays it, so the two still cost the same).
    client = clients.fresh(client_id) if client_id else None
    if client is None or not _matches(client, presented):
        raise InvalidClientError("unknown client or wrong secret")
    return client


def _matches(client: ClientInfo | None, presented: str) -> bool:
    """Whether ``presented`` is the client's secret, or its previous one while a rotation's overlap lasts."""
    stored = client.secret_hash if client is not None and client.secret_hash else _DUMMY_DIGEST
    # The overlap ends at its expiry, judged now: the client cache cannot extend it.
    previous = (client.previous_secret_at(clock.now()) if client is not None else None) or _DUMMY_DIGEST
    # Both comparisons always run (``|``, not ``or``): the time taken does not say which secret matched.
    matched = digests_equal(presented, stored) | digests_equal(presented, previous)
    return matched and client is not None and client.secret_hash is not None
