"""The Engine.IO driver: sessions, the two transports, heartbeats and the write flush.

It runs the `EioSession` state machine over connections from `http.py` and hands
messages up to the layer above by composition: `opened(session)` (Socket.IO's, in
`server.py`) gives each new session its `Upper`, which receives its messages and its
close. Nothing here starts a task: requests are answered in the
callback that parsed them, heartbeats come from `DeadlineQueue`s for all sessions,
and everything written during one loop iteration leaves in one `_flush`.

Output is bounded twice: per connection (`max_buffered` unsent bytes, past which the
session is dropped as a slow consumer) and for the whole process (`output_budget`: when
the connections that are behind hold more than that together, the biggest are dropped
first, see `backlog.py`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from rtchat.engine import packets
from rtchat.engine.backlog import Backlog
from rtchat.engine.eio_session import (
    BACKLOG,
    CLOSE_REQUESTED,
    CLOSED,
    MAX_POLL_PACKETS,
    POLL_CHECK_EVERY,
    POLLING,
    PONG_RECEIVED,
    PROBE,
    UPGRADED,
    UPGRADING,
    WEBSOCKET,
    EioSession,
    Link,
    Upper,
)
from rtchat.engine.origins import OriginPolicy
from rtchat.engine.outbuf import LATER_S
from rtchat.engine.packets import EioPacket, PacketError
from rtchat.engine.timers import Batch, DeadlineQueue
from rtchat.engine.websocket import GOING_AWAY, NORMAL, POLICY, TOO_BIG, text_frame

log = logging.getLogger(__name__)
# One line per connection opened and closed, at info; a logger of its own so operators can
# turn it down apart from the rest. Nothing is logged per message.
connections_log = logging.getLogger("rtchat.connections")

Conn = Link
Refusal = tuple[int, int, str]  # HTTP status, Engine.IO error code, message

# Engine.IO's error answers, as the Node server words them.
UNKNOWN_TRANSPORT: Refusal = (400, 0, "Transport unknown")
UNKNOWN_SID: Refusal = (400, 1, "Session ID unknown")
BAD_HANDSHAKE_METHOD: Refusal = (400, 2, "Bad handshake method")
BAD_REQUEST: Refusal = (400, 3, "Bad request")
FORBIDDEN: Refusal = (403, 4, "Forbidden: this origin may not connect")
BAD_VERSION: Refusal = (400, 5, "Unsupported protocol version")

# Sent on every HTTP answer, the engine's and the ASGI app's (unless the app sets the
# header itself): no sniffing, no framing, no referrer. The app's pages need a policy of
# their own for scripts; the engine's answers get `ENGINE_CSP` instead of this one.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
)
# An Engine.IO answer opened as a page can do nothing.
ENGINE_CSP = "default-src 'none'; frame-ancestors 'none'"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine.IO and HTTP settings; times in seconds (sent to clients in whole milliseconds).

    Attributes:
        ping_interval: Engine.IO `pingInterval`.
        ping_timeout: Engine.IO `pingTimeout`.
        connect_timeout: time a session has to connect to a Socket.IO namespace.
        max_payload: `maxHttpBufferSize`: the largest message or POST body.
        max_buffered: unsent bytes per connection past which it is a slow consumer.
        output_budget: unsent bytes of all connections together past which the biggest
            are dropped first.
        cors_origins: origins allowed besides the same origin (`"*"`: all).
        head_timeout: time to a complete request head, from its first byte (a WebSocket
            handshake request included).
        body_timeout: time to a complete request body, from the end of its head.
        upgrade_timeout: time a probe WebSocket has to complete the upgrade of a
            long-polling session (Engine.IO's `upgradeTimeout`).
        max_header_bytes: bytes of a request's URL and headers.
        max_headers: headers in one request.
        max_connections_per_ip: open TCP connections from one IPv4 address or IPv6 /64;
            0: no limit.
        security_headers: headers sent on every HTTP answer.
        sid_tag: this node's tag, the first part of every session id it makes
            (`<tag>.<random>`), so that any node can tell whose a session is
            (forward.py); empty for a node alone.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    connect_timeout: float = 45.0
    max_payload: int = 1_000_000
    max_buffered: int = 4 * 1024 * 1024
    output_budget: int = 64 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    upgrade_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_connections_per_ip: int = 256
    security_headers: tuple[tuple[str, str], ...] = SECURITY_HEADERS
    sid_tag: str = ""


class EioServer:
    """Engine.IO sessions; `opened` makes the layer above of each new one (none: its
    messages go nowhere, as for a server that only speaks Engine.IO to test it)."""

    def __init__(
        self,
        options: EngineOptions | None = None,
        opened: Callable[[EioSession], Upper] | None = None,
        backlog: Backlog | None = None,
    ) -> None:
        self.options = options or EngineOptions()
        self._opened = opened
        self.sessions: dict[str, EioSession] = {}
        self._dirty: list[EioSession] = []
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        o = self.options
        self._origins = OriginPolicy(o.cors_origins)
        # Connections (a WebSocket link, or a polling session) more than BACKLOG behind;
        # `backlog` shares the output budget with another endpoint's connections.
        self.backlog = backlog if backlog is not None else Backlog(o.output_budget)
        self._ping_due = DeadlineQueue[EioSession](o.ping_interval, self._ping)
        self._pong_due = DeadlineQueue[EioSession](o.ping_timeout, self._ping_timeout)
        self._connect_due = DeadlineQueue[EioSession](o.connect_timeout, self._connect_timeout)
        self._upgrade_due = DeadlineQueue[EioSession](o.upgrade_timeout, self._upgrade_timeout)
        self._later = Batch[EioSession](LATER_S, self._flush_later)
        self.dropped: dict[str, int] = {}  # sessions dropped for being behind, by reason

    # --- life cycle ----------------------------------------------------------------------

    def stop(self) -> None:
        for session in list(self.sessions.values()):
            self.close_session(session, "server shutting down", code=GOING_AWAY)
        self._later.close()  # closed above: what waited is written
        self._flush()
        for queue in (self._ping_due, self._pong_due, self._connect_due, self._upgrade_due):
            queue.close()

    def awaiting_connect(self, session: EioSession, waiting: bool) -> None:
        """Start (or stop) the clock by which a session must connect to a namespace."""
        if waiting:
            self._connect_due.add(session)
        else:
            self._connect_due.remove(session)

    # --- writing -------------------------------------------------------------------------

    def mark(self, session: EioSession) -> None:
        self._dirty.append(session)
        if self._flush_handle is None:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._flush_handle = self._loop.call_soon(self._flush)

    def mark_later(self, session: EioSession) -> None:
        self._later.add(session)

    def _flush_later(self, sessions: list[EioSession]) -> None:
        # Those that wrote meanwhile (something urgent took their frames along) find
        # nothing to write.
        self._dirty += sessions
        if self._flush_handle is None:
            self._flush()

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        behind = BACKLOG
        for session in dirty:
            state = session.state
            if state == WEBSOCKET:
                size = session.write_out()
                if size > behind:
                    ws = session.ws
                    assert ws is not None  # it has just written
                    self._behind(session, ws, size)
            elif state != CLOSED:
                get = session.get
                if get is not None:
                    payload = session.take_poll()
                    if payload is not None:
                        session.take_get()
                        get.respond(200, payload)
                        if session in self.backlog:
                            self.backlog.forget(session)
                elif len(session.polls) >= POLL_CHECK_EVERY:
                    size = session.queued_bytes()
                    if size > behind:
                        self._behind(session, session, size)

    def flush_now(self, session: EioSession) -> None:
        """Send what `session` has queued in a write (or long-polling response) of its own,
        before anything sent after it."""
        if session.state == WEBSOCKET:
            session.write_out()  # taken out: the flush it is marked for finds nothing
        elif session.state != CLOSED:
            session.end_payload()
            get = session.get
            payload = session.take_poll() if get is not None else None
            if get is not None and payload is not None:
                session.take_get()
                get.respond(200, payload)
                if session in self.backlog:
                    self.backlog.forget(session)

    def _behind(self, session: EioSession, key: Conn | EioSession, size: int) -> None:
        o = self.options
        over_budget = self.backlog.note(self, key, size)
        if size > o.max_buffered:
            detail = f"{size} bytes unsent, over the bound of {o.max_buffered}"
            self._drop_behind(session, "slow consumer", detail)
        elif over_budget:
            self.backlog.relieve()

    # The output budget's `Owner` of this endpoint's connections (see backlog.py).

    def unsent_bytes(self, key: Conn | EioSession) -> int:
        if isinstance(key, EioSession):
            return key.queued_bytes()
        return key.transport.get_write_buffer_size()

    def is_closing(self, key: Conn | EioSession) -> bool:
        return not isinstance(key, EioSession) and key.transport.is_closing()

    def drop_for_budget(self, key: Conn | EioSession, detail: str) -> None:
        if isinstance(key, EioSession):
            self._drop_behind(key, "output budget", detail)
            return
        session = key.session
        if session is not None and session.state != CLOSED:
            self._drop_behind(session, "output budget", detail)
        key.transport.abort()

    def _drop_behind(self, session: EioSession, reason: str, detail: str) -> None:
        log.info("dropped %s: %s (%s)", session.sid, reason, detail)
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        self.close_session(session, reason, code=POLICY)

    def writable(self, conn: Conn) -> None:
        """`conn`'s transport drained below its low-water mark: it has caught up."""
        if conn in self.backlog:
            self.backlog.forget(conn)

    # --- HTTP requests -------------------------------------------------------------------

    def handle_request(
        self,
        conn: Conn,
        method: str,
        query: dict[str, str],
        origin: str | None,
        host: str | None,
        body: bytes,
    ) -> None:
        """A plain HTTP request to the Engine.IO path (long-polling, or an error)."""
        if not self._origins.allows(origin, host):
            _error(conn, FORBIDDEN, [])
            return
        cors = self._origins.cors_headers(origin, host)
        if method == "OPTIONS":
            conn.respond(204, b"", headers=[*cors, *_PREFLIGHT])
            return
        error = _check_query(query)
        if error is not None:
            _error(conn, error, cors)
            return
        if query["transport"] != "polling":
            _error(conn, BAD_REQUEST, cors)  # WebSocket without the upgrade handshake
            return
        sid = query.get("sid")
        if sid is None:
            if method != "GET":
                _error(conn, BAD_HANDSHAKE_METHOD, cors)
                return
            opened = self._open(conn, websocket=False)
            conn.respond(200, self._open_packet(opened, upgrades=True).encode(), headers=cors)
            return
        session = self.sessions.get(sid)
        if session is None:
            _error(conn, UNKNOWN_SID, cors)
        elif session.state not in (POLLING, UPGRADING):
            _error(conn, BAD_REQUEST, cors)  # this session moved to WebSocket
        elif method == "GET":
            self._poll(conn, session, cors)
        elif method == "POST":
            self._post(conn, session, body, cors)
        else:
            _error(conn, BAD_REQUEST, cors)

    def body_too_big(self, conn: Conn, query: dict[str, str]) -> None:
        """A POST body passed `max_payload` while it was arriving: 413, session closed."""
        conn.respond(413, b"Payload Too Large", headers=["Connection: close"])
        session = self.sessions.get(query.get("sid", ""))
        if session is not None and session.state in (POLLING, UPGRADING):
            self.close_session(session, "transport error")

    def _poll(self, conn: Conn, session: EioSession, cors: list[str]) -> None:
        first = session.take_get()
        if first is not None:
            # Two GETs at once: the protocol allows one; end the first with a close packet.
            first.respond(200, packets.CLOSE.encode(), headers=cors)
            _error(conn, BAD_REQUEST, cors)
            self.close_session(session, "transport error")
            return
        payload = session.take_poll()
        if payload is not None:
            conn.respond(200, payload, headers=cors)
            if session in self.backlog:
                self.backlog.forget(session)
        elif session.state == UPGRADING and session.probe is not None:
            conn.respond(200, packets.NOOP.encode(), headers=cors)
        else:
            session.hold_get(conn)
            conn.session = session

    def _post(self, conn: Conn, session: EioSession, body: bytes, cors: list[str]) -> None:
        if len(body) > self.options.max_payload:
            conn.respond(413, b"Payload Too Large", headers=cors)
            self.close_session(session, "transport error")
            return
        try:
            received = packets.decode_payload(body.decode())
        except (PacketError, UnicodeDecodeError):
            _error(conn, BAD_REQUEST, cors)
            self.close_session(session, "parse error")
            return
        conn.respond(200, b"ok", headers=cors)
        for packet in received:
            if session.state == CLOSED:
                break
            self.receive(session, packet)

    # --- WebSocket -----------------------------------------------------------------------

    def websocket_allowed(
        self, query: dict[str, str], origin: str | None, host: str | None
    ) -> Refusal | None:
        """Whether a WebSocket handshake may go ahead; the error to answer if not."""
        if not self._origins.allows(origin, host):
            return FORBIDDEN
        error = _check_query(query)
        if error is not None:
            return error
        if query["transport"] != "websocket":
            return BAD_REQUEST
        sid = query.get("sid")
        if sid is not None and sid not in self.sessions:
            return UNKNOWN_SID
        return None

    def websocket_opened(self, conn: Conn, query: dict[str, str], head: bytes) -> EioSession | None:
        """Write `head` (the 101) and open a new session on this WebSocket, or take it as
        the probe of an upgrade. A new session's OPEN packet goes in the same write as the
        101: a connection costs a system call, a segment and a wake-up of its client less.
        None if the session is upgrading or upgraded already: the protocol has the server
        close this second WebSocket, and the first transport goes on untouched."""
        sid = query.get("sid")
        if sid is not None:
            conn.transport.write(head)
            session = self.sessions.get(sid)
            if session is None or not session.start_upgrade(conn):
                return None
            self._upgrade_due.add(session)
            return session
        session = self._open(conn, websocket=True)
        conn.transport.write(head + text_frame(self._open_packet(session, upgrades=False)))
        return session

    def websocket_packet(self, conn: Conn, session: EioSession, packet: EioPacket) -> None:
        if conn is session.ws:
            self.receive(session, packet)
        elif conn is session.probe:
            self.receive(session, packet, on_probe=True)

    def connection_lost(self, conn: Conn, session: EioSession | None) -> None:
        if conn in self.backlog:
            self.backlog.forget(conn)
        if session is None:
            return
        if conn is session.ws:
            self.close_session(session, "transport close")
        elif conn is session.probe:
            self._upgrade_due.remove(session)
            session.cancel_upgrade()
        elif conn is session.get:
            session.take_get()

    # --- sessions ------------------------------------------------------------------------

    def _open(self, conn: Conn, *, websocket: bool) -> EioSession:
        tag = self.options.sid_tag
        sid = f"{tag}.{secrets.token_urlsafe(15)}" if tag else secrets.token_urlsafe(15)
        peer = conn.transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else None
        if address is not None:
            # Kept per session, and most sessions share a few addresses (a proxy's, a NAT's):
            # one string each, not one per session. Interned strings go when unused.
            address = sys.intern(address)
        session = EioSession(
            sid, self, websocket=websocket, link=conn if websocket else None, peer=address
        )
        self.sessions[sid] = session
        self._ping_due.add(session)
        if connections_log.isEnabledFor(logging.INFO):
            transport = transport_name(session)
            connections_log.info(
                "connection %s opened over %s",
                sid,
                transport,
                extra={
                    "event": "connect",
                    "sid": sid,
                    "transport": transport,
                    "peer": session.peer,
                },
            )
        if self._opened is not None:
            session.attach(self._opened(session))
        return session

    def _open_packet(self, session: EioSession, *, upgrades: bool) -> str:
        o = self.options
        return EioSession.open_packet(
            session.sid,
            upgrades=upgrades,
            ping_interval=o.ping_interval,
            ping_timeout=o.ping_timeout,
            max_payload=o.max_payload,
        )

    def receive(self, session: EioSession, packet: EioPacket, *, on_probe: bool = False) -> None:
        try:
            result = session.receive(packet, on_probe=on_probe)
        except PacketError:
            self.close_session(session, "parse error", code=POLICY)
            return
        if not isinstance(result, int):
            session.upper.received(result)
        elif result == PONG_RECEIVED:
            if session in self._pong_due:
                self._pong_due.remove(session)
                self._ping_due.add(session)
        elif result == PROBE:
            probe = session.probe
            assert probe is not None
            probe.transport.write(text_frame(packets.PONG + "probe"))
            self._end_get(session)
        elif result == UPGRADED:
            self._upgrade_due.remove(session)
            self._end_get(session)
        elif result == CLOSE_REQUESTED:
            self._end_get(session)
            self.close_session(session, "transport close")

    def _end_get(self, session: EioSession) -> None:
        # A pending GET ends with a noop, so the client's poll returns and it can move on.
        get = session.take_get()
        if get is not None:
            payload = session.take_poll() if session.state != WEBSOCKET else None
            get.respond(200, payload or packets.NOOP.encode())

    def close_session(self, session: EioSession, reason: str, *, code: int = NORMAL) -> None:
        if session.state == CLOSED:
            return
        ws, probe, get = session.ws, session.probe, session.take_get()
        if ws is not None and session.state == WEBSOCKET:
            if not ws.closing:  # the driver closed it itself (a client's close, an error)
                session.write_out()
            ws.close_ws(code, reason)  # written after what is unsent: bounded by the linger
        if probe is not None:
            probe.close_ws(code, reason)
        if get is not None:
            last = [*session.polls[: MAX_POLL_PACKETS - 1], packets.CLOSE]
            get.respond(200, packets.encode_payload(last))
        if connections_log.isEnabledFor(logging.INFO):
            transport = transport_name(session)
            connections_log.info(
                "connection %s closed over %s: %s",
                session.sid,
                transport,
                reason,
                extra={
                    "event": "disconnect",
                    "sid": session.sid,
                    "transport": transport,
                    "reason": reason,
                },
            )
        session.close()
        del self.sessions[session.sid]
        if session in self.backlog:
            self.backlog.forget(session)
        for queue in (self._ping_due, self._pong_due, self._connect_due, self._upgrade_due):
            queue.remove(session)
        session.upper.closed(reason)

    def _ping(self, session: EioSession) -> None:
        session.send(packets.PING)
        self._pong_due.add(session)

    def _ping_timeout(self, session: EioSession) -> None:
        self.close_session(session, "ping timeout")

    def _connect_timeout(self, session: EioSession) -> None:
        # Still on this clock: the layer above said no connect came (`awaiting_connect`).
        self.close_session(session, "connect timeout")

    def _upgrade_timeout(self, session: EioSession) -> None:
        probe = session.probe
        if probe is not None and session.state == UPGRADING:
            session.cancel_upgrade()
            probe.close_ws(POLICY, "upgrade timeout")


def transport_name(session: EioSession) -> str:
    """ "websocket" or "polling" (a session still upgrading is polling)."""
    return "websocket" if session.state == WEBSOCKET else "polling"


_PREFLIGHT = [
    "Access-Control-Allow-Methods: GET, POST, OPTIONS",
    "Access-Control-Allow-Headers: content-type",
]


def _check_query(query: dict[str, str]) -> Refusal | None:
    if query.get("EIO") != "4":
        return BAD_VERSION
    if query.get("transport") not in ("polling", "websocket"):
        return UNKNOWN_TRANSPORT
    return None


def _error(conn: Conn, error: Refusal, cors: list[str]) -> None:
    status, code, message = error
    body = orjson.dumps({"code": code, "message": message})
    conn.respond(status, body, "application/json", cors)


__all__ = ["ENGINE_CSP", "SECURITY_HEADERS", "TOO_BIG", "EioServer", "EngineOptions"]
