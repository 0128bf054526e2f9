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
from rtchat.domain.events import Moderated
from rtchat.domain.models import ConnectionId, User
from rtchat.domain.ratelimit import TokenBucket
from rtchat.domain.timestamps import iso_timestamp
from rtchat.ports import Clock
from rtchat.service import Chat, SessionView
from rtchat.transport import codec, events

log = logging.getLogger(__name__)

Handler = Callable[[ConnectionId, list[Any]], Awaitable[object]]
ModerationCall = Callable[..., Awaitable[Moderated]]
BlockCall = Callable[[ConnectionId, object], Awaitable[list[User]]]
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
            events.MARK_READ: self._mark_read,
            events.SEARCH: self._search,
            events.EDIT_MESSAGE: self._edit_message,
            events.DELETE_MESSAGE: self._delete_message,
            events.REACT: self._react,
        }
        moderation = chat.moderation
        target = ("room", "username")
        self._handlers |= {
            events.SET_ROLE: self._moderation(moderation.set_role, *target, "role"),
            events.KICK: self._moderation(moderation.kick, *target),
            events.BAN: self._moderation(moderation.ban, *target, "seconds"),
            events.UNBAN: self._moderation(moderation.unban, *target),
            events.MUTE: self._moderation(moderation.mute, *target, "seconds"),
            events.UNMUTE: self._moderation(moderation.unmute, *target),
            events.BLOCK: self._blocks(moderation.block),
            events.UNBLOCK: self._blocks(moderation.unblock),
        }

    async def connect(self, conn: ConnectionId, auth: object, address: str | None) -> None:
        """A connection signs in with what its client presented (Socket.IO's `auth`, a
        `/ws` hello's data): the one sign-in both transports call, so a new kind of
        credential (a JWT) is read here for both. Raises `ChatError` to refuse it."""
        token = auth.get("token") if isinstance(auth, dict) else None
        await self._chat.identity.connect(conn, token, address)

    async def disconnect(self, conn: ConnectionId) -> None:
        self._floods.pop(conn, None)
        await self._chat.identity.disconnect(conn)

    async def answer(self, conn: ConnectionId, event: str, args: list[Any]) -> Answer:
        """Run one operation; its answer, a success or a failure."""
        try:
            if self._event_rate > 0:
                # Made at a connection's first event, not at its sign-in: most connections
                # sit idle, and each bucket costs one of them about 100 bytes. No event
                # comes after `disconnect` (both run in the connection's inbox, in order),
                # so none makes one that outlives its connection.
                flood = self._floods.get(conn)
                if flood is None:
                    flood = self._floods[conn] = TokenBucket(self._event_rate, self._event_burst)
                if not flood.take(self._clock.monotonic()):
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
            room, text, client_id, reply_to = _fields(
                payload, "room", "text", "clientId", "replyTo"
            )
            message = await self._chat.messages.post(conn, room, text, client_id, reply_to)
        else:  # the seed's form: the text alone, for the default room
            message = await self._chat.messages.post(conn, None, payload)
        return codec.message_payload(message)

    async def _edit_message(self, conn: ConnectionId, args: list[Any]) -> object:
        room, message_id, text, client_id = _fields(_object(args), "room", "id", "text", "clientId")
        edited = await self._chat.changes.edit(conn, room, message_id, text, client_id)
        return codec.message_payload(edited)

    async def _delete_message(self, conn: ConnectionId, args: list[Any]) -> object:
        room, message_id, client_id = _fields(_object(args), "room", "id", "clientId")
        deleted = await self._chat.changes.delete(conn, room, message_id, client_id)
        return codec.message_payload(deleted)

    async def _react(self, conn: ConnectionId, args: list[Any]) -> object:
        room, message_id, emoji, on, client_id = _fields(
            _object(args), "room", "id", "emoji", "on", "clientId"
        )
        message = await self._chat.changes.react(conn, room, message_id, emoji, on, client_id)
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
            "roles": {account: str(role) for account, role in view.roles.items()},
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
                room: {
                    "messages": [codec.message_payload(m) for m in page.messages],
                    "hasMore": page.has_more,
                    "seq": page.seq,
                }
                for room, page in missed.items()
            }
        }

    async def _list_online(self, conn: ConnectionId, args: list[Any]) -> object:
        (room,) = _fields(_object(args), "room")
        users = await self._chat.rooms.online_members(conn, room)
        return {"users": [codec.user_payload(u) for u in users]}

    async def _refresh_token(self, conn: ConnectionId, args: list[Any]) -> object:
        (token,) = _fields(_object(args), "token")
        return {"expiresAt": iso_timestamp(self._chat.identity.refresh(conn, token))}

    def _moderation(self, action: ModerationCall, *names: str) -> Handler:
        """The handler of a moderation op: its fields, in order, after the connection."""

        async def handler(conn: ConnectionId, args: list[Any]) -> object:
            event = await action(conn, *_fields(_object(args), *names))
            return codec.moderation_payload(event)

        return handler

    def _blocks(self, action: BlockCall) -> Handler:
        async def handler(conn: ConnectionId, args: list[Any]) -> object:
            (username,) = _fields(_object(args), "username")
            return {"blocked": [codec.user_payload(u) for u in await action(conn, username)]}

        return handler

    async def _mark_read(self, conn: ConnectionId, args: list[Any]) -> object:
        room, seq = _fields(_object(args), "room", "seq")
        return codec.read_state_payload(await self._chat.reads.mark_read(conn, room, seq))

    async def _search(self, conn: ConnectionId, args: list[Any]) -> object:
        query, room, before, limit = _fields(_object(args), "query", "room", "before", "limit")
        found, after = await self._chat.reads.search(conn, query, room, before, limit)
        return {"messages": [codec.message_payload(m) for m in found], "next": after}


def _session_payload(view: SessionView) -> dict[str, object]:
    payload: dict[str, object] = {
        "user": codec.user_payload(view.user) if view.user else None,
        "rooms": [codec.room_payload(s) for s in view.rooms],
        "online": [codec.user_payload(u) for u in view.online],
        "onlineCount": view.online_count,
        "blocked": [codec.user_payload(u) for u in view.blocked],
        "siteModerator": view.site_moderator,
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
