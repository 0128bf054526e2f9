"""One connection to Redis speaking RESP2, for the fan-out's two links, parsed by hiredis.

Written for the fan-out rather than taken from redis-py (which runs every other command):

- A received publication goes to the relay inside `data_received`, with no task, future
  or lock per message; redis-py's pub/sub hands each one through a retry wrapper, an
  awaited metrics hook and a dict.
- Publications are written in one `transport.write` per loop iteration, however many,
  and their replies (subscriber counts) are read and dropped: no future per PUBLISH.
- The fan-out needs to know the moment its subscriptions are back after an outage, to
  read the store for what it missed; redis-py resubscribes silently inside a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

import hiredis

from rtchat.redislink import CONNECT_TIMEOUT, RedisAddress

log = logging.getLogger(__name__)

Reply = Any  # what hiredis builds: bytes, int, list, hiredis.ReplyError, or None


def command(*args: bytes) -> bytes:
    """One RESP2 command: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    """Feeds every reply to `on_reply` as it is parsed; `on_lost` once, when it closes."""

    def __init__(self, on_reply: Callable[[Reply], None], on_lost: Callable[[], None]) -> None:
        self._on_reply = on_reply
        self._on_lost = on_lost
        self._reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                self._on_reply(reply)
        except hiredis.ProtocolError:
            log.error("Redis sent bytes that are not RESP; reconnecting")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._on_lost()

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    address: RedisAddress, on_reply: Callable[[Reply], None], on_lost: Callable[[], None]
) -> RespConnection:
    """Open a connection, authenticate and PING; raises `OSError` (or `TimeoutError`) if
    Redis cannot be reached, does not answer, or refuses the credentials."""
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[Reply]] = []

    def during_setup(reply: Reply) -> None:
        if waiting:
            waiting.pop(0).set_result(reply)

    def lost_during_setup() -> None:
        for future in waiting:
            if not future.done():
                future.set_exception(OSError("the connection closed"))

    conn = RespConnection(during_setup, lost_during_setup)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await _setup(loop, conn, waiting, address)
    except BaseException:
        conn.close()
        raise
    conn._on_reply, conn._on_lost = on_reply, on_lost
    if not conn.open:
        raise OSError("the connection closed")
    return conn


async def _setup(
    loop: asyncio.AbstractEventLoop,
    conn: RespConnection,
    waiting: list[asyncio.Future[Reply]],
    address: RedisAddress,
) -> None:
    if address.path is not None:
        await loop.create_unix_connection(lambda: conn, address.path)
    else:
        await loop.create_connection(
            lambda: conn, address.host, address.port, ssl=address.ssl_context()
        )
    if address.password is not None:
        auth = [address.username.encode()] if address.username else []
        reply = await _ask(conn, waiting, b"AUTH", *auth, address.password.encode())
        if isinstance(reply, hiredis.ReplyError):
            raise OSError(f"Redis refused the credentials: {reply}")
    # A link is up once Redis answered on it, not when a proxy in between accepted it.
    if await _ask(conn, waiting, b"PING") != b"PONG":
        raise OSError("Redis did not answer PING")


async def _ask(conn: RespConnection, waiting: list[asyncio.Future[Reply]], *args: bytes) -> Reply:
    future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    waiting.append(future)
    conn.write(command(*args))
    return await future
