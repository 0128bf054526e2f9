"""Test support: a real rtchat server on a free port, and recording Socket.IO clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from rtchat.app import Application, running_app
from rtchat.engine import Server
from rtchat.settings import Settings

WAIT = 5.0
Connect = Callable[..., Awaitable["ChatClient"]]
_sentinels = itertools.count()


def ok(answer: Any) -> Any:
    """The data of a successful acknowledgement (fails the test on an error answer)."""
    assert answer["ok"] is True, answer
    return answer["data"]


def error_code(answer: Any) -> str:
    """The code of an error acknowledgement, which must carry a message too."""
    assert answer["ok"] is False, answer
    assert answer["error"]["message"]
    return str(answer["error"]["code"])


async def refused(client: ChatClient, request: tuple[str, Any], code: str, *, no_ack: bool) -> None:
    """`request` is answered `code` with a message; with `no_ack`, sent again without a
    callback, it is answered by the same `error` event."""
    event, payload = request
    answer = await client.call(event, payload)
    assert answer["ok"] is False, (request, answer)
    assert answer["error"]["code"] == code, (request, answer)
    assert isinstance(answer["error"]["message"], str)
    assert answer["error"]["message"]
    if no_ack:
        # Without a callback the same failure comes as an `error` event, before the
        # answer to the next request on this connection.
        errors = len(client.events("error"))
        await client.sio.emit(event, payload)
        await client.call("list-rooms")
        assert client.events("error")[errors:] == [answer["error"]], request


async def sentinel(sender: ChatClient, *watchers: ChatClient) -> Any:
    """Post a message in `general`, which every connection hears, and wait until every
    watcher has it. One connection's events arrive in the order the server sent them,
    so a watcher that has the sentinel has everything sent to it before: absence is
    proved this way, never by sleeping."""
    text = f"sentinel {next(_sentinels)}"
    sent = ok(await sender.call("send-message", text))
    for watcher in watchers:
        await watcher.wait_for("receive-message", lambda d: d["message"] == text)
    return sent


async def until_connections(server: str, count: int) -> None:
    """Wait until the server counts `count` open connections (so a close was handled):
    what a sentinel sent after that shows has seen the close's consequences too."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(WAIT):
        while True:
            async with http.get(server + "/healthz") as response:
                if (await response.json())["connections"] == count:
                    return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[tuple[str, Application]]:
    """Serve rtchat with its engine on 127.0.0.1 and a free port, in this loop."""
    async with running_app(settings) as application, _serving(application) as url:
        yield url, application


@contextlib.asynccontextmanager
async def _serving(application: Application) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = Server(application.sio, application.asgi, endpoints=application.endpoints)
    await server.start(sock)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop(grace=1)
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


READY_LINE = "rtchat listening on "


def listening_url(process: subprocess.Popen[str], within: float = 15.0) -> str:
    """The URL an `rtchat serve` subprocess says it listens on (its stdout, text mode)."""
    assert process.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(READY_LINE):
            return line.split()[-1]
        if not line and process.poll() is not None:
            break
    raise AssertionError("server did not start")
