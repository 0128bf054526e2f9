"""Serving: the engine and an ASGI app on one listening socket, under uvloop or asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from rtchat.engine.asgi_bridge import ASGIApp
from rtchat.engine.http import HttpHandler
from rtchat.engine.server import SocketServer


class Server:
    """Accepts connections on `sock` for `sio` (at `path`) and `app` (every other path)."""

    def __init__(self, sio: SocketServer, app: ASGIApp, *, path: str = "/socket.io/") -> None:
        self.sio = sio
        self._handler = HttpHandler(sio, app, path)
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._handler, sock=sock, backlog=4096)

    async def stop(self, grace: float = 3.0) -> None:
        """Stop accepting, close every session (disconnect handlers run), then connections."""
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sio.shutdown(), grace)
        handler = self._handler
        for conn in list(handler.connections):
            conn.transport.close()
        for clock in (handler.idle, handler.head_due, handler.body_due, handler.lingering):
            clock.close()
        tasks = list(handler.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), grace)
        for conn in list(handler.connections):
            conn.transport.abort()  # a client that never took its last bytes
