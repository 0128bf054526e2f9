"""The chat's operations, as both transports serve them: parse the payload, call the
service once, answer `{ok: true, data}` or `{ok: false, error}`.

Socket.IO events (`socketio_server.py`) and plain-WebSocket requests (`ws_server.py`) are
the same operations, by the same names (`events.CLIENT_EVENTS`), with the same payloads,
answers and error codes, because both call `Operations.answer`. A `ChatError` becomes its
error answer; anything else is logged with its traceback and answered `internal`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ConnectionId
from rtchat.domain.ratelimit import TokenBucket
from rtchat.ports import Clock
from rtchat.service import Chat, SessionView
from rtchat.transport import codec, events

log = logging.getLogger(__name__)

Handler = Callable[[ConnectionId, list[Any]], Awaitable[object]]
Answer = dict[str, object]


class Operations:
    """Every client operation, and sign-in and sign-out, for connections of any transport."""

    def __init__(self, chat: Chat, clock: Clock, *, event_rate: float, event_burst: float) -> None:
        self._chat = chat
        self._clock = clock
        self._event_rate = event_rate
        self._event_burst = event_burst
        self._floods: dict[ConnectionId, TokenBucket] = {}
        self.errors: dict[str, int] = {}  # error answers by code, both transports: /metrics
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

    async def connect(self, conn: ConnectionId, auth: object, address: str | None) -> None:
        """A connection signs in with what its client presented (Socket.IO's `auth`, a
        `/ws` hello's data): the one sign-in both transports call, so a new kind of
        credential (a JWT) is read here for both. Raises `ChatError` to refuse it."""
        self._floods[conn] = TokenBucket(self._event_rate, self._event_burst)
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            await self._chat.identity.connect(conn, token, address)
        except ChatError:  # the store is away: refused, and the client may retry
            self._floods.pop(conn, None)
            raise

    async def disconnect(self, conn: ConnectionId) -> None:
        self._floods.pop(conn, None)
        await self._chat.identity.disconnect(conn)

    async def answer(self, conn: ConnectionId, event: str, args: list[Any]) -> Answer:
        """Run one operation; its answer, a success or a failure."""
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
        return {"ok": False, "error": failure}

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
