"""Redirect URIs: which ones a client may register, and which registered one a request's ``redirect_uri`` is.

Registered URIs are compared exactly (RFC 9700 §4.1.3: no prefix, no wildcard), with one exception for
native apps: a registered ``http`` URI on a loopback IP literal matches whatever port the app listens on
(RFC 8252 §7.3), every other part exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import SplitResult
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})
MAX_LENGTH = 2000
#: RFC 3986 §3.1 scheme; a private-use scheme has a dot (a reversed domain name, RFC 8252 §7.1).
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def registration_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be registered as a redirect URI, or ``None`` if it can.

    Allowed: ``https`` URIs; ``http`` on a loopback IP literal (RFC 8252 §7.3; ``localhost`` is refused,
    §8.3); a private-use scheme with a dot in it (``com.example.app:/callback``, RFC 8252 §7.1). Always
    absolute, with no fragment (RFC 6749 §3.1.2), no user information and no whitespace.
    """
    if not uri or len(uri) > MAX_LENGTH:
        return f"a redirect URI is 1 to {MAX_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in uri):
        return "a redirect URI has no whitespace or control characters"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "not a valid URI"
    scheme = parts.scheme
    if not scheme or not _SCHEME.match(scheme) or not uri.startswith(scheme + ":"):
        return "a redirect URI is absolute: it starts with a lowercase scheme"
    if "#" in uri:
        return "a redirect URI has no fragment (RFC 6749 §3.1.2)"
    if "@" in parts.netloc:
        return "a redirect URI has no user information"
    if scheme == "https":
        return None if parts.hostname else "an https redirect URI names a host"
    if scheme == "http":
        host = _host(parts)
        if host in LOOPBACK_HOSTS:
            return None
        if host == "localhost":
            return "use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)"
        return "http redirect URIs are for loopback IP literals only (RFC 8252 §7.3); use https"
    if "." not in scheme:
        return "a private-use scheme is a reversed domain name with a dot, e.g. com.example.app (RFC 8252 §7.1)"
    return None


def _host(parts: SplitResult) -> str:
    """The host as written in the URI (``[::1]`` keeps its brackets), without the port."""
    netloc = parts.netloc
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def _without_port(uri: str) -> str | None:
    """A loopback ``http`` URI with its port removed, else ``None``."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return None
    if parts.scheme != "http" or _host(parts) not in LOOPBACK_HOSTS:
        return None
    return parts._replace(netloc=_host(parts)).geturl()


def resolve(registered: Sequence[str], presented: str | None) -> str | None:
    """The redirect URI to use for a request, or ``None`` if the request's does not match a registered one.

    ``presented`` ``None`` (omitted) resolves only when exactly one URI is registered (RFC 6749 §3.1.2.3).
    The answer is the presented URI itself (a loopback one keeps its own port).
    """
    if presented is None:
        return registered[0] if len(registered) == 1 else None
    if presented in registered:
        return presented
    loose = _without_port(presented)
    if loose is not None and any(_without_port(uri) == loose for uri in registered):
        return presented
    return None
