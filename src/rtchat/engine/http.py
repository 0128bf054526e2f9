"""One asyncio Protocol per TCP connection: HTTP/1.1 parsed by httptools, then WebSocket.

Requests to the Engine.IO path go to the engine in the parser's callback (no task); a
WebSocket handshake there switches the connection to WebSocket frames. Every other
request goes to the ASGI app through `asgi_bridge`. Requests on one connection are
answered in order: a long-polling GET holds the connection until the engine answers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httptools

from rtchat.engine import websocket as ws
from rtchat.engine.asgi_bridge import ASGIApp, reason, run_asgi
from rtchat.engine.eio_session import EioSession
from rtchat.engine.timers import DeadlineQueue

if TYPE_CHECKING:
    from rtchat.engine.server import SocketServer

log = logging.getLogger(__name__)

_TEXT = "text/plain; charset=UTF-8"
KEEP_ALIVE = 20.0  # seconds an idle keep-alive HTTP connection stays open
MAX_HEAD = 64 * 1024  # bytes of request line and headers


class _HeadTooBig(Exception):
    pass


class HttpHandler:
    """What connections share: the engine, the ASGI app, and the set of open connections."""

    def __init__(self, sio: SocketServer, app: ASGIApp, path: str = "/socket.io/") -> None:
        self.sio = sio
        self.app = app
        self.path = path.rstrip("/")
        self.connections: set[HttpConnection] = set()
        # HTTP connections with no request in progress, closed after KEEP_ALIVE seconds.
        self.idle = DeadlineQueue[HttpConnection](KEEP_ALIVE, HttpConnection.idle_timeout)
        self.tasks: set[asyncio.Task[None]] = set()
        self.max_body = max(sio.options.max_payload, 1024)

    def __call__(self) -> HttpConnection:
        return HttpConnection(self)


class _Request:
    __slots__ = ("body", "head", "headers", "keep_alive", "method", "too_big", "upgrade", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.method = ""
        self.too_big = False
        self.upgrade = False
        self.keep_alive = True
        self.head = 0  # bytes of URL and headers so far


class HttpConnection(asyncio.Protocol):
    __slots__ = (
        "_busy",
        "_closing",
        "_gone",
        "_handler",
        "_parser",
        "_queued",
        "_request",
        "_ws",
        "keep_alive",
        "session",
        "transport",
    )

    transport: asyncio.Transport

    def __init__(self, handler: HttpHandler) -> None:
        self._handler = handler
        self._parser: httptools.HttpRequestParser | None = None
        self._request: _Request | None = None
        self._queued: list[_Request] | None = None
        self._busy = False
        self._ws: ws.WsParser | None = None
        self._closing = False
        self._gone: asyncio.Future[None] | None = None
        self.keep_alive = True
        self.session: EioSession | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._parser = httptools.HttpRequestParser(self)
        self._handler.connections.add(self)
        self._handler.idle.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._handler.connections.discard(self)
        self._handler.idle.remove(self)
        session, self.session = self.session, None
        if session is not None:
            self._handler.sio.connection_lost(self, session)
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._ws is not None:
            self._ws_received(data)
            return
        parser = self._parser
        if parser is None:
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            request, self._request = self._request, None
            if request is not None:
                self._upgrade(request, data[upgrade.args[0] :])
        except httptools.HttpParserError as error:
            self._fail(431 if isinstance(error.__context__, _HeadTooBig) else 400)

    # --- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._handler.idle.remove(self)
        self._request = _Request()

    def on_url(self, url: bytes) -> None:
        assert self._request is not None
        self._request.url += url
        self._check_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._request is not None
        self._request.headers.append((name.lower(), value))
        self._check_head(len(name) + len(value))

    def _check_head(self, size: int) -> None:
        request = self._request
        assert request is not None
        request.head += size
        if request.head > MAX_HEAD:
            raise _HeadTooBig  # httptools stops parsing; data_received answers 431

    def on_headers_complete(self) -> None:
        assert self._request is not None
        assert self._parser is not None
        request = self._request
        request.method = self._parser.get_method().decode("ascii", "replace")
        request.upgrade = bool(self._parser.should_upgrade())
        request.keep_alive = bool(self._parser.should_keep_alive())
        if _header(request.headers, b"expect") == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        if request.too_big:
            return
        if len(request.body) + len(body) > self._handler.max_body:
            request.too_big = True
            request.body = bytearray()
        else:
            request.body += body

    def on_message_complete(self) -> None:
        request = self._request
        if request is None or request.upgrade:
            return  # an upgrade is handled when the parser stops at it
        self._request = None
        if self._busy:
            if self._queued is None:
                self._queued = []
            self._queued.append(request)
            self.transport.pause_reading()
        else:
            self._dispatch(request)

    # --- requests ------------------------------------------------------------------------

    def _dispatch(self, request: _Request) -> None:
        self._busy = True
        self.keep_alive = request.keep_alive
        url = httptools.parse_url(request.url)
        path = url.path.decode("utf-8", "replace")
        query = url.query or b""
        handler = self._handler
        if path.rstrip("/") == handler.path:
            params = dict(parse_qsl(query.decode("latin-1")))
            if request.too_big:
                self.keep_alive = False
                handler.sio.body_too_big(self, params)
                return
            origin = _header(request.headers, b"origin")
            handler.sio.handle_request(self, request.method, params, origin, bytes(request.body))
            return
        scope = self._scope(request, path, query)
        task = asyncio.get_running_loop().create_task(
            run_asgi(handler.app, self, scope, bytes(request.body))
        )
        handler.tasks.add(task)
        task.add_done_callback(self._asgi_done)

    def _asgi_done(self, task: asyncio.Task[None]) -> None:
        self._handler.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("HTTP app failed", exc_info=task.exception())

    def _scope(self, request: _Request, path: str, query: bytes) -> MutableMapping[str, Any]:
        server = self.transport.get_extra_info("sockname")
        client = self.transport.get_extra_info("peername")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": path,
            "raw_path": request.url.split(b"?", 1)[0],
            "query_string": query,
            "root_path": "",
            "headers": request.headers,
            "client": tuple(client[:2]) if client else None,
            "server": tuple(server[:2]) if server else None,
        }

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = _TEXT,
        headers: list[str] | None = None,
    ) -> None:
        if self._closing:
            return
        lines = [
            f"HTTP/1.1 {status} {reason(status)}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            *(headers or ()),
        ]
        if not self.keep_alive:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if self._ws is None:
            self.session = None
        self.response_done()

    # --- asgi_bridge.Responder -----------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self._closing:
            self.transport.write(data)

    def response_done(self) -> None:
        self._busy = False
        if not self.keep_alive:
            self._closing = True
            self.transport.close()
            return
        queued = self._queued
        if queued:
            request = queued.pop(0)
            if not queued:
                self._queued = None
                self.transport.resume_reading()
            self._dispatch(request)
        elif self._ws is None and not self._closing:
            self._handler.idle.add(self)

    def idle_timeout(self) -> None:
        if not self._busy and self._ws is None and not self._closing:
            self._closing = True
            self.transport.close()

    def disconnected(self) -> asyncio.Future[None]:
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self._closing:
                self._gone.set_result(None)
        return self._gone

    # --- WebSocket -----------------------------------------------------------------------

    def _upgrade(self, request: _Request, rest: bytes) -> None:
        url = httptools.parse_url(request.url)
        sio = self._handler.sio
        key = _header(request.headers, b"sec-websocket-key")
        upgrade = (_header(request.headers, b"upgrade") or "").lower()
        if url.path.decode("utf-8", "replace").rstrip("/") != self._handler.path:
            self._fail(404)
            return
        params = dict(parse_qsl((url.query or b"").decode("latin-1")))
        error = sio.websocket_allowed(params)
        if error is None and (upgrade != "websocket" or not key or request.method != "GET"):
            error = (3, "Bad request")
        if error is not None:
            self.keep_alive = False
            code, message = error
            body = f'{{"code":{code},"message":"{message}"}}'.encode()
            self.respond(400, body, "application/json")
            return
        assert key is not None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ws.accept_key(key).encode() + b"\r\n\r\n"
        )
        self._parser = None
        self._ws = ws.WsParser(sio.options.max_payload)
        self.session = sio.websocket_opened(self, params)
        if rest:
            self._ws_received(rest)

    def _ws_received(self, data: bytes) -> None:
        parser = self._ws
        session = self.session
        if parser is None or session is None or self._closing:
            return
        try:
            messages = parser.feed(data)
        except ws.WsError as error:
            self.close_ws(error.code, error.reason)
            self.session = None
            reason = "transport error"
            if error.code == ws.TOO_BIG:
                reason = "message too big"
            self._handler.sio.close_session(session, reason, code=error.code)
            return
        sio = self._handler.sio
        for opcode, payload in messages:
            if opcode == ws.TEXT or opcode == ws.BINARY:
                sio.websocket_packet(self, session, payload)
            elif isinstance(payload, str):
                continue
            elif opcode == ws.PING:
                self.transport.write(ws.frame(ws.PONG, payload))
            elif opcode == ws.CLOSE:
                # Echo the peer's code (the parser let only valid ones through).
                self.close_ws(ws.close_code(payload) or ws.NORMAL, "")
            if self._closing:
                return

    def close_ws(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        self.transport.write(ws.close_frame(code, reason))
        self.transport.close()

    def _fail(self, status: int) -> None:
        self.keep_alive = False
        self.respond(status, reason(status).encode())


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
