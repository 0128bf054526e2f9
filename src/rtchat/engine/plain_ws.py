"""A plain WebSocket endpoint: a sibling of Engine.IO on the same connection driver.

`http.py` accepts the handshake (origin and subprotocol checked here), parses frames and
hands each text message to the endpoint's app, which speaks its own protocol in them
(`transport/ws_server.py`). The endpoint owns what every such connection needs and knows
nothing of chat: its connections by id, rooms, the write flush (everything sent to a
connection during one loop iteration leaves in one write; a room's frame is built once),
heartbeats (a WebSocket ping every `ping_interval`, closed `PING_TIMEOUT` without a pong
within `ping_timeout`), output bounds as Engine.IO has them (`max_buffered` unsent bytes
per connection, `output_budget` for all the endpoint's backlogged connections together,
the biggest dropped first: closed `SLOW_CONSUMER`) and an inbox per connection that runs
its handlers in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from rtchat.engine import outbuf
from rtchat.engine.backlog import Backlog
from rtchat.engine.eio_session import BACKLOG
from rtchat.engine.inbox import Inbox, Step
from rtchat.engine.origins import OriginPolicy
from rtchat.engine.rooms import Rooms
from rtchat.engine.timers import Batch, DeadlineQueue
from rtchat.engine.websocket import GOING_AWAY, PING, TEXT, frame
from rtchat.roomsets import RoomSet, with_room, without_room

log = logging.getLogger(__name__)
# Engine.IO's logger of connection events (eio_server.py): one line per connection opened
# and closed, at info, transport "ws"; nothing per message.
connections_log = logging.getLogger("rtchat.connections")
TRANSPORT = "ws"

# Close codes the endpoint itself sends (the app adds its own, in 4000-4999).
UNSUPPORTED_DATA = 1003  # a binary frame: the protocol is JSON text
PING_TIMEOUT = 1011  # no pong in time, as `websockets` closes a dead peer
SLOW_CONSUMER = 4008  # more than `max_buffered` bytes unsent

_NS = ""  # the endpoint's rooms have one namespace


class Link(Protocol):
    """The driver's connection under a `WsConn` (see `http.py`)."""

    transport: asyncio.Transport

    def close_ws(self, code: int, reason: str) -> None: ...


class WsApp(Protocol):
    """What speaks the protocol inside the frames."""

    def opened(self, conn: WsConn) -> None: ...

    def received(self, conn: WsConn, text: str) -> None:
        """One text message arrived (binary ones close the connection before this)."""
        ...

    def closed(self, conn: WsConn, code: int) -> None:
        """`conn` is gone (`code`: the close code sent or received; 1006 if the TCP
        connection went without one). Nothing sent to it from now on goes anywhere."""
        ...


@dataclass(frozen=True, slots=True)
class WsOptions:
    """Attributes:
    path: where the endpoint answers handshakes.
    subprotocol: the one subprotocol a client must offer.
    ping_interval: seconds between pings.
    ping_timeout: seconds a pong may take.
    max_payload: the largest message a client may send (bytes); larger closes 1009.
    max_buffered: unsent bytes per connection past which it is a slow consumer.
    output_budget: unsent bytes of the endpoint's connections together past which the
        biggest are dropped first.
    cors_origins: origins allowed besides the same origin (`"*"`: all).
    id_tag: this node's tag, the first part of every connection id (`<tag>.<random>`).
    """

    path: str = "/ws"
    subprotocol: str = "rtchat.v1"
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = 1_000_000
    max_buffered: int = 4 * 1024 * 1024
    output_budget: int = 64 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    id_tag: str = ""


