"""Socket.IO on rtchat's engine: the chat's operations (`operations.py`) as events.

Every client event goes through `_dispatch`: its answer is the acknowledgement when the
client asked for one; a failure without one becomes an `error` event to that connection
only. Other clients never see another client's failure.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rtchat.domain.errors import ChatError
from rtchat.domain.models import ConnectionId
from rtchat.engine import ConnectRefused, EngineOptions, SocketServer
from rtchat.engine.addresses import address_key
from rtchat.transport import events
from rtchat.transport.operations import Operations


class SocketIODelivery:
    """The Socket.IO side of `Deliveries`: an encoded event (the JSON array of a Socket.IO
    EVENT) prefixed once as a packet and written, as the same bytes, to every recipient."""

    def __init__(self, sio: SocketServer) -> None:
        self._sio = sio

    def subscribe(self, conn: ConnectionId, room: str) -> None:
        self._sio.enter_room(conn, room)

    def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        self._sio.leave_room(conn, room)

    def to_room(
        self, room: str, event: bytes, exclude: Collection[ConnectionId], later: bool
    ) -> int:
        return self._sio.emit_encoded(event.decode(), to=room, skip=exclude, later=later)

    def to_connection(self, conn: ConnectionId, event: bytes) -> None:
        self._sio.emit_encoded(event.decode(), to=conn)

    def close(self, conn: ConnectionId, reason: ChatError) -> None:
        # Socket.IO's DISCONNECT carries no reason: an `error` event just before it does.
        self._sio.emit(events.ERROR, reason.to_wire(), to=conn)
        self._sio.disconnect(conn)


def create_server(
    *,
    max_payload_bytes: int,
    cors_origins: list[str],
    head_timeout: float,
    body_timeout: float,
    upgrade_timeout: float,
    max_header_bytes: int,
    max_headers: int,
    max_connections_per_ip: int,
    max_buffered: int,
    output_budget: int,
    sid_tag: str = "",
) -> SocketServer:
    return SocketServer(
        EngineOptions(
            max_payload=max_payload_bytes,
            cors_origins=tuple(cors_origins),
            head_timeout=head_timeout,
            body_timeout=body_timeout,
            upgrade_timeout=upgrade_timeout,
            max_header_bytes=max_header_bytes,
            max_headers=max_headers,
            max_connections_per_ip=max_connections_per_ip,
            max_buffered=max_buffered,
            output_budget=output_budget,
            sid_tag=sid_tag,
        )
    )


class ChatHandlers:
    """Binds the chat's operations to the engine's Socket.IO events."""

    def __init__(self, sio: SocketServer, operations: Operations) -> None:
        self._sio = sio
        self._ops = operations
        sio.on_connect(self._connect)
        sio.on_disconnect(self._disconnect)
        # One connection's events are handled in order. Messages overlap: each one runs up to
        # its store append before the next starts, so they are stored (and numbered, and
        # broadcast) in the order sent, while one commit and one write per client serve
        # many of them. Every other event waits for the messages before it.
        sio.on_event(self._dispatch, overlap={events.SEND_MESSAGE})

    async def _connect(self, sid: str, auth: dict[str, Any] | None) -> None:
        address = address_key(self._sio.peer_address(sid))
        try:
            await self._ops.connect(ConnectionId(sid), auth, address)
        except ChatError as error:
            raise ConnectRefused(error.message, {"code": str(error.code)}) from None

    async def _disconnect(self, sid: str, reason: str) -> None:
        await self._ops.disconnect(ConnectionId(sid))

    async def _dispatch(self, sid: str, event: str, args: list[Any], ack_wanted: bool) -> object:
        answer = await self._ops.answer(ConnectionId(sid), event, args)
        if ack_wanted or answer["ok"]:
            return answer if ack_wanted else None
        # A failed event sent without a callback: told to that connection only.
        self._sio.emit(events.ERROR, answer["error"], to=sid)
        return None
