"""Requests for another node's Engine.IO session, passed to that node and answered as it
answers: no sticky sessions at the load balancer.

A session id starts with the tag of the node that made it (`<tag>.<random>`). A polling
GET or POST whose sid names another node is written, as it came, to that node's internal
address (`Peers.cached`, or `Peers.resolve` when it is not cached), over a small pool of
keep-alive links, and the answer is written back as it came; a WebSocket upgrade for such
a sid becomes a tunnel to the owner, which then carries the frames both ways. The owner's
internal listener never forwards (`HttpHandler(internal=True)`), so a request cannot go
round in circles; a sid whose owner is gone (no address, or it refuses) is answered exactly as an
unknown sid is.

What it costs: one more hop for each forwarded request and, for a tunnelled WebSocket,
every frame copied once more. A client whose polling requests reach the owner pays
nothing. Behind a round-robin balancer about half of all requests are forwarded, so the
hop is callbacks all the way: a `_Link` is an asyncio Protocol that feeds httptools and
calls its `Hop` back when the answer is complete, and the answer goes to the client as
the bytes came. No task, future or timer per request (a task and an `asyncio.wait` cost
more than the request itself), and a new connection only when the pool has none idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import httptools

from rtchat.engine.http_parse import Request
from rtchat.engine.timers import DeadlineQueue

log = logging.getLogger(__name__)

Address = tuple[str, int]
Answered = Callable[[bytes | None], None]

CONNECT_TIMEOUT = 2.0
# Idle keep-alive links kept open to each peer. A held GET keeps its link while it waits,
# and its client asks again as soon as it is answered, so the pool must fit every GET
# held at once: with 16, a broadcast to 200 polling clients closed and opened again most
# of them every time. The owner closes a link idle for its keep-alive time (20 s).
IDLE_PER_PEER = 1024
ANSWER_TIMEOUT = 120.0  # a pending GET waits at most pingInterval; this is a backstop
MAX_ANSWER = 16 * 1024 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) are the link's, not the request's. So is `expect`:
# the node in front has answered it, and a 100 Continue from the owner would be taken
# for its answer.
_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding"}
)
_SKIP = _HOP | {b"content-length", b"expect", b"upgrade"}
# The link's own headers in an answer, as they start a line of its head (in lower case).
# A chunked answer is passed on in its chunks, so its transfer-encoding stays.
_ANSWER_HOP = (b"connection:", b"keep-alive:", b"proxy-connection:")
_ANSWER_HOP_LINES = tuple(b"\n" + name for name in _ANSWER_HOP)


class Peers(Protocol):
    """Where the other nodes take forwarded requests (the app keeps it in Redis)."""

    tag: str
    """This node's tag: the first part of every sid it makes."""

    def cached(self, tag: str) -> Address | None:
        """The internal address of the node tagged `tag` if it is known without asking
        anyone; None if it is not (then `resolve` asks)."""
        ...

    async def resolve(self, tag: str) -> Address | None:
        """The internal address of the node tagged `tag`; None if no such node is alive."""
        ...


def tag_of(sid: str) -> str | None:
    """The node tag a sid starts with; None for a sid without one."""
    tag, dot, _ = sid.partition(".")
    return tag if dot and tag else None


