"""Requests for another node's Engine.IO session, passed to that node and answered as it
answers: no sticky sessions at the load balancer.

A session id starts with the tag of the node that made it (`<tag>.<random>`). A polling
GET or POST whose sid names another node is written, as it came, to that node's internal
address (`Peers.resolve`, over a small pool of keep-alive connections), and the answer is
written back unchanged; a WebSocket upgrade for such a sid becomes a tunnel to the owner,
which then carries the frames both ways. The owner's internal listener never forwards
(`forwarding=False`), so a request cannot go round in circles; a sid whose owner is gone
(no address, or it refuses) is answered exactly as an unknown sid is.

What it costs: one more hop for each forwarded request (a connection from the pool, the
request and its answer copied once each way) and, for a tunnelled WebSocket, every frame
copied once more. A client whose polling requests reach the owner pays nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import httptools

from rtchat.engine.http_parse import Request

log = logging.getLogger(__name__)

Address = tuple[str, int]

CONNECT_TIMEOUT = 2.0
IDLE_PER_PEER = 16  # keep-alive connections kept open to each peer
ANSWER_TIMEOUT = 120.0  # a pending GET waits at most pingInterval; this is a backstop
MAX_ANSWER = 16 * 1024 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) are the link's, not the request's.
_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding"}
)
FORWARDED_FOR = b"x-rtchat-forwarded-for"


class Peers(Protocol):
    """Where the other nodes take forwarded requests (the app keeps it in Redis)."""

    tag: str
    """This node's tag: the first part of every sid it makes."""

    async def resolve(self, tag: str) -> Address | None:
        """The internal address of the node tagged `tag`; None if no such node is alive."""
        ...


def tag_of(sid: str) -> str | None:
    """The node tag a sid starts with; None for a sid without one."""
    tag, dot, _ = sid.partition(".")
    return tag if dot and tag else None


def request_bytes(request: Request, client: str | None) -> bytes:
    """`request` as it came (minus the link's own headers), with who sent it."""
    lines = [f"{request.method} ".encode() + request.url + b" HTTP/1.1"]
    skip = _HOP | {b"content-length", FORWARDED_FOR, b"upgrade"}
    for name, value in request.headers:
        if name not in skip:
            lines.append(name + b": " + value)
    if client is not None:
        lines.append(FORWARDED_FOR + b": " + client.encode())
    if request.upgrade:
        lines += [b"connection: Upgrade", b"upgrade: websocket"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + request.rest
    lines.append(b"content-length: %d" % len(request.body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + bytes(request.body)


class _Answer:
    """httptools callbacks: one response, whole."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.done = False
        self.status = 0
        self.keep_alive = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body
        if len(self.body) > MAX_ANSWER:
            raise ValueError("answer too big")

    def on_message_complete(self) -> None:
        self.done = True


class _Link:
    """One keep-alive connection to a peer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, data: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        self.writer.write(data)
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.done:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("the peer closed the connection")
            parser.feed_data(chunk)
        status = parser.get_status_code()
        return status, answer.headers, bytes(answer.body), parser.should_keep_alive()

    def close(self) -> None:
        self.writer.transport.abort()


class Forwarder:
    """Passes requests for other nodes' sessions on; one per node."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers
        self._idle: dict[Address, list[_Link]] = {}
        self.forwarded = 0
        """Requests passed on so far (polling and upgrades)."""

    def foreign(self, sid: str | None, local: Callable[[str], bool]) -> str | None:
        """The tag of the node owning `sid` if it is not this one and not known here."""
        if sid is None or local(sid):
            return None
        tag = tag_of(sid)
        return tag if tag is not None and tag != self.peers.tag else None

    async def exchange(
        self, tag: str, data: bytes, gone: Awaitable[None]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """Send a request to the node `tag`, and its answer; None if that node is not
        there to answer (gone, refusing, or the link broke), or the client left (`gone`)."""
        address = await self.peers.resolve(tag)
        if address is None:
            return None
        self.forwarded += 1
        for attempt in range(2):  # a pooled link may have been closed by the peer meanwhile
            link = await self._link(address, fresh=attempt > 0)
            if link is None:
                return None
            exchange = asyncio.ensure_future(link.exchange(data))
            waiter = asyncio.ensure_future(_wait(gone))
            try:
                done, _ = await asyncio.wait(
                    {exchange, waiter}, timeout=ANSWER_TIMEOUT, return_when="FIRST_COMPLETED"
                )
            finally:
                waiter.cancel()
            if exchange not in done:
                exchange.cancel()
                link.close()  # the owner sees its GET's connection go, as the client went
                return None
            try:
                status, headers, body, keep_alive = exchange.result()
            except (OSError, ConnectionError, httptools.HttpParserError, ValueError):
                link.close()
                continue
            if keep_alive:
                self._release(address, link)
            else:
                link.close()
            return status, headers, body
        return None

    async def tunnel(
        self, tag: str, data: bytes
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A fresh connection to the node `tag` with `data` (an upgrade request) written on
        it; None if that node is not there."""
        address = await self.peers.resolve(tag)
        if address is None:
            return None
        self.forwarded += 1
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(*address)
        except (OSError, TimeoutError):
            return None
        writer.write(data)
        return reader, writer

    async def close(self) -> None:
        for links in self._idle.values():
            for link in links:
                link.close()
        self._idle.clear()

    async def _link(self, address: Address, *, fresh: bool) -> _Link | None:
        idle = self._idle.get(address)
        if idle and not fresh:
            return idle.pop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(*address)
        except (OSError, TimeoutError) as error:
            log.info("cannot reach the peer at %s:%s: %s", *address, error or "timeout")
            return None
        return _Link(reader, writer)

    def _release(self, address: Address, link: _Link) -> None:
        idle = self._idle.setdefault(address, [])
        if len(idle) < IDLE_PER_PEER and not link.writer.transport.is_closing():
            idle.append(link)
        else:
            link.close()


async def _wait(gone: Awaitable[None]) -> None:
    # Shielded: cancelling this wait must not cancel the connection's own future.
    await asyncio.shield(gone)


async def pipe(
    reader: asyncio.StreamReader,
    write: Callable[[bytes], None],
    drain: Callable[[], Awaitable[None]],
) -> None:
    """Copy what `reader` gives to `write` until it ends, waiting on `drain` between."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            write(data)
            await drain()
