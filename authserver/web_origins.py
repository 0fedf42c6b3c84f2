"""The web origin (RFC 6454 §4) a browser sends from a page at a redirect URI: what CORS is answered for.

A single-page app's redirect URI is a page of the app, so its origin is the app's. Only ``https`` URIs and
``http`` on a loopback IP literal (the redirect URIs :mod:`authserver.oauth.redirect_uris` accepts for
browsers) have one; a private-use scheme (``com.example.app:/cb``) is a native app's, which needs no CORS.
The origin is serialised as browsers send it (the Fetch standard's ``Origin`` header): lower-case scheme
and host, no default port, an IPv6 literal in brackets. The port is kept exactly as registered: the
loopback port wildcard of RFC 8252 §7.3 is for native apps' redirects, not for pages making requests.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: The loopback IP literals of :data:`authserver.oauth.redirect_uris.LOOPBACK_HOSTS` (a test keeps them
#: equal): this module sits below ``oauth/`` so the client store can use it.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin_of(redirect_uri: str) -> str | None:
    """The ``Origin`` a page at ``redirect_uri`` sends, or ``None`` (a native app's URI, or not a URI)."""
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        return None
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"
