"""Socket.IO handlers on python-socketio: parse, call the service, answer.

Every client event goes through `_dispatch`, which is where failures become answers:
a `ChatError` turns into `{ok: false, error}` when the client asked for an
acknowledgement and into an `error` event to that connection otherwise; anything
else is logged with its traceback and answered `internal`. Other clients never
see another client's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId
from rtchat.domain.ratelimit import TokenBucket
from rtchat.ports import Clock
from rtchat.service import ChatService
from rtchat.transport import codec, events

log = logging.getLogger(__name__)

Handler = Callable[[ConnectionId, list[Any]], Awaitable[object]]


class _AckAwareServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio hides from handlers whether the client asked for an
    acknowledgement; we need it to choose between an error ack and an `error` event.
    This overrides one private method of the pinned version; the engine of our own
    (see ARCHITECTURE.md) will make it unnecessary."""

    dispatch: Callable[[ConnectionId, str, list[Any], bool], Awaitable[object]]

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        if not data or not isinstance(data[0], str):
            return
        result = await self.dispatch(ConnectionId(sid), data[0], data[1:], id is not None)
        if id is not None:
            await server._send_packet(
                eio_sid,
                self.packet_class(socketio.packet.ACK, namespace=namespace, id=id, data=[result]),
            )


class SocketIOBroadcaster:
    """The `Broadcaster` port over python-socketio rooms: one encode per event."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def subscribe(self, conn: ConnectionId, room: str) -> None:
        await self._sio.enter_room(conn, room)

    async def to_room(
        self, room: str, event: ServerEvent, *, exclude: ConnectionId | None = None
    ) -> None:
        name, payload = codec.encode(event)
        await self._sio.emit(name, payload, to=room, skip_sid=exclude)

    async def to_connection(self, conn: ConnectionId, event: ServerEvent) -> None:
        name, payload = codec.encode(event)
        await self._sio.emit(name, payload, to=conn)


def create_server(*, max_payload_bytes: int, cors_origins: list[str] | str) -> socketio.AsyncServer:
    return _AckAwareServer(
        async_mode="asgi",
        json=codec.OrjsonModule,
        # In-order handling per connection: a client's messages are posted in the order sent.
        async_handlers=False,
        max_http_buffer_size=max_payload_bytes,
        cors_allowed_origins=cors_origins,
        logger=False,
        engineio_logger=False,
    )


class ChatHandlers:
    """Binds the chat's events to a python-socketio server."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        service: ChatService,
        clock: Clock,
        *,
        event_rate: float,
        event_burst: float,
    ) -> None:
        self._sio = sio
        self._service = service
        self._clock = clock
        self._event_rate = event_rate
        self._event_burst = event_burst
        self._floods: dict[ConnectionId, TokenBucket] = {}
        self._handlers: dict[str, Handler] = {
            events.USER_JOINED: self._user_joined,
            events.SEND_MESSAGE: self._send_message,
            events.TYPING: self._typing,
        }
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)
        sio.dispatch = self._dispatch

    async def _connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        conn = ConnectionId(sid)
        self._floods[conn] = TokenBucket(self._event_rate, self._event_burst)
        await self._service.connect(conn)

    async def _disconnect(self, sid: str, reason: object = None) -> None:
        conn = ConnectionId(sid)
        self._floods.pop(conn, None)
        await self._service.disconnect(conn)

    async def _dispatch(
        self, conn: ConnectionId, event: str, args: list[Any], ack_wanted: bool
    ) -> object:
        try:
            flood = self._floods.get(conn)
            if flood is not None and not flood.take(self._clock.monotonic()):
                raise ChatError(ErrorCode.RATE_LIMITED, "Too many events; slow down.")
            handler = self._handlers.get(event)
            if handler is None:
                raise ChatError(ErrorCode.UNKNOWN_EVENT, f"Unknown event {event[:64]!r}.")
            return {"ok": True, "data": await handler(conn, args)}
        except ChatError as error:
            failure = error.to_wire()
        except Exception:
            log.exception("handler for %r failed", event[:64])
            failure = ChatError(ErrorCode.INTERNAL).to_wire()
        if ack_wanted:
            return {"ok": False, "error": failure}
        await self._sio.emit(events.ERROR, failure, to=conn)
        return None

    async def _user_joined(self, conn: ConnectionId, args: list[Any]) -> object:
        user = await self._service.join(conn, _first(args))
        return codec.user_payload(user)

    async def _send_message(self, conn: ConnectionId, args: list[Any]) -> object:
        message = await self._service.post(conn, _first(args))
        return codec.message_payload(message)

    async def _typing(self, conn: ConnectionId, args: list[Any]) -> object:
        await self._service.typing(conn, _first(args))
        return None


def _first(args: list[Any]) -> object:
    return args[0] if args else None
