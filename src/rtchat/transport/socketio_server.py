"""Socket.IO handlers on rtchat's engine: parse, call the service, answer.

Every client event goes through `_dispatch`, which is where failures become answers:
a `ChatError` turns into `{ok: false, error}` when the client asked for an
acknowledgement and into an `error` event to that connection otherwise; anything
else is logged with its traceback and answered `internal`. Other clients never
see another client's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import orjson

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import ServerEvent
from rtchat.domain.models import ConnectionId
from rtchat.domain.ratelimit import TokenBucket
from rtchat.engine import ConnectRefused, EngineOptions, SocketServer
from rtchat.engine.addresses import address_key
from rtchat.ports import Clock
from rtchat.service import Chat, SessionView
from rtchat.transport import codec, events

log = logging.getLogger(__name__)

Handler = Callable[[ConnectionId, list[Any]], Awaitable[object]]


class SocketIODelivery:
    """The `LocalDelivery` port over the engine's rooms: each event encoded once, as the
    JSON array of a Socket.IO EVENT, and the same bytes written to every recipient here
    (and, through the relay, on every other node)."""

    def __init__(self, sio: SocketServer) -> None:
        self._sio = sio

    def encode(self, event: ServerEvent) -> bytes:
        name, payload = codec.encode(event)
        return orjson.dumps([name, payload])

    def subscribe(self, conn: ConnectionId, room: str) -> None:
        self._sio.enter_room(conn, room)

    def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        self._sio.leave_room(conn, room)

    def to_room(self, room: str, event: bytes, exclude: Collection[ConnectionId] = ()) -> None:
        self._sio.emit_encoded(event.decode(), to=room, skip=exclude)

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
    """Binds the chat's events to the engine."""

    def __init__(
        self,
        sio: SocketServer,
        chat: Chat,
        clock: Clock,
        *,
        event_rate: float,
        event_burst: float,
    ) -> None:
        self._sio = sio
        self._chat = chat
        self._clock = clock
        self._event_rate = event_rate
        self._event_burst = event_burst
        self._floods: dict[ConnectionId, TokenBucket] = {}
        self.errors: dict[str, int] = {}  # error answers by code, read by /metrics
        self._handlers: dict[str, Handler] = {
            events.USER_JOINED: self._user_joined,
            events.SESSION: self._session,
            events.SEND_MESSAGE: self._send_message,
            events.TYPING: self._typing,
            events.LIST_ROOMS: self._list_rooms,
            events.CREATE_ROOM: self._create_room,
            events.JOIN_ROOM: self._join_room,
            events.LEAVE_ROOM: self._leave_room,
            events.OPEN_DM: self._open_dm,
            events.HISTORY: self._history,
            events.SYNC: self._sync,
            events.LIST_ONLINE: self._list_online,
            events.REFRESH_TOKEN: self._refresh_token,
        }
        sio.on_connect(self._connect)
        sio.on_disconnect(self._disconnect)
        # One connection's events are handled in order. Messages overlap: each one runs up to
        # its store append before the next starts, so they are stored (and numbered, and
        # broadcast) in the order sent, while one commit and one write per client serve
        # many of them. Every other event waits for the messages before it.
        sio.on_event(self._dispatch, overlap={events.SEND_MESSAGE})

    async def _connect(self, sid: str, auth: dict[str, Any] | None) -> None:
        conn = ConnectionId(sid)
        self._floods[conn] = TokenBucket(self._event_rate, self._event_burst)
        token = auth.get("token") if isinstance(auth, dict) else None
        address = address_key(self._sio.peer_address(sid))
        try:
            await self._chat.identity.connect(conn, token, address)
        except ChatError as error:  # the store is away: refused, and the client may retry
            self._floods.pop(conn, None)
            raise ConnectRefused(error.message, {"code": str(error.code)}) from None

    async def _disconnect(self, sid: str, reason: str) -> None:
        conn = ConnectionId(sid)
        self._floods.pop(conn, None)
        await self._chat.identity.disconnect(conn)

    async def _dispatch(self, sid: str, event: str, args: list[Any], ack_wanted: bool) -> object:
        conn = ConnectionId(sid)
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
        code = str(failure["code"])
        self.errors[code] = self.errors.get(code, 0) + 1
        if ack_wanted:
            return {"ok": False, "error": failure}
        self._sio.emit(events.ERROR, failure, to=conn)
        return None

    async def _user_joined(self, conn: ConnectionId, args: list[Any]) -> object:
        payload = _first(args)
        if isinstance(payload, dict):
            username, guest = _fields(payload, "username", "guest")
            view = await self._chat.identity.join(conn, username, guest)
        else:  # the seed's form: the name alone
            view = await self._chat.identity.join(conn, payload)
        return _session_payload(view)

    async def _session(self, conn: ConnectionId, args: list[Any]) -> object:
        return _session_payload(await self._chat.identity.session(conn))

    async def _send_message(self, conn: ConnectionId, args: list[Any]) -> object:
        payload = _first(args)
        if isinstance(payload, dict):
            room, text, client_id = _fields(payload, "room", "text", "clientId")
            message = await self._chat.messages.post(conn, room, text, client_id)
        else:  # the seed's form: the text alone, for the default room
            message = await self._chat.messages.post(conn, None, payload)
        return codec.message_payload(message)

    async def _typing(self, conn: ConnectionId, args: list[Any]) -> object:
        payload = _first(args)
        if isinstance(payload, dict):
            room, flag = _fields(payload, "room", "isTyping")
            await self._chat.typing.report(conn, room, flag)
        else:  # the seed's form: the flag alone, for the default room
            await self._chat.typing.report(conn, None, payload)
        return None

    async def _list_rooms(self, conn: ConnectionId, args: list[Any]) -> object:
        if _first(args) is None:  # as clients asked before pages: the first page
            page = await self._chat.rooms.list_rooms(conn)
        else:
            after, limit = _fields(_object(args), "after", "limit")
            page = await self._chat.rooms.list_rooms(conn, after, limit)
        return {"rooms": [codec.room_payload(s) for s in page.rooms], "next": page.next}

    async def _create_room(self, conn: ConnectionId, args: list[Any]) -> object:
        name, topic = _fields(_object(args), "name", "topic")
        return {"room": codec.room_payload(await self._chat.rooms.create_room(conn, name, topic))}

    async def _join_room(self, conn: ConnectionId, args: list[Any]) -> object:
        (room,) = _fields(_object(args), "room")
        view = await self._chat.rooms.join_room(conn, room)
        return {
            "room": codec.room_payload(view.summary),
            "messages": [codec.message_payload(m) for m in view.messages],
            "hasMore": view.has_more,
            "members": [codec.user_payload(u) for u in view.members],
        }

    async def _leave_room(self, conn: ConnectionId, args: list[Any]) -> object:
        (room,) = _fields(_object(args), "room")
        return {"room": await self._chat.rooms.leave_room(conn, room)}

    async def _open_dm(self, conn: ConnectionId, args: list[Any]) -> object:
        (username,) = _fields(_object(args), "username")
        return {"room": codec.room_payload(await self._chat.rooms.open_dm(conn, username))}

    async def _history(self, conn: ConnectionId, args: list[Any]) -> object:
        room, before, limit = _fields(_object(args), "room", "before", "limit")
        messages, has_more = await self._chat.messages.history(conn, room, before, limit)
        return {"messages": [codec.message_payload(m) for m in messages], "hasMore": has_more}

    async def _sync(self, conn: ConnectionId, args: list[Any]) -> object:
        (rooms,) = _fields(_object(args), "rooms")
        missed = await self._chat.messages.sync(conn, rooms)
        return {
            "rooms": {
                room: {"messages": [codec.message_payload(m) for m in page], "hasMore": more}
                for room, (page, more) in missed.items()
            }
        }

    async def _list_online(self, conn: ConnectionId, args: list[Any]) -> object:
        (room,) = _fields(_object(args), "room")
        users = await self._chat.rooms.online_members(conn, room)
        return {"users": [codec.user_payload(u) for u in users]}

    async def _refresh_token(self, conn: ConnectionId, args: list[Any]) -> object:
        (token,) = _fields(_object(args), "token")
        return {"expiresAt": codec.iso_timestamp(self._chat.identity.refresh(conn, token))}


def _session_payload(view: SessionView) -> dict[str, object]:
    payload: dict[str, object] = {
        "user": codec.user_payload(view.user) if view.user else None,
        "rooms": [codec.room_payload(s) for s in view.rooms],
        "online": [codec.user_payload(u) for u in view.online],
        "onlineCount": view.online_count,
    }
    if view.token is not None:
        payload["token"] = view.token
    return payload


def _first(args: list[Any]) -> object:
    return args[0] if args else None


def _object(args: list[Any]) -> dict[str, Any]:
    payload = _first(args)
    if not isinstance(payload, dict):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "This event takes an object.")
    return payload


def _fields(payload: dict[str, Any], *names: str) -> tuple[object, ...]:
    return tuple(payload.get(name) for name in names)
