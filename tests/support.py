"""Test support: a real rtchat server on a free port, and recording Socket.IO clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
import uvicorn

from rtchat.app import Application, running_app
from rtchat.settings import Settings

WAIT = 5.0


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[tuple[str, Application]]:
    """Serve rtchat with uvicorn on 127.0.0.1 and a free port, in this loop."""
    async with running_app(settings) as application, _serving(application) as url:
        yield url, application


@contextlib.asynccontextmanager
async def _serving(application: Application) -> AsyncIterator[str]:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it an ack that follows a broadcast waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application.asgi,
        lifespan="off",
        log_level="warning",
        http="httptools",
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@dataclass
class ChatClient:
    """A python-socketio AsyncClient that records every event it receives."""

    url: str
    transports: list[str] | None = None
    auth: dict[str, Any] | None = None  # sent in the CONNECT packet, e.g. {"token": ...}
    sio: socketio.AsyncClient = field(init=False)
    received: list[tuple[str, Any]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)

        @self.sio.on("*")
        async def record(event: str, data: Any = None) -> None:
            self.received.append((event, data))
            self._changed.set()

    async def connect(self) -> ChatClient:
        await self.sio.connect(
            self.url, transports=self.transports, auth=self.auth, wait_timeout=WAIT
        )
        return self

    async def call(self, event: str, *args: Any) -> Any:
        """Emit with an acknowledgement callback and return the answer."""
        payload: Any = args[0] if len(args) == 1 else (args if args else None)
        if not args:
            return await self.sio.call(event, timeout=WAIT)
        return await self.sio.call(event, payload, timeout=WAIT)

    async def join(self, name: str) -> dict[str, Any]:
        answer = await self.call("user-joined", name)
        assert answer["ok"], answer
        return answer["data"]  # type: ignore[no-any-return]

    def events(self, name: str) -> list[Any]:
        return [data for event, data in self.received if event == name]

    async def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _: True, within: float = WAIT
    ) -> Any:
        """The first `name` event whose payload satisfies `match`, waiting up to `within` s."""
        async with asyncio.timeout(within):
            while True:
                for event, data in self.received:
                    if event == name and match(data):
                        return data
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        await self.sio.disconnect()
