"""A recording client of rtchat's plain WebSocket protocol (`/ws`, `rtchat.v1`), on the
`websockets` library: the kind of client any program would write."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets

WAIT = 5.0
SUBPROTOCOL = "rtchat.v1"
_NO_DATA = object()


def ws_url(server: str) -> str:
    return server.replace("http://", "ws://", 1) + "/ws"


@dataclass
class WsClient:
    """Replies are matched to requests by id; pushes are recorded in order; `frames`
    holds every message the server sent, as parsed."""

    ws: websockets.ClientConnection
    frames: list[Any] = field(default_factory=list)
    received: list[tuple[str, Any]] = field(default_factory=list)
    _waiting: dict[Any, asyncio.Future[Any]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _reader: asyncio.Task[None] | None = None
    connection_id: str | None = None

    @classmethod
    async def open(cls, server: str, **options: Any) -> WsClient:
        ws = await websockets.connect(
            ws_url(server), subprotocols=[websockets.Subprotocol(SUBPROTOCOL)], **options
        )
        client = cls(ws)
        client._reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = orjson.loads(raw)
                self.frames.append(message)
                if "id" in message:
                    waiter = self._waiting.pop(message["id"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
                else:
                    self.received.append((message["event"], message["data"]))
                self._changed.set()
        self._changed.set()

    async def send_raw(self, message: Any) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def request(self, message: dict[str, Any]) -> Any:
        """Send a request with the id it carries; its reply."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[message["id"]] = waiter
        await self.send_raw(message)
        async with asyncio.timeout(WAIT):
            return await waiter

    async def call(self, op: str, data: Any = _NO_DATA) -> Any:
        """`op` with `data` (none if not given); the reply as `{ok, data | error}`."""
        message: dict[str, Any] = {"id": next(self._ids), "op": op}
        if data is not _NO_DATA:
            message["data"] = data
        reply = await self.request(message)
        assert reply["id"] == message["id"]
        return {k: v for k, v in reply.items() if k != "id"}

    async def hello(self, **auth: Any) -> dict[str, Any]:
        answer = await self.call("hello", auth)
        assert answer["ok"], answer
        self.connection_id = answer["data"]["connectionId"]
        return answer["data"]  # type: ignore[no-any-return]

    async def join(self, name: str) -> dict[str, Any]:
        return await self.hello(username=name)

    def events(self, name: str) -> list[Any]:
        return [data for event, data in self.received if event == name]

    async def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _: True, within: float = WAIT
    ) -> Any:
        async with asyncio.timeout(within):
            while True:
                for event, data in self.received:
                    if event == name and match(data):
                        return data
                self._changed.clear()
                await self._changed.wait()

    async def closed(self) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        async with asyncio.timeout(WAIT):
            await self.ws.wait_closed()
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader
