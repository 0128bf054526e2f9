"""The Engine.IO driver: sessions, the two transports, heartbeats and the write flush.

It runs the `EioSession` state machine over connections from `http.py` and hands
messages up through three hooks (`on_open`, `on_message`, `on_close`) that the Socket.IO
layer (`server.py`) implements. Nothing here starts a task: requests are answered in the
callback that parsed them, heartbeats come from two `DeadlineQueue`s for all sessions,
and everything written during one loop iteration leaves in one `_flush`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

import orjson

from rtchat.engine import packets
from rtchat.engine.eio_session import (
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
)
from rtchat.engine.packets import EioPacket, PacketError
from rtchat.engine.timers import DeadlineQueue
from rtchat.engine.websocket import GOING_AWAY, NORMAL, POLICY, TOO_BIG, text_frame

log = logging.getLogger(__name__)

Conn = Link

# Engine.IO's error answers, as the Node server words them.
UNKNOWN_TRANSPORT = (0, "Transport unknown")
UNKNOWN_SID = (1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
BAD_REQUEST = (3, "Bad request")
BAD_VERSION = (5, "Unsupported protocol version")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine.IO settings; times in seconds (sent to clients in whole milliseconds)."""

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    connect_timeout: float = 45.0
    max_payload: int = 1_000_000  # maxHttpBufferSize: the largest message or POST body
    max_buffered: int = 4 * 1024 * 1024  # slow-consumer bound on unsent bytes per session
    cors_origins: tuple[str, ...] = ()  # "*" allows any origin


class EioServer:
    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options or EngineOptions()
        self.sessions: dict[str, EioSession] = {}
        self._dirty: list[EioSession] = []
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        o = self.options
        self._ping_due = DeadlineQueue[EioSession](o.ping_interval, self._ping)
        self._pong_due = DeadlineQueue[EioSession](o.ping_timeout, self._ping_timeout)
        self._connect_due = DeadlineQueue[EioSession](o.connect_timeout, self._connect_timeout)

    # --- hooks for the Socket.IO layer ---------------------------------------------------

    def on_open(self, session: EioSession) -> None:
        pass

    def on_message(self, session: EioSession, data: str | bytes) -> None:
        pass

    def on_close(self, session: EioSession, reason: str) -> None:
        pass

    # --- life cycle ----------------------------------------------------------------------

    def stop(self) -> None:
        for session in list(self.sessions.values()):
            self.close_session(session, "server shutting down", code=GOING_AWAY)
        self._flush()
        for queue in (self._ping_due, self._pong_due, self._connect_due):
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

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        limit = self.options.max_buffered
        for session in dirty:
            state = session.state
            if state == WEBSOCKET:
                buf = session.wbuf
                ws = session.ws
                if buf and ws is not None:
                    session.wbuf = bytearray()
                    transport = ws.transport
                    transport.write(buf)
                    if transport.get_write_buffer_size() > limit:
                        self.close_session(session, "slow consumer", code=POLICY)
            elif state != CLOSED:
                get = session.get
                if get is not None:
                    payload = session.take_poll()
                    if payload is not None:
                        session.get = None
                        get.respond(200, payload)
                elif len(session.polls) >= POLL_CHECK_EVERY and session.queued_bytes() > limit:
                    self.close_session(session, "slow consumer")

    # --- HTTP requests -------------------------------------------------------------------

    def handle_request(
        self, conn: Conn, method: str, query: dict[str, str], origin: str | None, body: bytes
    ) -> None:
        """A plain HTTP request to the Engine.IO path (long-polling, or an error)."""
        cors = self._cors_headers(origin)
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
        if session.get is not None:
            # Two GETs at once: the protocol allows one; end the first with a close packet.
            first, session.get = session.get, None
            first.respond(200, packets.CLOSE.encode(), headers=cors)
            _error(conn, BAD_REQUEST, cors)
            self.close_session(session, "transport error")
            return
        payload = session.take_poll()
        if payload is not None:
            conn.respond(200, payload, headers=cors)
        elif session.state == UPGRADING and session.probe is not None:
            conn.respond(200, packets.NOOP.encode(), headers=cors)
        else:
            session.get = conn
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

    def websocket_allowed(self, query: dict[str, str]) -> tuple[int, str] | None:
        """Whether a WebSocket handshake may go ahead; the error to answer if not."""
        error = _check_query(query)
        if error is not None:
            return error
        if query["transport"] != "websocket":
            return BAD_REQUEST
        sid = query.get("sid")
        if sid is not None:
            session = self.sessions.get(sid)
            if session is None:
                return UNKNOWN_SID
            if session.state != POLLING:  # upgrading or upgraded already: refuse at once
                return BAD_REQUEST
        return None

    def websocket_opened(self, conn: Conn, query: dict[str, str]) -> EioSession:
        """After the 101: a new session on this WebSocket, or the probe of an upgrade."""
        sid = query.get("sid")
        if sid is not None:
            session = self.sessions[sid]
            session.start_upgrade(conn)
            return session
        session = self._open(conn, websocket=True)
        session.ws = conn
        conn.transport.write(text_frame(self._open_packet(session, upgrades=False)))
        return session

    def websocket_packet(self, conn: Conn, session: EioSession, packet: EioPacket) -> None:
        if conn is session.ws:
            self.receive(session, packet)
        elif conn is session.probe:
            self.receive(session, packet, on_probe=True)

    def connection_lost(self, conn: Conn, session: EioSession) -> None:
        if conn is session.ws:
            self.close_session(session, "transport close")
        elif conn is session.probe:
            session.probe = None
            if session.state == UPGRADING:
                session.state = POLLING
        elif conn is session.get:
            session.get = None

    # --- sessions ------------------------------------------------------------------------

    def _open(self, conn: Conn, *, websocket: bool) -> EioSession:
        sid = secrets.token_urlsafe(15)
        session = EioSession(sid, self, websocket=websocket)
        peer = conn.transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
            session.peer = peer[0]
        self.sessions[sid] = session
        self._ping_due.add(session)
        self.on_open(session)
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
            self.on_message(session, result)
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
            self._end_get(session)
        elif result == CLOSE_REQUESTED:
            self._end_get(session)
            self.close_session(session, "transport close")

    def _end_get(self, session: EioSession) -> None:
        # A pending GET ends with a noop, so the client's poll returns and it can move on.
        get = session.get
        if get is not None:
            session.get = None
            payload = session.take_poll() if session.state != WEBSOCKET else None
            get.respond(200, payload or packets.NOOP.encode())

    def close_session(self, session: EioSession, reason: str, *, code: int = NORMAL) -> None:
        if session.state == CLOSED:
            return
        ws, probe, get = session.ws, session.probe, session.get
        if ws is not None and session.state == WEBSOCKET:
            if reason == "slow consumer":
                ws.transport.abort()  # its buffer is full: a close frame would never get out
            else:
                if session.wbuf:
                    ws.transport.write(session.wbuf)
                ws.close_ws(code, reason)
        if probe is not None:
            probe.close_ws(code, reason)
        if get is not None:
            session.get = None
            last = [*session.polls[: MAX_POLL_PACKETS - 1], packets.CLOSE]
            get.respond(200, packets.encode_payload(last))
        session.close()
        del self.sessions[session.sid]
        for queue in (self._ping_due, self._pong_due, self._connect_due):
            queue.remove(session)
        self.on_close(session, reason)

    def _ping(self, session: EioSession) -> None:
        session.send(packets.PING)
        self._pong_due.add(session)

    def _ping_timeout(self, session: EioSession) -> None:
        self.close_session(session, "ping timeout")

    def _connect_timeout(self, session: EioSession) -> None:
        if not session.sockets:
            self.close_session(session, "connect timeout")

    def _cors_headers(self, origin: str | None) -> list[str]:
        allowed = self.options.cors_origins
        if origin is None or not allowed or ("*" not in allowed and origin not in allowed):
            return []
        return [f"Access-Control-Allow-Origin: {origin}", "Access-Control-Allow-Credentials: true"]


_PREFLIGHT = [
    "Access-Control-Allow-Methods: GET, POST, OPTIONS",
    "Access-Control-Allow-Headers: content-type",
]


def _check_query(query: dict[str, str]) -> tuple[int, str] | None:
    if query.get("EIO") != "4":
        return BAD_VERSION
    if query.get("transport") not in ("polling", "websocket"):
        return UNKNOWN_TRANSPORT
    return None


def _error(conn: Conn, error: tuple[int, str], cors: list[str]) -> None:
    code, message = error
    body = orjson.dumps({"code": code, "message": message})
    conn.respond(400, body, "application/json", cors)


__all__ = ["TOO_BIG", "EioServer", "EngineOptions"]
