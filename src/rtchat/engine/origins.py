"""Which web pages may use the engine, from their `Origin` header: no I/O.

A browser names the page's origin (`scheme://host[:port]`) in every cross-origin request
and in every WebSocket handshake; a page may script requests to any server, so the server
must refuse the origins it does not serve. Allowed are: requests without an `Origin`
(not from a browser page, e.g. a native client or curl), the same origin (the Origin's
host and port are the request's `Host`), and the origins of the allow list (`"*"`: every
origin). Ports are compared with the scheme's default filled in, so `http://a` and
`a:80` are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

Authority = tuple[str, int | None]


def _origin(origin: str) -> tuple[str, Authority] | None:
    """(scheme, (host, port)) of an Origin value; None for `null` or anything unparsable."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme, (parts.hostname, port or _DEFAULT_PORTS.get(parts.scheme))


def _host(host: str, scheme: str) -> Authority | None:
    try:
        parts = urlsplit("//" + host.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port or _DEFAULT_PORTS.get(scheme)


def same_origin(origin: str, host: str | None) -> bool:
    """Whether `origin` names the host and port that `host` (a Host header) does."""
    parsed = _origin(origin)
    if parsed is None or host is None:
        return False
    scheme, authority = parsed
    return authority == _host(host, scheme)


class OriginPolicy:
    """The origins allowed besides the same origin: `allowed` as configured (`"*"` for all)."""

    __slots__ = ("_allowed", "_any", "_literal")

    def __init__(self, allowed: Iterable[str]) -> None:
        entries = [a.strip() for a in allowed if a.strip()]
        self._any = "*" in entries
        self._literal = {a.lower().rstrip("/") for a in entries}  # e.g. "null"
        self._allowed = {parsed for a in entries if (parsed := _origin(a)) is not None}

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None or self._any or same_origin(origin, host):
            return True
        return self._cross_allowed(origin)

    def cors_headers(self, origin: str | None, host: str | None) -> list[str]:
        """The CORS answer for an allowed cross-origin request (none for the same origin)."""
        if origin is None or same_origin(origin, host):
            return []
        if not (self._any or self._cross_allowed(origin)):
            return []
        return [f"Access-Control-Allow-Origin: {origin}", "Access-Control-Allow-Credentials: true"]

    def _cross_allowed(self, origin: str) -> bool:
        if origin.lower().rstrip("/") in self._literal:
            return True
        parsed = _origin(origin)
        return parsed is not None and parsed in self._allowed