class WsConn:
    """One client of the endpoint. Its fields change only through its own methods and the
    endpoint's; the app reads `id` and `peer` and queues work on `inbox`."""

    __slots__ = ("_endpoint", "_link", "_open", "_wbuf", "id", "inbox", "peer", "rooms")

    def __init__(self, endpoint: WsEndpoint, link: Link, conn_id: str) -> None:
        self._endpoint = endpoint
        self._link = link
        self._open = True
        self._wbuf: outbuf.Queued = None
        self.id = conn_id
        self.rooms: RoomSet = ()
        self.inbox = Inbox(self)
        peer = link.transport.get_extra_info("peername")
        # Interned: connections share a few addresses, as in eio_server's `_open`.
        self.peer: str | None = sys.intern(peer[0]) if isinstance(peer, tuple) and peer else None

    @property
    def open(self) -> bool:
        return self._open

    @property
    def endpoint(self) -> WsEndpoint:
        return self._endpoint

    def send_text(self, text: bytes) -> None:
        """Send UTF-8 `text` as one text message."""
        self.send_frame(frame(TEXT, text))

    def send_frame(self, built: bytes) -> None:
        """Send a frame built once for many connections."""
        if not self._open:
            return
        queued = self._wbuf
        if not outbuf.urgent(queued):
            self._endpoint.mark(self)
        self._wbuf = outbuf.add(queued, built)

    def send_later(self, built: bytes) -> None:
        """`send_frame` for a frame that may wait up to `outbuf.LATER_S` for a write this
        connection makes anyway."""
        if not self._open:
            return
        queued = self._wbuf
        if queued is None:
            self._endpoint.mark_later(self)
        self._wbuf = outbuf.add_later(queued, built)

    def enqueue(self, step: Step, *, overlap: bool = False) -> None:
        self.inbox.put(step, overlap=overlap)

    def close(self, code: int, reason: str) -> None:
        """Send what is unsent, then a close frame, and end the connection."""
        if not self._open:
            return
        self.write_out()
        self._link.close_ws(code, reason)
        self._endpoint.closed(self, code)

    def lost(self) -> None:
        """The TCP connection went (or its close handshake ended)."""
        if self._open:
            self._endpoint.closed(self, 1006)

    # --- for the endpoint ------------------------------------------------------------------

    def write_out(self) -> int:
        """Write what is queued; the bytes the transport has not sent yet."""
        transport = self._link.transport
        if self._wbuf is not None:
            queued, self._wbuf = self._wbuf, None
            transport.write(outbuf.joined(queued))
        return transport.get_write_buffer_size()

    def unsent(self) -> int:
        return self._link.transport.get_write_buffer_size()

    def closing(self) -> bool:
        return self._link.transport.is_closing()

    def abort(self) -> None:
        """Drop the connection and whatever it has not taken yet."""
        self._link.transport.abort()

    def ping(self) -> None:
        self.send_frame(_PING)

    def detach(self) -> None:
        self._open = False
        self._wbuf = None
        self.rooms = ()

    # --- for its inbox (inbox.Owner) -------------------------------------------------------

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        return self._endpoint.tasks

    def inbox_idle(self) -> None:
        self._endpoint.inbox_idle()

    def reading(self, on: bool) -> None:
        transport = self._link.transport
        if not self._open or transport.is_closing():
            return
        if on and not transport.is_reading():
            transport.resume_reading()
        elif not on and transport.is_reading():
            transport.pause_reading()


_PING = frame(PING, b"")


