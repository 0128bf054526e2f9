"""One asyncio Protocol per TCP connection: HTTP/1.1 requests, then WebSocket frames.

Requests (parsed and bounded by `http_parse.RequestParser`) to the Engine.IO path go to
the engine in the callback that parsed them (no task); a WebSocket handshake there
switches the connection to WebSocket frames, as one to a plain WebSocket endpoint
(`plain_ws.py`, e.g. `/ws`) does, whose messages go to that endpoint instead. Every
other request goes to the ASGI app through `asgi_bridge`. Requests on one connection are
answered in order: a long-polling GET holds the connection until the engine answers it.

No one client can hold the server: a connection is refused past `max_connections_per_ip`
from its address, a request must arrive within `head_timeout` (its head) and
`body_timeout` (its body) or it is answered 408, an idle keep-alive connection is closed
after `KEEP_ALIVE`, and a connection the server closes has `LINGER` seconds to take what
it was sent before it is aborted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import MutableMapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools
import orjson

from rtchat.engine import websocket as ws
from rtchat.engine.addresses import address_key
from rtchat.engine.asgi_bridge import ASGIApp, reason, run_asgi
from rtchat.engine.eio_server import BAD_REQUEST, ENGINE_CSP, UNKNOWN_SID, EioServer, Refusal
from rtchat.engine.eio_session import BACKLOG, EioSession
from rtchat.engine.forward import Forwarder, Hop, pipe, relay, request_bytes
from rtchat.engine.http_parse import BODY, HEAD, IDLE, HttpError, Request, RequestParser
from rtchat.engine.plain_ws import UNSUPPORTED_DATA, WsConn, WsEndpoint
from rtchat.engine.timers import DeadlineQueue

log = logging.getLogger(__name__)

_TEXT = "text/plain; charset=UTF-8"
_UNTIMED = (0, IDLE)
KEEP_ALIVE = 20.0  # seconds an idle keep-alive HTTP connection stays open
LINGER = 10.0  # seconds a connection the server closed has to take its last bytes
_TOO_MANY = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=UTF-8\r\n"
    b"Content-Length: 41\r\nConnection: close\r\n\r\n"
    b"Too many connections from your address.\r\n"
)


class HttpHandler:
    """What connections share: the Engine.IO server, the plain WebSocket endpoints, the
    ASGI app, the open connections, their clocks and the count of connections per address."""

    def __init__(
        self,
        eio: EioServer,
        app: ASGIApp,
        path: str = "/socket.io/",
        *,
        forwarder: Forwarder | None = None,
        internal: bool = False,
        endpoints: tuple[WsEndpoint, ...] = (),
    ) -> None:
        o = eio.options
        self.eio = eio
        self.app = app
        self.endpoints = {endpoint.path: endpoint for endpoint in endpoints}
        # Requests for another node's session go there (forward.py); the internal
        # listener, where other nodes send them, never passes one on again and counts no
        # connections per address (they all come from the nodes).
        self.forwarder = None if internal else forwarder
        self.per_ip_cap = 0 if internal else o.max_connections_per_ip
        self.engine_path = path.rstrip("/").encode()
        self.connections: set[HttpConnection] = set()
        # HTTP connections with no request in progress, closed after KEEP_ALIVE seconds.
        self.idle = DeadlineQueue[HttpConnection](KEEP_ALIVE, HttpConnection.idle_timeout)
        self.head_due = DeadlineQueue[HttpConnection](o.head_timeout, HttpConnection.too_slow)
        self.body_due = DeadlineQueue[HttpConnection](o.body_timeout, HttpConnection.too_slow)
        self.lingering = DeadlineQueue[HttpConnection](LINGER, HttpConnection.linger_ended)
        self.tasks: set[asyncio.Task[None]] = set()
        self.max_body = max(o.max_payload, 1024)
        self.security_headers = [
            f"{name}: {ENGINE_CSP if name.lower() == 'content-security-policy' else value}"
            for name, value in o.security_headers
        ]
        self.asgi_headers = [(n.encode(), v.encode()) for n, v in o.security_headers]
        self.per_ip: dict[str, int] = {}
        self._refusing: set[str] = set()  # addresses at the cap, logged once until below it

    def __call__(self) -> HttpConnection:
        return HttpConnection(self)

    def admit(self, address: str) -> bool:
        cap = self.per_ip_cap
        count = self.per_ip.get(address, 0)
        if cap and count >= cap:
            if address not in self._refusing:
                self._refusing.add(address)
                log.warning("%s has %d connections open, the cap: refusing more", address, cap)
            return False
        self.per_ip[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self.per_ip.get(address, 0) - 1
        if count > 0:
            self.per_ip[address] = count
        else:
            self.per_ip.pop(address, None)
        self._refusing.discard(address)

    def parser(self) -> RequestParser:
        o = self.eio.options
        return RequestParser(
            max_head=o.max_header_bytes, max_headers=o.max_headers, max_body=self.max_body
        )


class HttpConnection(asyncio.Protocol):
    __slots__ = (
        "_address",
        "_busy",
        "_closing",
        "_gone",
        "_handler",
        "_hop",
        "_parser",
        "_plain",
        "_queued",
        "_timed",
        "_tunnel",
        "_writable",
        "_ws",
        "keep_alive",
        "session",
        "transport",
    )

    transport: asyncio.Transport

    def __init__(self, handler: HttpHandler) -> None:
        self._handler = handler
        self._parser: RequestParser | None = None
        self._queued: list[Request] | None = None
        self._busy = False
        self._ws: ws.WsParser | None = None
        self._closing = False
        self._gone: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._address: str | None = None
        self._timed = _UNTIMED  # (request number, phase) the request clock runs for
        self._tunnel: asyncio.StreamWriter | None = None  # a WebSocket passed to its owner
        self._hop: Hop | None = None  # a request passed to its session's owner
        self._plain: WsConn | None = None  # a plain WebSocket endpoint's connection
        self.keep_alive = True
        self.session: EioSession | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        handler = self._handler
        address = _address(transport.get_extra_info("peername"))
        if address is not None:
            if not handler.admit(address):
                self._closing = True
                self.transport.write(_TOO_MANY)
                self.transport.close()
                return
            self._address = address
        self.transport.set_write_buffer_limits(high=BACKLOG)
        self._parser = handler.parser()
        handler.connections.add(self)
        handler.idle.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        handler = self._handler
        handler.connections.discard(self)
        for queue in (handler.idle, handler.head_due, handler.body_due, handler.lingering):
            queue.remove(self)
        if self._address is not None:
            handler.release(self._address)
            self._address = None
        if self._tunnel is not None:
            self._tunnel.transport.abort()
            self._tunnel = None
        if self._hop is not None:
            self._hop.cancel()  # the owner sees its request's connection go too
            self._hop = None
        plain, self._plain = self._plain, None
        if plain is not None:
            plain.lost()
            return
        session, self.session = self.session, None
        handler.eio.connection_lost(self, session)
        for future in (self._gone, self._writable):
            if future is not None and not future.done():
                future.set_result(None)

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)
        plain = self._plain
        if plain is not None:
            plain.endpoint.writable(plain)
            return
        self._handler.eio.writable(self)

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._to_tunnel(data)
            return
        if self._plain is not None:
            self._plain_received(data)
            return
        if self._ws is not None:
            self._ws_received(data)
            return
        parser = self._parser
        if parser is None or self._closing:
            return
        begun = parser.begun
        try:
            requests = parser.feed(data)
        except HttpError as error:
            self._fail(error.status)
            return
        if parser.begun != begun:
            self._handler.idle.remove(self)
        if parser.wants_continue() and not self._busy and not requests:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        for request in requests:
            if self._busy or self._queued:
                if self._queued is None:
                    self._queued = []
                self._queued.append(request)
                self.transport.pause_reading()
            else:
                self._dispatch(request)
            if self._ws is not None or self._closing:
                return
        self._time_request()

    def _time_request(self) -> None:
        """Run the clock of the request that is arriving, if any: `head_timeout` for its
        head, then `body_timeout` for its body. Stopped while reading is paused."""
        parser = self._parser
        if parser is None or self._ws is not None:
            return
        phase = parser.phase if not self._queued else IDLE
        timed = (parser.begun, phase)
        if timed == self._timed:
            return
        self._timed = timed
        handler = self._handler
        handler.head_due.remove(self)
        handler.body_due.remove(self)
        if phase == HEAD:
            handler.head_due.add(self)
        elif phase == BODY:
            handler.body_due.add(self)

    def too_slow(self) -> None:
        """A request's head or body did not arrive in time."""
        if self._closing or self._ws is not None:
            return
        if self._busy:  # answering an earlier request: no room for a 408 in between
            self._close()
            return
        self.keep_alive = False
        self.respond(408, b"Request Timeout")

    # --- requests ------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        if request.upgrade:
            if (request.header(b"upgrade") or "").lower() == "websocket":
                self._upgrade(request)
                return
            request.keep_alive = False  # h2c or the like: answer as HTTP/1.1, then close
        self.keep_alive = request.keep_alive
        try:
            url = httptools.parse_url(request.url)
        except httptools.HttpParserInvalidURLError:
            self._fail(400)
            return
        raw_path = url.path or b"/"
        query = url.query or b""
        handler = self._handler
        self._busy = True  # until the answer is out: what comes meanwhile waits its turn
        if raw_path.rstrip(b"/") == handler.engine_path:
            params = dict(parse_qsl(query.decode("latin-1")))
            forwarder = handler.forwarder
            if forwarder is not None and not request.too_big:
                owner = forwarder.foreign(params.get("sid"), handler.eio.sessions.__contains__)
                if owner is not None:
                    self._forward(owner, request, params)
                    return
            if request.too_big:
                self.keep_alive = False
                handler.eio.body_too_big(self, params)
                return
            handler.eio.handle_request(
                self,
                request.method,
                params,
                request.header(b"origin"),
                request.header(b"host"),
                bytes(request.body),
            )
            return
        if request.too_big:
            self._busy = False
            self._fail(413)
            return
        scope = self._scope(request, raw_path, query)
        task = asyncio.get_running_loop().create_task(
            run_asgi(handler.app, self, scope, bytes(request.body))
        )
        handler.tasks.add(task)
        task.add_done_callback(self._asgi_done)

    def _asgi_done(self, task: asyncio.Task[None]) -> None:
        self._handler.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("HTTP app failed", exc_info=task.exception())

    def _scope(self, request: Request, raw_path: bytes, query: bytes) -> MutableMapping[str, Any]:
        server = self.transport.get_extra_info("sockname")
        client = self.transport.get_extra_info("peername")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")),  # ASGI: percent-decoded, UTF-8
            "raw_path": raw_path,
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
            *self._handler.security_headers,
            *(headers or ()),
        ]
        if not self.keep_alive:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if self._ws is None:
            self.session = None
        self.response_done()

    # --- asgi_bridge.Responder -----------------------------------------------------------

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        return self._handler.asgi_headers

    def write(self, data: bytes) -> None:
        if not self._closing:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the client is more than BACKLOG bytes behind."""
        if self._closing or self.transport.get_write_buffer_size() <= BACKLOG:
            return
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._writable)

    def response_done(self) -> None:
        self._busy = False
        if not self.keep_alive:
            self._close()
            return
        queued = self._queued
        if queued:
            request = queued.pop(0)
            if not queued:
                self._queued = None
                self.transport.resume_reading()
            self._dispatch(request)
            self._time_request()
        elif self._ws is None and not self._closing:
            self._handler.idle.add(self)

    def idle_timeout(self) -> None:
        parser = self._parser
        idle = parser is not None and parser.phase == IDLE and not self._queued
        if idle and not self._busy and self._ws is None and not self._closing:
            self._close()

    def disconnected(self) -> asyncio.Future[None]:
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self._closing:
                self._gone.set_result(None)
        return self._gone

    def _close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._ws is not None and self.transport.can_write_eof():
            # A lingering close (RFC 6455 has the client close the TCP connection first):
            # our FIN goes after what is buffered, and what the client sends meanwhile is
            # read and dropped until it closes. Closing outright would answer those bytes
            # with a reset, which makes the client's system throw away what it had not
            # read yet of ours, such as the last acknowledgements before a drain's close.
            try:
                self.transport.write_eof()
            except OSError:  # the client is gone already
                self.transport.close()
        else:
            self.transport.close()  # sends what is buffered first: bounded by LINGER
        self._handler.lingering.add(self)

    def linger_ended(self) -> None:
        self.transport.abort()

    # --- WebSocket -----------------------------------------------------------------------

    def _upgrade(self, request: Request) -> None:
        handler = self._handler
        eio = handler.eio
        self.keep_alive = False  # any answer but the 101 ends the connection
        try:
            url = httptools.parse_url(request.url)
        except httptools.HttpParserInvalidURLError:
            self._fail(400)
            return
        path = (url.path or b"").rstrip(b"/")
        endpoint = handler.endpoints.get(path)
        if path != handler.engine_path and endpoint is None:
            self._fail(404)
            return
        key = request.header(b"sec-websocket-key")
        if request.method != "GET" or key is None or not _valid_key(key):
            self._refuse(BAD_REQUEST)
            return
        if request.header(b"sec-websocket-version") != "13":
            self.respond(426, b"Upgrade Required", headers=["Sec-WebSocket-Version: 13"])
            return
        if endpoint is not None:
            self._open_plain(endpoint, request, key)
            return
        params = dict(parse_qsl((url.query or b"").decode("latin-1")))
        forwarder = handler.forwarder
        if forwarder is not None:
            owner = forwarder.foreign(params.get("sid"), eio.sessions.__contains__)
            if owner is not None:
                self._parser = None  # whatever follows the head belongs to the owner
                for queue in (handler.idle, handler.head_due, handler.body_due):
                    queue.remove(self)
                self._start(self._open_tunnel(owner, request))
                return
        error = eio.websocket_allowed(params, request.header(b"origin"), request.header(b"host"))
        if error is not None:
            self._refuse(error)
            return
        head = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ws.accept_key(key).encode() + b"\r\n\r\n"
        )
        self._parser = None
        self._timed = _UNTIMED  # no request clock runs on a WebSocket: nothing to keep
        self._ws = ws.WsParser(eio.options.max_payload)
        for queue in (handler.idle, handler.head_due, handler.body_due):
            queue.remove(self)
        session = eio.websocket_opened(self, params, head)
        if session is None:
            self.close_ws(ws.POLICY, "session already upgrading or upgraded")
            return
        self.session = session
        if request.rest:
            self._ws_received(request.rest)

    def _open_plain(self, endpoint: WsEndpoint, request: Request, key: str) -> None:
        refusal = endpoint.refusal(
            request.header(b"origin"),
            request.header(b"host"),
            request.header(b"sec-websocket-protocol"),
        )
        if refusal is not None:
            status, body = refusal
            self.respond(status, body.encode())
            return
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ws.accept_key(key).encode() + b"\r\n"
            b"Sec-WebSocket-Protocol: " + endpoint.options.subprotocol.encode() + b"\r\n\r\n"
        )
        self._parser = None
        self._ws = ws.WsParser(endpoint.options.max_payload)
        handler = self._handler
        for queue in (handler.idle, handler.head_due, handler.body_due):
            queue.remove(self)
        self._plain = endpoint.open(self)
        if request.rest:
            self._plain_received(request.rest)

    def _plain_received(self, data: bytes) -> None:
        parser, conn = self._ws, self._plain
        if parser is None or conn is None or self._closing:
            return
        try:
            messages = parser.feed(data)
        except ws.WsError as error:
            conn.close(error.code, error.reason)
            return
        endpoint = conn.endpoint
        for opcode, payload in messages:
            if opcode == ws.TEXT and isinstance(payload, str):
                endpoint.received(conn, payload)
            elif opcode == ws.BINARY:
                conn.close(UNSUPPORTED_DATA, "binary frames are not accepted: send JSON text")
            elif isinstance(payload, str):
                continue
            elif opcode == ws.PING:
                self.transport.write(ws.frame(ws.PONG, payload))
            elif opcode == ws.PONG:
                endpoint.pong(conn)
            elif opcode == ws.CLOSE:
                conn.close(ws.close_code(payload) or ws.NORMAL, "")
            if self._closing or not conn.open:
                return

    # --- another node's session (forward.py) -----------------------------------------------

    def _start(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._handler.tasks.add(task)
        task.add_done_callback(self._asgi_done)

    def _forward(self, owner: str, request: Request, params: dict[str, str]) -> None:
        forwarder = self._handler.forwarder
        assert forwarder is not None
        answered = partial(self._forwarded, request, params)
        self._hop = forwarder.send(owner, request_bytes(request), answered)

    def _forwarded(self, request: Request, params: dict[str, str], answer: bytes | None) -> None:
        self._hop = None
        if self._closing:
            return
        if answer is None:  # the owner is gone: as for any session nobody knows
            self._handler.eio.handle_request(
                self,
                request.method,
                params,
                request.header(b"origin"),
                request.header(b"host"),
                bytes(request.body),
            )
            return
        self.transport.write(relay(answer, self.keep_alive))
        self.response_done()

    async def _open_tunnel(self, owner: str, request: Request) -> None:
        forwarder = self._handler.forwarder
        assert forwarder is not None
        opened = await forwarder.tunnel(owner, request_bytes(request))
        if self._closing:
            if opened is not None:
                opened[1].transport.abort()
            return
        if opened is None:
            self._refuse(UNKNOWN_SID)
            return
        reader, writer = opened
        self._tunnel = writer
        await pipe(reader, self.write, self.drain)
        self._close()

    def _to_tunnel(self, data: bytes) -> None:
        tunnel = self._tunnel
        assert tunnel is not None
        tunnel.write(data)
        if tunnel.transport.get_write_buffer_size() > BACKLOG:
            self.transport.pause_reading()
            self._start(self._tunnel_drained(tunnel))

    async def _tunnel_drained(self, tunnel: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await tunnel.drain()
        if not self._closing:
            self.transport.resume_reading()

    def _refuse(self, error: Refusal) -> None:
        status, code, message = error
        self.respond(status, orjson.dumps({"code": code, "message": message}), "application/json")

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
            self._handler.eio.close_session(session, reason, code=error.code)
            return
        eio = self._handler.eio
        for opcode, payload in messages:
            if opcode == ws.TEXT or opcode == ws.BINARY:
                eio.websocket_packet(self, session, payload)
            elif isinstance(payload, str):
                continue
            elif opcode == ws.PING:
                self.transport.write(ws.frame(ws.PONG, payload))
            elif opcode == ws.CLOSE:
                # Echo the peer's code (the parser let only valid ones through). The link
                # takes no more writes from here (its FIN is queued): the session hears now
                # that it is gone, not when the TCP connection ends.
                self.close_ws(ws.close_code(payload) or ws.NORMAL, "")
                self.session = None
                eio.connection_lost(self, session)
            if self._closing:
                return

    @property
    def closing(self) -> bool:
        """Whether the connection is closing: nothing more may be written to it."""
        return self._closing

    def close_ws(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self.transport.write(ws.close_frame(code, reason))
        self._close()

    def _fail(self, status: int) -> None:
        self.keep_alive = False
        if self._busy:  # an answer is under way: a second one would break the stream
            self._close()
            return
        self.respond(status, reason(status).encode())


def _address(peer: Any) -> str | None:
    """What connections are counted by (see `address_key`); None for a peer that is not IP
    (a Unix socket)."""
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return None
    return address_key(peer[0])


def _valid_key(key: str) -> bool:
    """RFC 6455: the key is 16 random bytes, base64-encoded."""
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False