def request_bytes(request: Request) -> bytes:
    """`request` as it came, minus the link's own headers. Nothing says who sent it: the
    owner knows its session's client from the handshake, which no node forwards."""
    lines = [f"{request.method} ".encode() + request.url + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in request.headers if name not in _SKIP]
    if request.upgrade:
        lines += [b"connection: Upgrade", b"upgrade: websocket"]
        return b"\r\n".join(lines) + b"\r\n\r\n" + request.rest
    lines.append(b"content-length: %d" % len(request.body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + bytes(request.body)


def relay(answer: bytes, keep_alive: bool) -> bytes:
    """The owner's answer as the client gets it: unchanged but for the link's own headers,
    and with `Connection: close` when the client's connection ends with it."""
    end = answer.find(b"\r\n\r\n")
    head = answer[:end]
    lowered = head.lower()
    if keep_alive and not any(line in lowered for line in _ANSWER_HOP_LINES):
        return answer  # the usual case: nothing to change, nothing to copy
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(_ANSWER_HOP)]
    if not keep_alive:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + answer[end:]


class Hop:
    """One request on its way to another node, and its answer on the way back."""

    __slots__ = ("_answered", "data", "link")

    def __init__(self, data: bytes, answered: Answered) -> None:
        self.data = data
        self._answered: Answered | None = answered
        self.link: _Link | None = None

    @property
    def waiting(self) -> bool:
        return self._answered is not None

    def cancel(self) -> None:
        """The client went: no answer, and the owner sees its request's connection go
        (for a held GET, as if the client had gone from the owner itself)."""
        self._answered = None
        link, self.link = self.link, None
        if link is not None:
            link.abort()

    def answer(self, answer: bytes | None) -> None:
        self.link = None
        answered, self._answered = self._answered, None
        if answered is not None:
            answered(answer)


class _Link(asyncio.Protocol):
    """One keep-alive connection to a peer, carrying one hop at a time. It reads all the
    time, so a link that the peer closes while it is idle leaves the pool at once."""

    transport: asyncio.Transport

    def __init__(self, forwarder: Forwarder, address: Address) -> None:
        self._forwarder = forwarder
        self.address = address
        self._parser = httptools.HttpResponseParser(self)
        self._hop: Hop | None = None
        self._pooled = False  # whether the hop came to this link from the pool
        self._chunks: list[bytes] = []
        self._size = 0
        self._keep_alive: bool | None = None  # set when the answer is complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def send(self, hop: Hop, *, pooled: bool) -> None:
        self._hop = hop
        self._pooled = pooled
        hop.link = self
        self.transport.write(hop.data)
        self._forwarder.due.add(self)

    def data_received(self, data: bytes) -> None:
        hop = self._hop
        if hop is None:  # bytes nobody asked for: not a peer to go on with
            self.transport.abort()
            return
        self._chunks.append(data)
        self._size += len(data)
        try:
            if self._size > MAX_ANSWER:
                raise ValueError("answer too big")
            self._parser.feed_data(data)  # calls on_message_complete at the answer's end
        except (httptools.HttpParserError, httptools.HttpParserUpgrade, ValueError):
            self._broke(retry=False)
            return
        keep_alive = self._keep_alive
        if keep_alive is None:
            return
        chunks = self._chunks
        answer = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._detach()
        if keep_alive:
            self._forwarder.release(self)  # before the answer: it may send the next hop
        else:
            self.transport.close()
        hop.answer(answer)

    def on_message_complete(self) -> None:
        # Asked here: llhttp forgets the answer's `Connection: close` once this returns.
        self._keep_alive = self._parser.should_keep_alive()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forwarder.lost(self)
        # Nothing came back on a link from the pool: the peer closed it while it was idle
        # (its keep-alive timeout) before it read the request. Once more on a fresh one.
        self._broke(retry=self._pooled and self._size == 0, closed=True)

    def timed_out(self) -> None:
        self._broke(retry=False)

    def abort(self) -> None:
        self._detach()
        self.transport.abort()

    def _detach(self) -> Hop | None:
        hop, self._hop = self._hop, None
        if hop is not None:
            hop.link = None
            self._forwarder.due.remove(self)
        self._chunks, self._size, self._keep_alive = [], 0, None
        return hop

    def _broke(self, *, retry: bool, closed: bool = False) -> None:
        hop = self._detach()
        if not closed:
            self.transport.abort()
        if hop is None or not hop.waiting:
            return
        if retry:
            self._forwarder.go(self.address, hop, fresh=True)
        else:
            hop.answer(None)


class Forwarder:
    """Passes requests for other nodes' sessions on; one per node."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers
        self._idle: dict[Address, dict[_Link, None]] = {}  # insertion-ordered sets
        self._tasks: set[asyncio.Task[None]] = set()
        self.due = DeadlineQueue[_Link](ANSWER_TIMEOUT, _Link.timed_out)
        self.forwarded = 0
        """Requests passed on so far (polling and upgrades)."""
        self.links = 0
        """Links opened for polling requests so far: far fewer than those, while the pool
        does its work."""

    def foreign(self, sid: str | None, local: Callable[[str], bool]) -> str | None:
        """The tag of the node owning `sid` if it is not this one and not known here."""
        if sid is None or local(sid):
            return None
        tag = tag_of(sid)
        return tag if tag is not None and tag != self.peers.tag else None

    def send(self, tag: str, data: bytes, answered: Answered) -> Hop:
        """Send a request to the node `tag`; `answered` gets its answer, or None if that
        node is not there to answer (gone, refusing, or the link broke), and is never
        called before this returns. `Hop.cancel` when the client goes."""
        hop = Hop(data, answered)
        address = self.peers.cached(tag)
        if address is not None:
            self.go(address, hop)
        else:
            self._start(self._resolve(tag, hop))
        return hop

    def go(self, address: Address, hop: Hop, *, fresh: bool = False) -> None:
        if not fresh:
            self.forwarded += 1
            idle = self._idle.get(address)
            if idle:
                link = idle.popitem()[0]  # the last one in: the least likely to be stale
                link.send(hop, pooled=True)
                return
        self._start(self._connect(address, hop))

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
        for task in list(self._tasks):
            task.cancel()
        for links in self._idle.values():
            for link in list(links):
                link.abort()
        self._idle.clear()
        self.due.close()

    def release(self, link: _Link) -> None:
        idle = self._idle.setdefault(link.address, {})
        if len(idle) < IDLE_PER_PEER and not link.transport.is_closing():
            idle[link] = None
        else:
            link.transport.close()

    def lost(self, link: _Link) -> None:
        idle = self._idle.get(link.address)
        if idle is not None:
            idle.pop(link, None)

    async def _resolve(self, tag: str, hop: Hop) -> None:
        address = await self.peers.resolve(tag)  # asks Redis: not on every request
        if address is None:
            hop.answer(None)
        elif hop.waiting:
            self.go(address, hop)

    async def _connect(self, address: Address, hop: Hop) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, link = await loop.create_connection(lambda: _Link(self, address), *address)
        except (OSError, TimeoutError) as error:
            log.info("cannot reach the peer at %s:%s: %s", *address, error or "timeout")
            hop.answer(None)
            return
        self.links += 1
        if not hop.waiting:
            self.release(link)  # the client went meanwhile; the next hop may use it
        elif link.transport.is_closing():
            hop.answer(None)  # accepted, and closed at once: as good as refused
        else:
            link.send(hop, pooled=False)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


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
