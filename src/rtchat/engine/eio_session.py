"""The Engine.IO v4 session state machine, no I/O.

A session starts on long-polling (``POLLING``) or directly on WebSocket (``WEBSOCKET``).
A polling session upgrades through ``UPGRADING`` ("2probe" answered "3probe" on the new
WebSocket, then "5" over it) to ``WEBSOCKET``; anything to send meanwhile stays queued
for polling and moves to the WebSocket when the upgrade completes. ``CLOSED`` is final.

What the session sends accumulates here: WebSocket frames already built in `wbuf` (see
outbuf.py), long-polling packets in `polls`. The driver is told a session has something to
send through `Flusher.mark` and takes it out once per event-loop iteration, which is how
several writes to one connection become one `transport.write`; of frames that may wait
(`send_later`), through `Flusher.mark_later`, and takes them out within `outbuf.LATER_S`.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import orjson

from rtchat.engine import outbuf, packets
from rtchat.engine.packets import EioPacket, PacketError
from rtchat.engine.websocket import BINARY, frame, text_frame

POLLING, UPGRADING, WEBSOCKET, CLOSED = 0, 1, 2, 3

# A long-polling session's queue is checked against the slow-consumer bound this often.
POLL_CHECK_EVERY = 256

# Unsent bytes past which a connection counts as backlogged: the transports' high-water
# mark. Below it nothing is tracked, so a connection that keeps up costs nothing.
BACKLOG = 64 * 1024

# Packets in one long-polling response. python-engineio's client refuses a payload of
# more than 16 (`Payload.max_decode_packets`) and drops the connection; npm's client has
# no limit, and a burst costs it only an extra GET.
MAX_POLL_PACKETS = 16

# What `receive` reports besides a message for the Socket.IO layer.
PONG_RECEIVED, PROBE, UPGRADED, CLOSE_REQUESTED, NOTHING = range(5)


class Flusher(Protocol):
    def mark(self, session: EioSession) -> None:
        """`session` has something to send; take it out before the loop sleeps."""
        ...

    def mark_later(self, session: EioSession) -> None:
        """`session` has only frames that may wait; take them out within `outbuf.LATER_S`
        (or with the session's next `mark`)."""
        ...


class Upper(Protocol):
    """The layer above a session (Socket.IO's per-session state, see `server.py`)."""

    def received(self, data: str | bytes) -> None:
        """A message for the layer above: text, or a binary attachment."""
        ...

    def closed(self, reason: str) -> None:
        """The session closed; nothing sent from now on goes anywhere."""
        ...


class _Unattached:
    """The upper of a session before `attach`: drops everything."""

    def received(self, data: str | bytes) -> None:
        pass

    def closed(self, reason: str) -> None:
        pass


_UNATTACHED = _Unattached()


class Link(Protocol):
    """A driver's connection (a WebSocket, or one carrying a pending GET); see `http.py`."""

    transport: asyncio.Transport
    session: EioSession | None

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=UTF-8",
        headers: list[str] | None = None,
    ) -> None: ...

    def close_ws(self, code: int, reason: str) -> None: ...

    @property
    def closing(self) -> bool:
        """Whether it is closing: nothing more may be written to it."""
        ...


