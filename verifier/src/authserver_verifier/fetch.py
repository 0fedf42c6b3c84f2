"""Small HTTP client for the verifier (stdlib ``urllib``): bounded bodies, timeouts, no redirects.

Redirects are not followed so that the keys come from exactly the URL the issuer's metadata named
(and a hostile redirect cannot downgrade https to http).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

MAX_BODY_BYTES = 256 * 1024
USER_AGENT = "authserver-verifier/1"


class FetchError(Exception):
    """The document could not be had: network error, bad status, oversize or not JSON."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise FetchError("response is not JSON") from None


#: (method, url, headers, body, timeout) -> Response. Injectable for tests and other HTTP stacks.
Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], Response]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _read(stream: Any) -> bytes:
    body: bytes = stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise FetchError(f"response larger than {MAX_BODY_BYTES} bytes")
    return body


def urllib_transport(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Response:
    """The default transport: ``urllib.request`` with a timeout and a body size limit."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"refusing to fetch a non-http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            return Response(reply.status, dict(reply.headers.items()), _read(reply))
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, _read(exc))
    except (OSError, ValueError) as exc:  # URLError, timeouts, connection refused, bad URLs
        raise FetchError(f"{method} {url}: {exc}") from None


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|=|$)", re.IGNORECASE)


def max_age(headers: Mapping[str, str]) -> int | None:
    """Freshness lifetime from ``Cache-Control`` (RFC 9111 §5.2.2): 0 for no-cache/no-store, None if unsaid."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), None)
    if value is None:
        return None
    if _NO_CACHE.search(value):
        return 0
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers.items() if k.lower() == name), None)


def well_known_url(issuer: str, suffix: str = "oauth-authorization-server") -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/.well-known/{suffix}{path}", "", ""))
