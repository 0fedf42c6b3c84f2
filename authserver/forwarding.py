"""The client's address behind reverse proxies: ``TRUSTED_PROXY_HOPS`` entries of X-Forwarded-For.

- ``TRUSTED_PROXY_HOPS`` > 0: werkzeug's ProxyFix takes the entry that many from the end as
  ``REMOTE_ADDR``. That entry must be an IP address (a proxy's ``ip:port`` / ``[ipv6]:port`` form is
  reduced to the IP); anything else - junk, a hostname, a 300-character string - is discarded, the
  socket address counts instead, and the header is logged once per process (its length, never its
  value) and counted (``authserver_proxy_invalid_forwarded_for_total``). So the throttles, the events
  and ``request.remote_addr`` always see a valid, normalised IP string.
- ``TRUSTED_PROXY_HOPS`` = 0 in production: a request carrying X-Forwarded-For most likely came
  through a proxy nobody told the server about, and then every client shares the proxy's address
  and its per-IP throttle. Logged once per process with a warning naming the setting, and counted
  (``authserver_proxy_untrusted_forwarded_for_total``); the header is still ignored.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from authserver import telemetry
from authserver.settings import current_settings

log = logging.getLogger("authserver.forwarding")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Longer than any textual IP address with a port ("[" + 45 + "]:65535"): refused before parsing.
_MAX_ADDRESS_LENGTH = 64
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?")
_IPV4_WITH_PORT = re.compile(r"([0-9.]+):\d{1,5}")


def parse_ip(value: str | None) -> str | None:
    """``value`` as a normalised IP address string, or None if it is not one.

    Accepts ``1.2.3.4``, ``2001:db8::1``, ``1.2.3.4:5678`` and ``[2001:db8::1]:5678``; refuses
    zone ids (``fe80::1%eth0``: unbounded text) and everything else.
    """
    if not value or len(value) > _MAX_ADDRESS_LENGTH or "%" in value:
        return None
    match = _BRACKETED.fullmatch(value) or _IPV4_WITH_PORT.fullmatch(value)
    try:
        return str(ipaddress.ip_address(match.group(1) if match else value))
    except ValueError:
        return None


class _Once:
    """True the first time it is asked, per instance (so once per app, i.e. per server process)."""

    def __init__(self) -> None:
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        if self._done:
            return False
        with self._lock:
            first, self._done = not self._done, True
        return first


class ValidatedForwardedAddress:
    """Inside ProxyFix: a forwarded ``REMOTE_ADDR`` that is not an IP falls back to the socket's."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._warn = _Once()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        value = environ.get("REMOTE_ADDR")
        socket_address = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
        address = parse_ip(value)
        if address is not None:
            environ["REMOTE_ADDR"] = address
        elif value != socket_address:  # ProxyFix took it from X-Forwarded-For: refuse it
            environ["REMOTE_ADDR"] = socket_address
            telemetry.count("proxy.invalid_forwarded_for")
            if self._warn():
                log.warning(
                    "X-Forwarded-For entry is not an IP address: using the socket address instead "
                    "(logged once per process; counted in authserver_proxy_invalid_forwarded_for_total)",
                    extra={
                        "event": "proxy.invalid_forwarded_for",
                        "socket_ip": socket_address,
                        "entry_length": len(value or ""),
                    },
                )
        return self.app(environ, start_response)


class UntrustedForwardedFor:
    """No trusted proxy, yet X-Forwarded-For arrives: warn once per process, count every request."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._warn = _Once()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "HTTP_X_FORWARDED_FOR" in environ:
            telemetry.count("proxy.untrusted_forwarded_for")
            if self._warn():
                log.warning(
                    "request with X-Forwarded-For but AUTHSERVER_TRUSTED_PROXY_HOPS is 0: behind a reverse "
                    "proxy every client shares its address and its failed-login limit; set "
                    "AUTHSERVER_TRUSTED_PROXY_HOPS to the number of proxies (logged once per process; "
                    "counted in authserver_proxy_untrusted_forwarded_for_total)",
                    extra={"event": "proxy.untrusted_forwarded_for", "socket_ip": environ.get("REMOTE_ADDR")},
                )
        return self.app(environ, start_response)


def wrap(app: Flask, wsgi_app: WsgiApp) -> WsgiApp:
    """``wsgi_app`` behind the client-address layer this configuration needs (see :mod:`authserver.wsgi`)."""
    hops = current_settings(app).trusted_proxy_hops
    if hops:
        # X-Forwarded-For is honoured only through this many trusted proxies; a forged header is ignored.
        return ProxyFix(ValidatedForwardedAddress(wsgi_app), x_for=hops)
    if current_settings(app).production:
        return UntrustedForwardedFor(wsgi_app)
    return wsgi_app
