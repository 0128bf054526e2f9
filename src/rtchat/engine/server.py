"""The Socket.IO v5 server: namespaces, rooms, events, acknowledgements, connect middleware.

The API is small on purpose::

    sio = SocketServer(EngineOptions(...))
    sio.use(check_token)                       # connect middleware: raise ConnectRefused
    sio.on_connect(connected)                  # async (sid, auth) -> None
    sio.on_disconnect(gone)                    # async (sid, reason) -> None
    sio.on_event(handle)                       # async (sid, event, args, ack_wanted) -> ack
    sio.emit("news", payload, to="room", skip={sid})
    sio.emit_encoded('["news",{"a":1}]', to="room")   # already encoded, e.g. by another node
    answer = await sio.call(sid, "question", payload)   # the client's acknowledgement
    sio.enter_room(sid, "room"); sio.leave_room(sid, "room")

Handlers of one session run in order, one at a time: a session with work gets one task
that drains its inbox and ends when it is empty, so an idle connection has none.

The Socket.IO layer sits on an Engine.IO server (`self.eio`) by composition: each
Engine.IO session gets a `_SioSession`, its Socket.IO state (the sockets on its
namespaces, a binary packet waiting for attachments, the inbox), as its `Upper`.

`emit` is synchronous and never waits: it encodes the packet and the WebSocket frame
once and appends the same bytes to each recipient's buffer in one loop; the Engine.IO
driver writes every buffer out once per loop iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any

import orjson

from rtchat.engine import packets
from rtchat.engine.eio_server import EioServer, EngineOptions
from rtchat.engine.eio_session import CLOSED, MAX_POLL_PACKETS, WEBSOCKET, EioSession, Upper
from rtchat.engine.inbox import Inbox
from rtchat.engine.packets import PacketError, SioPacket
from rtchat.engine.rooms import Rooms
from rtchat.engine.websocket import GOING_AWAY, text_frame
from rtchat.roomsets import RoomSet, with_room, without_room

log = logging.getLogger(__name__)

ConnectHandler = Callable[[str, dict[str, Any] | None], Awaitable[None]]
DisconnectHandler = Callable[[str, str], Awaitable[None]]
EventHandler = Callable[[str, str, list[Any], bool], Awaitable[object]]

CONNECTING, CONNECTED, GONE = 0, 1, 2

# Upper edges of the broadcast fan-out histogram's buckets, in recipients.


class ConnectRefused(Exception):
    """Raise from connect middleware or the connect handler to refuse the connection;
    the client gets CONNECT_ERROR with this message (and `data`, if given)."""

    def __init__(self, message: str, data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class Socket:
    """One client on one namespace. `held` keeps what is sent to it before its CONNECT is
    acknowledged, so the acknowledgement goes first. `session` is its Engine.IO session
    (what a broadcast writes to), `owner` that session's Socket.IO state."""

    __slots__ = ("accepted", "held", "namespace", "owner", "rooms", "session", "sid", "state")

    def __init__(self, sid: str, owner: _SioSession, namespace: str) -> None:
        self.sid = sid
        self.owner = owner
        self.session = owner.eio
        self.namespace = namespace
        self.state = CONNECTING
        self.accepted = False  # the connect handler succeeded: the disconnect handler is due
        self.rooms: RoomSet = ()  # small ones as a tuple: see roomsets.py
        self.held: list[packets.EioPacket] | None = []


class _Partial:
    """A binary packet waiting for its attachments."""

    __slots__ = ("packet", "parts", "size")

    def __init__(self, packet: SioPacket) -> None:
        self.packet = packet
        self.parts: list[bytes] = []
        self.size = 0


class _SioSession:
    """One Engine.IO session's Socket.IO state; its `Upper`."""

    __slots__ = ("binary", "eio", "inbox", "server", "sockets")

    def __init__(self, server: SocketServer, eio: EioSession) -> None:
        self.server = server
        self.eio = eio
        self.sockets: dict[str, Socket] = {}  # by namespace
        self.binary: _Partial | None = None  # a binary packet waiting for its attachments
        # Its handlers, one at a time in arrival order (events in `overlap` overlapping).
        self.inbox = Inbox(self)

    def received(self, data: str | bytes) -> None:
        self.server.received(self, data)

    def closed(self, reason: str) -> None:
        self.server.closed(self, reason)

    # --- for its inbox (inbox.Owner) -------------------------------------------------------

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        return self.server.tasks

    def inbox_idle(self) -> None:
        self.server.inbox_idle()

    def reading(self, on: bool) -> None:
        session = self.eio
        ws = session.ws
        if ws is None or session.state == CLOSED:
            return
        transport = ws.transport
        if on and not transport.is_reading():
            transport.resume_reading()
        elif not on and transport.is_reading():
            transport.pause_reading()


