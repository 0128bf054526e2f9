"""A TCP proxy on 127.0.0.1 whose connections a test can cut, like a network that drops.

It can also read the WebSocket frames the server sends through it and cut the network at
an exact message (`cut_on`): the one way to lose, say, one acknowledgement for certain
rather than by racing a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable

Match = Callable[[bytes], bool]


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._trap: tuple[Match, asyncio.Future[bytes]] | None = None
        self.down = False
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection at once, as a broken network would."""
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def cut_on(self, match: Match) -> asyncio.Future[bytes]:
        """Cut every connection instead of passing on the first WebSocket message from
        the server whose payload satisfies `match`: the server sent it, the client never
        gets it. Returns a future that resolves to that payload once it happened.

        Only WebSocket connections are read; long-polling responses pass unread.
        """
        dropped: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._trap = (match, dropped)
        return dropped

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
        await asyncio.gather(_pipe(reader, up_writer), self._from_server(up_reader, writer))

    async def _from_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            if head.startswith(b"HTTP/1.1 101 "):
                await self._pass_frames(reader, writer)
            else:
                await _pipe(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        writer.transport.abort()

    async def _pass_frames(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # RFC 6455 framing, as much as a server sends: no extensions are negotiated.
        while True:
            header = await reader.readexactly(2)
            length = header[1] & 0x7F
            extended = b""
            if length == 126:
                extended = await reader.readexactly(2)
                (length,) = struct.unpack("!H", extended)
            elif length == 127:
                extended = await reader.readexactly(8)
                (length,) = struct.unpack("!Q", extended)
            mask = await reader.readexactly(4) if header[1] & 0x80 else b""
            payload = await reader.readexactly(length)
            if self._trap is not None and not mask:
                match, dropped = self._trap
                if match(payload):
                    self._trap = None
                    self.cut()
                    if not dropped.done():
                        dropped.set_result(payload)
                    return
            writer.write(header + extended + mask + payload)
            await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
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
