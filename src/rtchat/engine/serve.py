"""Serving: the engine and an ASGI app on one listening socket, under uvloop or asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from rtchat.engine.asgi_bridge import ASGIApp
from rtchat.engine.forward import Forwarder
from rtchat.engine.http import HttpHandler
from rtchat.engine.server import SocketServer

# Of a stop's time, the share that draining may take; the rest closes what is left.
DRAIN_SHARE = 0.8
MIN_STEP = 0.1  # seconds


class Server:
    """Accepts connections on `sock` for `sio` (at `path`) and `app` (every other path).

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
    ) -> None:
        self.sio = sio
        self._forwarder = forwarder
        self._handler = HttpHandler(sio, app, path, forwarder=forwarder)
        self._internal_handler = HttpHandler(sio, app, path, internal=True)
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
        """Stop accepting; drain (each session closes, its client told to reconnect, once
        what it sent is answered); close what is left (disconnect handlers run), then the
        connections. Takes about `grace` seconds at most."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace

        def left() -> float:
            # Each later step gets a moment even past the deadline: with no time at all,
            # `wait_for` would cancel it before it starts.
            return max(deadline - loop.time(), MIN_STEP)

        for server in (self._server, self._internal):
            if server is not None:
                server.close()
        await self.sio.drain(grace * DRAIN_SHARE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sio.shutdown(), left())
        if self._forwarder is not None:
            await self._forwarder.close()
        for handler in (self._handler, self._internal_handler):
            await _close_connections(handler, left())
        for server in (self._server, self._internal):
            if server is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), left())
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
