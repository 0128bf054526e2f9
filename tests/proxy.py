"""A TCP proxy on 127.0.0.1 whose connections a test can cut or freeze, like a bad network."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.down = False
        """While True, new connections are accepted and closed at once (a refused link)."""
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        self._flowing.set()  # frozen pipes wake, find their links aborted and end
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection at once, as a broken network would."""
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def freeze(self) -> None:
        """Keep every connection open but pass no byte on, as a server that hangs would.

        What arrives meanwhile is held, and passed on by `thaw` (a network that recovers
        delivers what it was retransmitting), unless its connection was closed by then.
        """
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))
        await asyncio.gather(
            _pipe(reader, up_writer, self._flowing), _pipe(up_reader, writer, self._flowing)
        )
        self._links.difference_update((writer, up_writer))


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            await flowing.wait()
            if writer.transport.is_closing():
                break
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@contextlib.asynccontextmanager
async def cuttable(target_url: str) -> AsyncIterator[tuple[CuttableProxy, str]]:
    proxy = CuttableProxy(int(target_url.rsplit(":", 1)[1]))
    await proxy.start()
    try:
        yield proxy, f"http://127.0.0.1:{proxy.port}"
    finally:
        await proxy.close()
