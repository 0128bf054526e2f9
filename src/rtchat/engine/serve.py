"""Serving: the engine and an ASGI app on one listening socket, under uvloop or asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from rtchat.engine.asgi_bridge import ASGIApp
from rtchat.engine.forward import Forwarder
from rtchat.engine.http import HttpHandler
from rtchat.engine.plain_ws import WsEndpoint
from rtchat.engine.server import SocketServer


class Server:
    """Accepts connections on `sock` for `sio` (at `path`), the plain WebSocket
    `endpoints` (each at its own path) and `app` (every other path).

    With a `forwarder`, requests for other nodes' sessions are passed to them; then
    `start_internal` opens the listener where the other nodes pass theirs to this one.
    """

    def __init__(
        self,
        sio: SocketServer,
        app: ASGIApp,
        *,
        path: str = "/socket.io/",
        forwarder: Forwarder | None = None,
        endpoints: tuple[WsEndpoint, ...] = (),
    ) -> None:
        self.sio = sio
        self._forwarder = forwarder
        self._endpoints = endpoints
        self._handler = HttpHandler(sio.eio, app, path, forwarder=forwarder, endpoints=endpoints)
        self._internal_handler = HttpHandler(sio.eio, app, path, internal=True)
        self._server: asyncio.Server | None = None
        self._internal: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> tuple[str, int]:
        """Serve on `sock` (bound); the address it listens on."""
        host, port = sock.getsockname()[:2]
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._handler, sock=sock, backlog=4096)
        return str(host), int(port)

    async def start_internal(self, host: str, port: int = 0) -> tuple[str, int]:
        """Listen for the other nodes' forwarded requests; the address bound."""
        loop = asyncio.get_running_loop()
        self._internal = await loop.create_server(self._internal_handler, host, port, backlog=4096)
        bound = self._internal.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def stop(self, grace: float = 3.0) -> None:
        """Stop accepting, close every session (disconnect handlers run), then connections."""
        for server in (self._server, self._internal):
            if server is not None:
                server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sio.shutdown(), grace)
        for endpoint in self._endpoints:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(endpoint.shutdown(), grace)
        if self._forwarder is not None:
            await self._forwarder.close()
        for handler in (self._handler, self._internal_handler):
            await _close_connections(handler, grace)
        for server in (self._server, self._internal):
            if server is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), grace)
        for handler in (self._handler, self._internal_handler):
            for conn in list(handler.connections):
                conn.transport.abort()  # a client that never took its last bytes


async def _close_connections(handler: HttpHandler, grace: float) -> None:
    for conn in list(handler.connections):
        conn.transport.close()
    for clock in (handler.idle, handler.head_due, handler.body_due, handler.lingering):
        clock.close()
    tasks = list(handler.tasks)
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