class EioSession:
    """One Engine.IO session. `upper` is the layer above it (Socket.IO), which it hands
    messages to; the driver reads the fields and changes them only through the methods."""

    __slots__ = (
        "cut",
        "flusher",
        "get",
        "peer",
        "polls",
        "probe",
        "sid",
        "state",
        "upper",
        "wbuf",
        "ws",
    )

    def __init__(
        self,
        sid: str,
        flusher: Flusher,
        *,
        websocket: bool,
        link: Link | None = None,
        peer: str | None = None,
    ) -> None:
        self.sid = sid
        self.flusher = flusher
        self.state = WEBSOCKET if websocket else POLLING
        self.wbuf: outbuf.Queued = None
        self.polls: list[EioPacket] = []
        self.cut = 0  # the first `cut` packets of `polls` end a long-polling response
        # The WebSocket carrying the session once on WEBSOCKET: `link`, for one opened there.
        self.ws: Link | None = link if websocket else None
        self.probe: Link | None = None  # the WebSocket being upgraded to
        self.get: Link | None = None  # the pending long-polling GET
        self.upper: Upper = _UNATTACHED
        self.peer = peer  # the client's IP, as the request that opened it came

    def attach(self, upper: Upper) -> None:
        """Hand messages to `upper` from now on."""
        self.upper = upper

    @staticmethod
    def open_packet(
        sid: str, *, upgrades: bool, ping_interval: float, ping_timeout: float, max_payload: int
    ) -> str:
        """The handshake; intervals are given in seconds and sent in whole milliseconds."""
        return (
            packets.OPEN
            + orjson.dumps(
                {
                    "sid": sid,
                    "upgrades": ["websocket"] if upgrades else [],
                    "pingInterval": round(ping_interval * 1000),
                    "pingTimeout": round(ping_timeout * 1000),
                    "maxPayload": max_payload,
                }
            ).decode()
        )

    # --- sending ---------------------------------------------------------------------------

    def send(self, packet: EioPacket) -> None:
        if self.state == CLOSED:
            return
        if self.state == WEBSOCKET:
            queued = self.wbuf
            if not outbuf.urgent(queued):
                self.flusher.mark(self)
            built = text_frame(packet) if isinstance(packet, str) else frame(BINARY, packet)
            self.wbuf = outbuf.add(queued, built)
        else:
            polls = self.polls
            if len(polls) % POLL_CHECK_EVERY == 0:  # first packet, or time to check the bound
                self.flusher.mark(self)
            polls.append(packet)

    def send_prebuilt(self, packet: str, ws_frame: bytes) -> None:
        """`send` for a packet whose WebSocket frame was built once for many sessions."""
        if self.state == WEBSOCKET:
            # outbuf.add, inlined: this runs once per recipient of every broadcast.
            queued = self.wbuf
            if queued is None:
                self.flusher.mark(self)
                self.wbuf = ws_frame
            elif isinstance(queued, list):
                if queued.__class__ is outbuf.Later:  # what waited goes now, first
                    self.flusher.mark(self)
                    self.wbuf = [*queued, ws_frame]
                else:
                    queued.append(ws_frame)
            else:
                self.wbuf = [queued, ws_frame]
        elif self.state != CLOSED:
            polls = self.polls
            if len(polls) % POLL_CHECK_EVERY == 0:
                self.flusher.mark(self)
            polls.append(packet)

    def send_later(self, packet: str, ws_frame: bytes) -> None:
        """`send_prebuilt` for a frame that may wait up to `outbuf.LATER_S` for a write this
        session makes anyway. Long-polling sends it at once: a response per announcement is
        what polling costs already."""
        if self.state == WEBSOCKET:
            queued = self.wbuf
            if queued is None:
                self.flusher.mark_later(self)
            self.wbuf = outbuf.add_later(queued, ws_frame)
        else:
            self.send_prebuilt(packet, ws_frame)

    def write_out(self) -> int:
        """On WEBSOCKET: write what is queued to the WebSocket in one write; the bytes its
        transport has not sent yet (0 if nothing was queued)."""
        queued, ws = self.wbuf, self.ws
        if queued is None or ws is None:
            return 0
        self.wbuf = None
        transport = ws.transport
        transport.write(outbuf.joined(queued))
        return transport.get_write_buffer_size()

    def hold_get(self, get: Link) -> None:
        """A long-polling GET waits for something to send."""
        self.get = get

    def take_get(self) -> Link | None:
        """The pending GET, which the driver answers now; none is pending after."""
        get, self.get = self.get, None
        return get

    def take_poll(self) -> bytes | None:
        """The payload answering a pending GET, if there is anything to send."""
        if not self.polls or self.state not in (POLLING, UPGRADING):
            return None
        polls = self.polls
        most = min(self.cut, MAX_POLL_PACKETS) if self.cut else MAX_POLL_PACKETS
        if len(polls) <= most:
            self.polls = []
        else:  # the rest answers the next GET, which the client sends at once
            polls, self.polls = polls[:most], polls[most:]
        self.cut = max(self.cut - most, 0)
        return packets.encode_payload(polls)

    def end_payload(self) -> None:
        """What is queued now ends the next long-polling response: what is sent after it
        goes in the one after (the WebSocket side is written out by the driver at once)."""
        self.cut = len(self.polls)

    def queued_bytes(self) -> int:
        return outbuf.size(self.wbuf) + sum(len(p) for p in self.polls)

    # --- receiving -------------------------------------------------------------------------

    def receive(self, packet: EioPacket, *, on_probe: bool = False) -> str | bytes | int:
        """Handle one received Engine.IO packet.

        Returns a message for the Socket.IO layer (`str` text or `bytes` binary), or one of
        PONG_RECEIVED, PROBE (answer "3probe" on the probe WebSocket), UPGRADED (the probe
        WebSocket now carries the session), CLOSE_REQUESTED, NOTHING. Raises `PacketError`
        for a packet that is not allowed here.
        """
        if on_probe:
            return self._receive_on_probe(packet)
        if isinstance(packet, bytes):
            return packet
        kind = packet[:1]
        if kind == packets.MESSAGE:
            return packet[1:]
        if kind == packets.PONG:
            return PONG_RECEIVED
        if kind == packets.CLOSE:
            return CLOSE_REQUESTED
        if kind in (packets.NOOP, packets.PING):
            # A v4 client never pings; tolerate it as the Node server does, with a pong.
            if kind == packets.PING:
                self.send(packets.PONG + packet[1:])
            return NOTHING
        raise PacketError(f"unexpected packet {packet[:8]!r}")

    def _receive_on_probe(self, packet: EioPacket) -> int:
        if packet == packets.PING + "probe" and self.state == UPGRADING:
            return PROBE
        if packet == packets.UPGRADE and self.state == UPGRADING:
            self.upgrade()
            return UPGRADED
        raise PacketError("unexpected packet during the upgrade")

    def start_upgrade(self, probe: Link) -> bool:
        """A WebSocket asks to take over this polling session; False if it may not."""
        if self.state != POLLING:
            return False
        self.state = UPGRADING
        self.probe = probe
        return True

    def upgrade(self) -> None:
        self.state = WEBSOCKET
        self.ws, self.probe = self.probe, None
        queued, self.polls = self.polls, []
        self.cut = 0
        for packet in queued:
            self.send(packet)

    def cancel_upgrade(self) -> None:
        """The probe WebSocket went, or took too long: carry on over long-polling."""
        self.probe = None
        if self.state == UPGRADING:
            self.state = POLLING

    def close(self) -> None:
        self.state = CLOSED
        self.polls = []
        self.cut = 0
        self.wbuf = None
