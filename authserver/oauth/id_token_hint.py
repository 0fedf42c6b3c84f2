"""The ``id_token_hint`` of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): an ID token we
issued, verified with our published keys; expired is fine (§2: the RP may hold only an old one).

Checked: the signature by one of our published keys with its algorithm, ``typ`` ``JWT`` (an access token,
``at+jwt``, is not an ID token), ``iss`` us, ``sub`` and ``aud`` (one client id) present. Not checked: ``exp``.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError

from authserver.http import MAX_TOKEN_CHARS
from authserver.keys.keyring import current_keystore
from authserver.settings import current_settings


@dataclass(frozen=True)
class Hint:
    """What a verified hint says: who, for which client, in which login session (``None`` without ``sid``)."""

    sub: str
    client_id: str
    session_id: str | None


def verified_hint(value: str) -> Hint | None:
    """The hint's facts, or ``None`` if it is not an ID token we issued."""
    if len(value) > MAX_TOKEN_CHARS:
        return None
    keystore = current_keystore()
    try:
        token = jwt.decode(value, keystore.verification_keys, algorithms=keystore.algorithms)
    except (JoseError, ValueError, TypeError):
        return None
    claims = token.claims
    if token.header.get("typ") != "JWT" or claims.get("iss") != current_settings().issuer:
        return None
    sub, aud, sid = claims.get("sub"), claims.get("aud"), claims.get("sid")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(sub, str) or not isinstance(aud, str) or not (sid is None or isinstance(sid, str)):
        return None
    return Hint(sub, aud, sid)
