"""A minimal HTTP -> ASGI bridge for the routes that are not Socket.IO.

One task per request (the ASGI app is a coroutine), with `receive` giving the whole body
at once and `send` writing `http.response.start` / `http.response.body` to the connection:
with a Content-Length when the app gives one, chunked otherwise. Enough for Starlette's
routes, `StaticFiles` and `FileResponse`; not a general server (no streaming uploads,
no lifespan, no WebSocket scope).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any, Protocol

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]


class Responder(Protocol):
    """The connection side of the bridge (see `http.HttpConnection`)."""

    keep_alive: bool

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers every response carries, unless the app sets them itself."""
        ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None:
        """Return once the client has taken most of what was written."""
        ...

    def response_done(self) -> None: ...

    def disconnected(self) -> asyncio.Future[None]: ...


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def run_asgi(
    app: ASGIApp,
    conn: Responder,
    scope: MutableMapping[str, Any],
    body: bytes,
) -> None:
    received = False
    head_only = scope["method"] == "HEAD"
    chunked = False
    started = False
    finished = False

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Shielded: a cancelled listener must not cancel the connection's shared future.
        await asyncio.shield(conn.disconnected())
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal chunked, started, finished
        if finished:
            return
        if message["type"] == "http.response.start":
            status = int(message["status"])
            lines = [f"HTTP/1.1 {status} {reason(status)}"]
            has_length = False
            names: set[bytes] = set()
            for name, value in message.get("headers", ()):
                lowered = bytes(name).lower()
                names.add(lowered)
                if lowered == b"content-length":
                    has_length = True
                elif lowered in (b"connection", b"transfer-encoding"):
                    continue
                lines.append(f"{bytes(name).decode('latin-1')}: {bytes(value).decode('latin-1')}")
            for name, value in conn.default_headers:
                if name.lower() not in names:
                    lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
            if not has_length and not head_only:
                chunked = True
                lines.append("Transfer-Encoding: chunked")
            if not conn.keep_alive:
                lines.append("Connection: close")
            conn.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            started = True
        elif message["type"] == "http.response.body" and started:
            data = bytes(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if not head_only:
                if chunked:
                    if data:
                        conn.write(b"%x\r\n%b\r\n" % (len(data), data))
                    if not more:
                        conn.write(b"0\r\n\r\n")
                elif data:
                    conn.write(data)
            if not more:
                finished = True
                conn.response_done()
            else:
                await conn.drain()  # a slow reader slows the app, not the server's memory

    try:
        await app(scope, receive, send)
    except Exception:
        if not started:
            conn.write(_failed(conn))
            conn.response_done()
        raise
    if not finished:
        if not started:
            conn.write(_failed(conn))
        conn.keep_alive = False
        conn.response_done()


def _failed(conn: Responder) -> bytes:
    lines = [b"HTTP/1.1 500 Internal Server Error", b"Content-Length: 0"]
    lines += [name + b": " + value for name, value in conn.default_headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"
