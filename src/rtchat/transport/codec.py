"""Turns domain objects and events into wire payloads.

The seed's payload fields (username, message, userId, timestamp, isTyping) are the
contract; fields are added, never renamed or removed. `userId` means what it means in the
seed: the Socket.IO id of the connection that did it (`socket.id` on that client). The
account (or guest) behind it is `accountId`, with `guest` saying which.
"""

from __future__ import annotations

from datetime import datetime

from rtchat.domain.events import (
    MemberJoined,
    MemberLeft,
    MessageChanged,
    MessagePosted,
    Moderated,
    ReadMarkerMoved,
    RoomAdded,
    RoomCreated,
    ServerEvent,
    TokenExpiring,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import Change, ChangeKind, Message, Quote, ReadState, RoomSummary, User
from rtchat.domain.timestamps import iso_timestamp
from rtchat.transport import events

Payload = dict[str, object]


def user_payload(user: User) -> Payload:
    return {"accountId": user.id, "username": user.username, "guest": user.guest}


def message_payload(message: Message) -> Payload:
    author = message.author
    return {
        "id": message.id,
        "room": message.room,
        "seq": message.seq,
        "clientId": message.client_id,
        "username": author.username,
        "message": message.text,
        "userId": message.sent_from,
        "accountId": author.id,
        "guest": author.guest,
        "timestamp": iso_timestamp(message.timestamp),
        "mentions": [{"accountId": u.id, "username": u.username} for u in message.mentions],
        "replyTo": None if message.reply_to is None else _quote(message.reply_to),
        "editedAt": None if message.edited_at is None else iso_timestamp(message.edited_at),
        "deleted": message.deleted,
        "reactions": [
            {"emoji": r.emoji, "count": r.count, "usernames": list(r.usernames)}
            for r in message.reactions
        ],
    }


def read_state_payload(state: ReadState) -> Payload:
    return {
        "room": state.room,
        "seq": state.seq,
        "unread": state.unread,
        "mentions": state.mentions,
    }


def _quote(quote: Quote) -> Payload:
    return {
        "id": quote.id,
        "seq": quote.seq,
        "username": quote.author.username,
        "message": quote.text,
        "deleted": quote.deleted,
    }


def change_payload(change: Change) -> tuple[str, Payload]:
    """The event of a change of a message: what a client applies to the message `id` it
    shows; applying one twice, or to a message that has it already, changes nothing."""
    actor = change.actor
    payload: Payload = {
        "room": change.room,
        "seq": change.seq,
        "id": change.target,
        "username": actor.username,
        "accountId": actor.id,
        "guest": actor.guest,
        "timestamp": iso_timestamp(change.timestamp),
    }
    match change.kind:
        case ChangeKind.EDIT:
            payload["message"] = change.value
            payload["editedAt"] = iso_timestamp(change.timestamp)
            return events.MESSAGE_EDITED, payload
        case ChangeKind.DELETE:
            return events.MESSAGE_DELETED, payload
        case ChangeKind.REACT | ChangeKind.UNREACT:
            payload["emoji"] = change.value
            payload["on"] = change.kind is ChangeKind.REACT
            payload["count"] = change.count
            return events.REACTION_CHANGED, payload


def _presence(user: User, connection: str | None, moment: datetime) -> Payload:
    return {
        "username": user.username,
        "userId": connection,
        "accountId": user.id,
        "guest": user.guest,
        "timestamp": iso_timestamp(moment),
    }


def room_payload(summary: RoomSummary) -> Payload:
    payload: Payload = {
        "name": summary.room.name,
        "kind": str(summary.room.kind),
        "topic": summary.room.topic,
        "memberCount": summary.member_count,
        "lastSeq": summary.last_seq,
    }
    if summary.peer is not None:
        payload["peer"] = user_payload(summary.peer)
    if summary.unread is not None:
        payload["unread"] = summary.unread
    if summary.mentions is not None:
        payload["mentions"] = summary.mentions
    if summary.role is not None:
        payload["role"] = str(summary.role)
    return payload


def moderation_payload(event: Moderated) -> Payload:
    payload: Payload = {
        "room": event.room,
        "action": str(event.action),
        "user": user_payload(event.user),
        "by": user_payload(event.by),
        "until": None if event.until is None else iso_timestamp(event.until),
    }
    if event.role is not None:
        payload["role"] = str(event.role)
    return payload


def _member_left(event: MemberLeft) -> Payload:
    payload: Payload = {"room": event.room, "user": user_payload(event.user)}
    if event.reason is not None:
        payload["reason"] = str(event.reason)
    if event.by is not None:
        payload["by"] = user_payload(event.by)
    return payload


def encode(event: ServerEvent) -> tuple[str, Payload]:
    match event:
        case MessagePosted(message):
            return events.RECEIVE_MESSAGE, message_payload(message)
        case MessageChanged(change):
            return change_payload(change)
        case UserTyping(user, room, is_typing, connection):
            return events.USER_TYPING, {
                "username": user.username,
                "isTyping": is_typing,
                "userId": connection,
                "accountId": user.id,
                "guest": user.guest,
                "room": room,
            }
        case UserConnected(user, timestamp, connection):
            return events.USER_CONNECTED, _presence(user, connection, timestamp)
        case UserDisconnected(user, timestamp, connection):
            return events.USER_DISCONNECTED, _presence(user, connection, timestamp)
        case MemberJoined(room, user):
            return events.MEMBER_JOINED, {"room": room, "user": user_payload(user)}
        case MemberLeft():
            return events.MEMBER_LEFT, _member_left(event)
        case Moderated():
            return events.MODERATED, moderation_payload(event)
        case RoomCreated(summary):
            return events.ROOM_CREATED, {"room": room_payload(summary)}
        case RoomAdded(summary):
            return events.ROOM_ADDED, {"room": room_payload(summary)}
        case TokenExpiring(expires):
            return events.TOKEN_EXPIRING, {"expiresAt": iso_timestamp(expires)}
        case ReadMarkerMoved(state):
            return events.READ_MARKER, read_state_payload(state)
