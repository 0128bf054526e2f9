"""A TCP proxy on 127.0.0.1 whose connections a test can cut or freeze, like a bad network.

Any protocol passes through it as bytes (Redis, PostgreSQL, HTTP). A proxy made with
`frames=True` also reads the WebSocket frames the server sends through it, and can cut
the network at an exact message (`cut_on`): the one way to lose, say, one
acknowledgement for certain rather than by racing a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable

Match = Callable[[bytes], bool]


class CuttableProxy:
    def __init__(self, target_port: int, *, frames: bool = False) -> None:
        self._target_port = target_port
        self._frames = frames
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._trap: tuple[Match, asyncio.Future[bytes]] | None = None
        self.down = False
        """While True, new connections are accepted and closed at once (a refused link)."""
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

    def freeze(self) -> None:
        """Keep every connection open but pass no byte on, as a server that hangs would.

        What arrives meanwhile is held, and passed on by `thaw` (a network that recovers
        delivers what it was retransmitting), unless its connection was closed by then.
        """
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def cut_on(self, match: Match) -> asyncio.Future[bytes]:
        """Cut every connection instead of passing on the first WebSocket message from
        the server whose payload satisfies `match`: the server sent it, the client never
        gets it. Returns a future that resolves to that payload once it happened.

        Needs `frames=True`. Only WebSocket connections are read; long-polling responses
        pass unread.
        """
        assert self._frames, "cut_on reads WebSocket frames: make the proxy with frames=True"
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
        from_server = (
            self._from_server(up_reader, writer)
            if self._frames
            else _pipe(up_reader, writer, self._flowing)
        )
        await asyncio.gather(_pipe(reader, up_writer, self._flowing), from_server)
        self._links.difference_update((writer, up_writer))

    async def _from_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            if head.startswith(b"HTTP/1.1 101 "):
                await self._pass_frames(reader, writer)
            else:
                await _pipe(reader, writer, self._flowing)
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
            await self._flowing.wait()
            writer.write(header + extended + mask + payload)
            await writer.drain()


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
async def cuttable(
    target_url: str, *, frames: bool = False
) -> AsyncIterator[tuple[CuttableProxy, str]]:
    proxy = CuttableProxy(int(target_url.rsplit(":", 1)[1]), frames=frames)
    await proxy.start()
    try:
        yield proxy, f"http://127.0.0.1:{proxy.port}"
    finally:
        await proxy.close()
