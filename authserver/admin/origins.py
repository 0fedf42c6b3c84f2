"""Browser origins a client registers for the JSON API's cookie mode (RFC 6454 §4: scheme, host, port).

An origin is matched exactly against the ``Origin`` header a browser sends, so it is registered in the
form browsers send: lower case, no path, no default port, no wildcard. Production takes https only;
development also takes http on ``localhost`` and ``127.0.0.1`` (two different sites to a browser).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authserver.admin.errors import AdminError

DEVELOPMENT_HOSTS = frozenset({"localhost", "127.0.0.1"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def checked_origin(text: str, *, production: bool) -> str:
    """``text`` as the exact origin a browser sends, or :class:`AdminError` saying what is wrong with it."""
    if "*" in text:
        raise AdminError(f"origin {text!r}: no wildcards, register each origin exactly")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise AdminError(f"origin {text!r} is not scheme://host[:port]") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise AdminError(f"origin {text!r} is not scheme://host[:port] (no path, query or credentials)")
    if scheme == "http" and (production or host not in DEVELOPMENT_HOSTS):
        raise AdminError(
            f"origin {text!r}: https is required"
            + ("" if production else " (http only for localhost and 127.0.0.1 in development)")
        )
    if scheme not in _DEFAULT_PORTS:
        raise AdminError(f"origin {text!r}: the scheme must be https")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}"