class WsEndpoint:
    """See the module docstring. `serve` names the app before the first connection."""

    def __init__(self, options: WsOptions | None = None, backlog: Backlog | None = None) -> None:
        self.options = o = options or WsOptions()
        self.path = o.path.rstrip("/").encode()
        self.app: WsApp | None = None
        self.conns: dict[str, WsConn] = {}
        self.rooms = Rooms[WsConn]()
        self.tasks: set[asyncio.Task[None]] = set()
        self._origins = OriginPolicy(o.cors_origins)
        # Connections over BACKLOG behind; `backlog` shares the output budget with another
        # endpoint's connections (Engine.IO's, in `rtchat serve`).
        self._backlog = backlog if backlog is not None else Backlog(o.output_budget)
        self.draining = False  # stopping: connections close once what they sent is answered
        self._settled = asyncio.Event()  # while draining: some connection's inbox emptied
        self.dropped: dict[str, int] = {}  # connections dropped for being behind, by reason
        self.delivered = 0  # events queued to connections, one per recipient (for /metrics)
        self._dirty: list[WsConn] = []
        self._flush_handle: asyncio.Handle | None = None
        self._later = Batch[WsConn](outbuf.LATER_S, self._flush_later)
        self._ping_due = DeadlineQueue[WsConn](o.ping_interval, self._ping)
        self._pong_due = DeadlineQueue[WsConn](o.ping_timeout, self._ping_timeout)

    def serve(self, app: WsApp) -> None:
        self.app = app

    # --- the handshake -----------------------------------------------------------------------

    def refusal(
        self, origin: str | None, host: str | None, offered: str | None
    ) -> tuple[int, str] | None:
        """Why a handshake may not go ahead (HTTP status, body), or None."""
        if not self._origins.allows(origin, host):
            return 403, "Forbidden: this origin may not connect."
        wanted = self.options.subprotocol
        if wanted not in (p.strip() for p in (offered or "").split(",")):
            return 400, (
                f"This endpoint speaks the WebSocket subprotocol {wanted} only: "
                f"send Sec-WebSocket-Protocol: {wanted}."
            )
        return None

    def open(self, link: Link) -> WsConn:
        """A handshake was accepted on `link`."""
        tag = self.options.id_tag
        conn_id = f"{tag}.{secrets.token_urlsafe(15)}" if tag else secrets.token_urlsafe(15)
        conn = WsConn(self, link, conn_id)
        self.conns[conn_id] = conn
        self._ping_due.add(conn)
        if connections_log.isEnabledFor(logging.INFO):
            connections_log.info(
                "connection %s opened over %s",
                conn_id,
                TRANSPORT,
                extra={
                    "event": "connect",
                    "sid": conn_id,
                    "transport": TRANSPORT,
                    "peer": conn.peer,
                },
            )
        assert self.app is not None, "the endpoint's app is set before it serves"
        self.app.opened(conn)
        return conn

    def received(self, conn: WsConn, text: str) -> None:
        """A text message from `conn`, for the app; none is taken in while draining."""
        if self.app is not None and not self.draining:
            self.app.received(conn, text)

    def inbox_idle(self) -> None:
        if self.draining:
            self._settled.set()

    def pong(self, conn: WsConn) -> None:
        if conn in self._pong_due:
            self._pong_due.remove(conn)
            self._ping_due.add(conn)

    # --- rooms -------------------------------------------------------------------------------

    def enter_room(self, conn_id: str, room: str) -> None:
        conn = self.conns.get(conn_id)
        if conn is not None and room not in conn.rooms:
            conn.rooms = with_room(conn.rooms, room)
            self.rooms.add(_NS, room, conn)

    def leave_room(self, conn_id: str, room: str) -> None:
        conn = self.conns.get(conn_id)
        if conn is not None and room in conn.rooms:
            conn.rooms = without_room(conn.rooms, room)
            self.rooms.discard(_NS, room, conn)

    def has_members(self, room: str) -> bool:
        return self.rooms.members(_NS, room) is not None

    def to_room(
        self, room: str, built: bytes, skip: Collection[str] = (), *, later: bool = False
    ) -> int:
        """Send one frame, built once, to every member of `room` but the ids in `skip`; how
        many it went to. `later`: see `WsConn.send_later`."""
        members = self.rooms.members(_NS, room)
        if members is None:
            return 0
        send = WsConn.send_later if later else WsConn.send_frame
        sent = 0
        for conn in members:
            if not skip or conn.id not in skip:
                send(conn, built)
                sent += 1
        self.delivered += sent
        return sent

    # --- writing -------------------------------------------------------------------------------

    def mark(self, conn: WsConn) -> None:
        self._dirty.append(conn)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def mark_later(self, conn: WsConn) -> None:
        self._later.add(conn)

    def _flush_later(self, conns: list[WsConn]) -> None:
        self._dirty += conns  # as in eio_server: one that wrote meanwhile writes nothing
        if self._flush_handle is None:
            self._flush()

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        bound = self.options.max_buffered
        for conn in dirty:
            if not conn.open:
                continue
            size = conn.write_out()
            if size <= BACKLOG:
                continue
            if size > bound:
                log.info(
                    "dropped %s: slow consumer (%d bytes unsent, over %d)", conn.id, size, bound
                )
                self.dropped["slow consumer"] = self.dropped.get("slow consumer", 0) + 1
                conn.close(SLOW_CONSUMER, "slow consumer")
            elif self._backlog.note(self, conn, size):
                self._backlog.relieve()

    # The output budget's `Owner` of this endpoint's connections (see backlog.py).

    def unsent_bytes(self, conn: WsConn) -> int:
        return conn.unsent()

    def is_closing(self, conn: WsConn) -> bool:
        return conn.closing()

    def drop_for_budget(self, conn: WsConn, detail: str) -> None:
        log.info("dropped %s: output budget (%s)", conn.id, detail)
        self.dropped["output budget"] = self.dropped.get("output budget", 0) + 1
        conn.close(SLOW_CONSUMER, "output budget")
        conn.abort()

    def writable(self, conn: WsConn) -> None:
        """`conn`'s transport drained below its low-water mark: it has caught up."""
        if conn in self._backlog:
            self._backlog.forget(conn)

    # --- life cycle --------------------------------------------------------------------------

    def closed(self, conn: WsConn, code: int) -> None:
        """Called by `conn` as it closes: out of every room and clock, then the app."""
        for room in conn.rooms:
            self.rooms.discard(_NS, room, conn)
        if connections_log.isEnabledFor(logging.INFO):
            connections_log.info(
                "connection %s closed over %s: %d",
                conn.id,
                TRANSPORT,
                code,
                extra={"event": "disconnect", "sid": conn.id, "transport": TRANSPORT, "code": code},
            )
        conn.detach()
        self._backlog.forget(conn)
        self.conns.pop(conn.id, None)
        self._ping_due.remove(conn)
        self._pong_due.remove(conn)
        if self.app is not None:
            self.app.closed(conn, code)

    async def drain(self, within: float) -> None:
        """Take no more messages in, and close each connection `GOING_AWAY` (1001) as soon
        as everything it sent before is answered; after `within` seconds, return with the
        rest still open. What was not taken in gets no answer: the client sends it again
        after reconnecting."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for conn in list(self.conns.values()):
                if conn.inbox.idle:
                    conn.close(GOING_AWAY, "server going away")
            left = deadline - loop.time()
            if not self.conns or left <= 0:
                return
            self._settled.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), left)

    def stop(self) -> None:
        """Close every connection `GOING_AWAY` (1001)."""
        for conn in list(self.conns.values()):
            conn.close(GOING_AWAY, "server going away")  # writes what waits, first
        self._later.close()
        for queue in (self._ping_due, self._pong_due):
            queue.close()

    async def shutdown(self) -> None:
        """`stop`, then wait for the handlers still running (the disconnects among them)."""
        self.stop()
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.wait(pending)

    def _ping(self, conn: WsConn) -> None:
        conn.ping()
        self._pong_due.add(conn)

    def _ping_timeout(self, conn: WsConn) -> None:
        conn.close(PING_TIMEOUT, "no pong in time")