class _Namespace:
    __slots__ = ("middleware", "on_connect", "on_disconnect", "on_event", "overlap")

    def __init__(self) -> None:
        self.middleware: list[ConnectHandler] = []
        self.on_connect: ConnectHandler | None = None
        self.on_disconnect: DisconnectHandler | None = None
        self.on_event: EventHandler | None = None
        self.overlap: frozenset[str] = frozenset()


class SocketServer:
    def __init__(self, options: EngineOptions | None = None) -> None:
        self.eio = EioServer(options, self._session_opened)
        self.sockets: dict[str, Socket] = {}
        self.rooms = Rooms[Socket]()
        self._namespaces: dict[str, _Namespace] = {"/": _Namespace()}
        self.tasks: set[asyncio.Task[None]] = set()  # the inboxes' drains
        self._acks: dict[tuple[str, int | None], asyncio.Future[list[Any]]] = {}
        self._ack_ids = itertools.count()
        self._settled = asyncio.Event()  # while draining: some session's inbox emptied
        self.draining = False  # stopping: sessions close once what they sent is answered
        # Read by /metrics (rtchat.metrics) at scrape time; plain ints, nothing per recipient.
        self.delivered = 0  # events queued to clients by emit, one per recipient

    @property
    def options(self) -> EngineOptions:
        return self.eio.options

    @property
    def sessions(self) -> dict[str, EioSession]:
        """The Engine.IO sessions, by sid (read by /metrics)."""
        return self.eio.sessions

    @property
    def dropped(self) -> dict[str, int]:
        """Sessions dropped for being behind, by reason (read by /metrics)."""
        return self.eio.dropped

    def inbox_idle(self) -> None:
        """A session's handlers are all done: a draining server looks at it again."""
        if self.draining:
            self._settled.set()

    # --- registration --------------------------------------------------------------------

    def _ns(self, namespace: str) -> _Namespace:
        return self._namespaces.setdefault(namespace, _Namespace())

    def use(self, middleware: ConnectHandler, namespace: str = "/") -> None:
        """Run `middleware(sid, auth)` before the connect handler; it may raise ConnectRefused."""
        self._ns(namespace).middleware.append(middleware)

    def on_connect(self, handler: ConnectHandler, namespace: str = "/") -> None:
        self._ns(namespace).on_connect = handler

    def on_disconnect(self, handler: DisconnectHandler, namespace: str = "/") -> None:
        """`handler(sid, reason)`: reason as Socket.IO names it ("transport close", ...)."""
        self._ns(namespace).on_disconnect = handler

    def on_event(
        self, handler: EventHandler, namespace: str = "/", *, overlap: Collection[str] = ()
    ) -> None:
        """`handler(sid, event, args, ack_wanted)`; what it returns is the acknowledgement.

        A connection's events are handled one at a time, in order, except the events named
        in `overlap`: those start in arrival order, each running until it first waits
        before the next one starts, and may then finish in any order (their acks too).
        Any other event, and the disconnect, waits for them all to finish first.
        """
        ns = self._ns(namespace)
        ns.on_event = handler
        ns.overlap = frozenset(overlap)

    # --- sending -------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *args: Any,
        to: str | None = None,
        skip: Collection[str] = (),
        namespace: str = "/",
    ) -> int:
        """Send an event to `to` (a room or a socket's sid; everyone on the namespace if
        None), leaving out the sids in `skip`; how many sockets it went to."""
        targets = self._targets(to, namespace)
        if not targets:
            return 0
        if packets.has_binary(args):
            encoded = packets.encode(SioPacket(packets.EVENT, namespace, [event, *args]))
            sent = 0
            for sock in targets:
                if sock.sid not in skip:
                    sent += 1
                    for part in encoded:
                        self._send(sock, part)
            self.delivered += sent
            return sent
        return self._emit_text(packets.event_text(event, args, namespace), targets, skip)

    def emit_encoded(
        self,
        body: str,
        *,
        to: str,
        skip: Collection[str] = (),
        namespace: str = "/",
        later: bool = False,
    ) -> int:
        """Like `emit`, for an event already encoded as the JSON array `["name", ...args]`
        (without binary data): what another node published, written as it came. `later`:
        it may wait up to `outbuf.LATER_S` for a write each recipient makes anyway (never
        behind what is sent after it)."""
        targets = self._targets(to, namespace)
        if not targets:
            return 0
        head = "42" if namespace == "/" else "42" + namespace + ","
        return self._emit_text(head + body, targets, skip, later)

    def _emit_text(
        self, text: str, targets: Collection[Socket], skip: Collection[str], later: bool = False
    ) -> int:
        send = EioSession.send_later if later else EioSession.send_prebuilt
        frame = text_frame(text)
        skipping = bool(skip)
        if skipping and not isinstance(skip, set | frozenset):
            skip = set(skip)
        skipped = 0
        for sock in targets:
            if skipping and sock.sid in skip:
                skipped += 1
                continue
            held = sock.held
            if held is None:
                send(sock.session, text, frame)
            else:
                held.append(text)
        # Counted once per emit, not per recipient: the loop above is the hot path.
        sent = len(targets) - skipped
        self.delivered += sent
        return sent

    async def call(self, sid: str, event: str, *args: Any, within: float = 10.0) -> list[Any]:
        """Emit to one socket and wait for its acknowledgement; returns the client's answer
        (a list of its arguments). Raises `TimeoutError`, or `ConnectionError` if the socket
        is gone or goes before it answers."""
        sock = self.sockets.get(sid)
        if sock is None or sock.state == GONE:
            raise ConnectionError(f"no socket {sid!r}")
        ack_id = next(self._ack_ids)
        waiter: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[(sid, ack_id)] = waiter
        for part in packets.encode(
            SioPacket(packets.EVENT, sock.namespace, [event, *args], ack_id)
        ):
            self._send(sock, part)
        try:
            return await asyncio.wait_for(waiter, within)
        finally:
            self._acks.pop((sid, ack_id), None)

    def _targets(self, to: str | None, namespace: str) -> Collection[Socket]:
        """The sockets `to` names: a room's, a socket, or everyone on the namespace."""
        if to is None:
            return [s for s in self.sockets.values() if s.namespace == namespace]
        members = self.rooms.members(namespace, to)
        if members is not None:
            return members
        sock = self.sockets.get(to)
        return (sock,) if sock is not None and sock.namespace == namespace else ()

    def _send(self, sock: Socket, packet: packets.EioPacket) -> None:
        if sock.held is None:
            sock.session.send(packet)
        else:
            sock.held.append(packet)

    # --- rooms and connections -----------------------------------------------------------

    def enter_room(self, sid: str, room: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None and sock.state != GONE and room not in sock.rooms:
            sock.rooms = with_room(sock.rooms, room)
            self.rooms.add(sock.namespace, room, sock)

    def leave_room(self, sid: str, room: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None and room in sock.rooms:
            sock.rooms = without_room(sock.rooms, room)
            self.rooms.discard(sock.namespace, room, sock)

    def peer_address(self, sid: str) -> str | None:
        """The IP address the socket's client connected from (None: not over IP)."""
        sock = self.sockets.get(sid)
        return None if sock is None else sock.session.peer

    def rooms_of(self, sid: str) -> set[str]:
        sock = self.sockets.get(sid)
        return set(sock.rooms) if sock is not None else set()

    def disconnect(self, sid: str) -> None:
        """Disconnect a socket from its namespace, telling the client so."""
        sock = self.sockets.get(sid)
        if sock is not None and sock.state != GONE:
            self._send(sock, packets.MESSAGE + _head(packets.DISCONNECT, sock.namespace))
            self._drop(sock, "server namespace disconnect")

    async def drain(self, within: float) -> None:
        """Stop taking work and close each session, telling its client to reconnect
        (Engine.IO close; WebSocket close 1001), as soon as every event it sent before is
        answered; after `within` seconds, return with the rest still open.

        From now on a client's CONNECT and events are ignored: what was not taken in is
        neither stored nor acknowledged, so the client sends it again after reconnecting.
        What was taken in finishes, and its acknowledgement leaves before the close.
        """
        self.draining = True
        eio = self.eio
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + within
        while True:
            # A live long-polling client is back with its next GET within a round trip;
            # one that has not come by now is gone, and holds the stop up no longer.
            polls_waited = loop.time() - started >= _POLL_WAIT
            for session in list(eio.sessions.values()):
                upper = session.upper
                idle = not isinstance(upper, _SioSession) or upper.inbox.idle
                if idle and (_all_sent(session) or (polls_waited and session.get is None)):
                    eio.close_session(session, "server shutting down", code=GOING_AWAY)
            left = deadline - loop.time()
            if not eio.sessions or left <= 0:
                return
            # Woken when a session's handlers finish; a polling session waits for its
            # client's next GET to take its answers, which nothing here is told of.
            self._settled.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), min(left, _RECHECK))

    async def shutdown(self) -> None:
        """Close every session and wait for the disconnect handlers."""
        self.eio.stop()
        # Wait only on tasks still running: a finished one stays in `tasks` until its done
        # callback runs, and on Python 3.12+ `gather` over finished tasks returns without
        # yielding, so a loop around it never let that callback run (100% CPU, no exit).
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.wait(pending)

    # --- from Engine.IO ------------------------------------------------------------------

    def _session_opened(self, session: EioSession) -> Upper:
        self.eio.awaiting_connect(session, True)
        return _SioSession(self, session)

    def closed(self, session: _SioSession, reason: str) -> None:
        for sock in list(session.sockets.values()):
            self._drop(sock, reason)

    def received(self, session: _SioSession, data: str | bytes) -> None:
        try:
            packet = self._assemble(session, data)
        except PacketError:
            self.eio.close_session(session.eio, "parse error")
            return
        if packet is not None:
            self._on_packet(session, packet)

    def _assemble(self, session: _SioSession, data: str | bytes) -> SioPacket | None:
        if isinstance(data, bytes):
            partial = session.binary
            if partial is None:
                raise PacketError("binary data without a binary packet")
            partial.size += len(data)
            if partial.size > self.options.max_payload:
                # Together the attachments are held to the limit of one message.
                raise PacketError("attachments larger than maxPayload")
            partial.parts.append(data)
            if len(partial.parts) < partial.packet.attachments:
                return None
            session.binary = None
            packet = partial.packet
            packet.data = packets.reconstruct(packet.data, partial.parts)
            return packet
        if session.binary is not None:
            raise PacketError("a packet came before the attachments of the last one")
        packet = packets.decode(data)
        if packet.attachments:
            session.binary = _Partial(packet)
            return None
        return packet

    def _on_packet(self, session: _SioSession, packet: SioPacket) -> None:
        kind, namespace = packet.type, packet.namespace
        if self.draining and kind in _NEW_WORK:
            return
        if kind == packets.CONNECT:
            if namespace not in self._namespaces:
                error = orjson.dumps({"message": "Invalid namespace"}).decode()
                session.eio.send(packets.MESSAGE + _head(packets.CONNECT_ERROR, namespace) + error)
                return
            if namespace in session.sockets:
                return
            joining = Socket(secrets.token_urlsafe(15), session, namespace)
            session.sockets[namespace] = joining
            self.sockets[joining.sid] = joining
            self.eio.awaiting_connect(session.eio, False)
            session.inbox.put(partial(self._connect, joining, packet.data))
            return
        sock: Socket | None = session.sockets.get(namespace)
        if sock is None or sock.state == GONE:
            return
        if kind == packets.DISCONNECT:
            self._drop(sock, "client namespace disconnect")
        elif kind in (packets.EVENT, packets.BINARY_EVENT):
            session.inbox.put(
                partial(self._event, sock, packet), overlap=self._overlaps(sock, packet)
            )
        elif kind in (packets.ACK, packets.BINARY_ACK):
            waiter = self._acks.pop((sock.sid, packet.id), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(packet.data)

    def _drop(self, sock: Socket, reason: str) -> None:
        """Take `sock` out of every room now; its disconnect handler runs in turn."""
        if sock.state == GONE:
            return
        sock.state = GONE
        sock.held = None
        for room in sock.rooms:
            self.rooms.discard(sock.namespace, room, sock)
        sock.rooms = ()
        self.sockets.pop(sock.sid, None)
        sock.owner.sockets.pop(sock.namespace, None)
        if self._acks:
            for key, waiter in list(self._acks.items()):
                if key[0] == sock.sid and not waiter.done():
                    waiter.set_exception(ConnectionError(reason))
        # Queued behind a connect handler still running, so it sees how that ended.
        sock.owner.inbox.put(partial(self._disconnected, sock, reason))

    def _overlaps(self, sock: Socket, packet: SioPacket) -> bool:
        overlap = self._namespaces[sock.namespace].overlap
        return bool(overlap) and packet.data[0] in overlap

    async def _connect(self, sock: Socket, auth: dict[str, Any] | None) -> None:
        if sock.state == GONE:
            return
        ns = self._namespaces[sock.namespace]
        session = sock.session
        try:
            for middleware in ns.middleware:
                await middleware(sock.sid, auth)
            if ns.on_connect is not None:
                await ns.on_connect(sock.sid, auth)
        except ConnectRefused as refusal:
            self._refuse(sock, refusal.message, refusal.data)
            return
        except Exception:
            log.exception("connect handler failed")
            self._refuse(sock, "Internal error", None)
            return
        sock.accepted = True
        if sock.state == GONE:
            return
        reply = orjson.dumps({"sid": sock.sid}).decode()
        session.send(packets.MESSAGE + _head(packets.CONNECT, sock.namespace) + reply)
        # The acknowledgement leaves in a write of its own: a client that handles every
        # frame of one read before its code runs again (Node's `ws`) would otherwise get
        # the connect handler's events before it has had a chance to listen for them.
        self.eio.flush_now(session)
        held, sock.held = sock.held or [], None
        sock.state = CONNECTED
        for packet in held:
            session.send(packet)

    def _refuse(self, sock: Socket, message: str, data: object) -> None:
        body: dict[str, object] = {"message": message}
        if data is not None:
            body["data"] = data
        if sock.state != GONE:
            self._drop(sock, "refused")
            sock.session.send(
                packets.MESSAGE
                + _head(packets.CONNECT_ERROR, sock.namespace)
                + orjson.dumps(body).decode()
            )

    async def _event(self, sock: Socket, packet: SioPacket) -> None:
        ns = self._namespaces[sock.namespace]
        # An event that arrived before the client went is still handled (its disconnect
        # handler is queued behind it); one on a refused connection is not.
        if not sock.accepted or ns.on_event is None:
            return
        event, *args = packet.data
        wants_ack = packet.id is not None
        result = await ns.on_event(sock.sid, str(event), args, wants_ack)
        if wants_ack and sock.state != GONE and sock.session.state != CLOSED:
            data = [] if result is None else list(result) if isinstance(result, tuple) else [result]
            for part in packets.encode(SioPacket(packets.ACK, sock.namespace, data, packet.id)):
                sock.session.send(part)

    async def _disconnected(self, sock: Socket, reason: str) -> None:
        handler = self._namespaces[sock.namespace].on_disconnect
        if handler is not None and sock.accepted:
            await handler(sock.sid, reason)


# What a draining server ignores.
_NEW_WORK = frozenset((packets.CONNECT, packets.EVENT, packets.BINARY_EVENT))
# Seconds between a draining server's looks at sessions nothing woke it for.
_RECHECK = 0.05
# Seconds a draining server waits for a long-polling client's GET to take its answers.
_POLL_WAIT = 1.0


def _all_sent(session: EioSession) -> bool:
    """Nothing is waiting to go to the client but in a write of its own or in the answer
    to its pending GET, both of which precede a close."""
    if session.state == WEBSOCKET:
        return True
    if session.get is not None:
        return len(session.polls) < MAX_POLL_PACKETS  # room for them all and the close
    return not session.polls


def _head(kind: int, namespace: str) -> str:
    return str(kind) if namespace == "/" else f"{kind}{namespace},"
