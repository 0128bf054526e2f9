"""Every wire event, in both directions, with its payload and acknowledgement.

`docs/protocol.md` is generated from these definitions (`rtchat protocol`), and a test
fails when the file is out of date, so the two cannot drift. Every limit quoted here is
formatted from the constant that enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtchat.domain.rules import (
    MAX_CLIENT_ID_LENGTH,
    MAX_MESSAGE_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_TOPIC_LENGTH,
    MAX_USERNAME_LENGTH,
)
from rtchat.domain.typing_state import TypingTracker
from rtchat.service import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_SYNC_ROOMS,
    ONLINE_LIST_LIMIT,
    SYNC_PAGE,
)

EVENT_RATE_FACTOR = 5
"""A connection's events of every kind are limited to this many times the message rate."""

# Client -> server: the seed's three, then ours.
USER_JOINED = "user-joined"
SEND_MESSAGE = "send-message"
TYPING = "typing"
SESSION = "session"
LIST_ROOMS = "list-rooms"
CREATE_ROOM = "create-room"
JOIN_ROOM = "join-room"
LEAVE_ROOM = "leave-room"
OPEN_DM = "open-dm"
HISTORY = "history"
SYNC = "sync"
LIST_ONLINE = "list-online"

# Server -> client.
USER_CONNECTED = "user-connected"
RECEIVE_MESSAGE = "receive-message"
USER_TYPING = "user-typing"
USER_DISCONNECTED = "user-disconnected"
MEMBER_JOINED = "member-joined"
MEMBER_LEFT = "member-left"
ROOM_CREATED = "room-created"
ROOM_ADDED = "room-added"
ERROR = "error"

ROOM_INFO = "`RoomInfo` = `{name, kind: 'room'|'dm', topic, memberCount, lastSeq, peer?}`"
MESSAGE = "`Message` = `{id, room, seq, clientId, username, message, userId, timestamp}`"
USER = "`User` = `{userId, username}`"


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    payload: str
    description: str
    ack: str = ""
    errors: tuple[str, ...] = ()


_TYPING = TypingTracker()  # the service's timings are the tracker's defaults


def _once_per(seconds: float) -> str:
    return "once a second" if seconds == 1 else f"once every {seconds:g} seconds"


_JOINED = ("not_joined",)
_ROOM = ("invalid_room_name", "room_not_found", "forbidden")

CLIENT_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_JOINED,
        f"`username`: string, 1-{MAX_USERNAME_LENGTH} characters after trimming",
        "Join under a name (the seed's event). A new user is made, with a session token "
        "to present as `auth: {token}` when connecting again. If the user came online, "
        "everyone receives `user-connected`. "
        "A name is held while its owner has a connection open and for `RTCHAT_NAME_GRACE` "
        "seconds after the last one closes (or after a server start); then the next "
        "person to join with it gets it, and the old token stops working.",
        ack="`{user: User, token, rooms: [RoomInfo], online: [User], onlineCount}`; "
        f"`online` lists at most {ONLINE_LIST_LIMIT} users, `list-online` gives a room's",
        errors=("invalid_username", "username_taken"),
    ),
    EventSpec(
        SESSION,
        "none",
        "Who this connection is: the user its `auth.token` named, or `null` if none.",
        ack="`{user: User | null, rooms: [RoomInfo], online: [User], onlineCount}`",
    ),
    EventSpec(
        SEND_MESSAGE,
        "`text` (the seed's form: posts to `general`) or `{room, text, clientId}`; text "
        f"1-{MAX_MESSAGE_LENGTH} characters after trimming, `clientId` an optional string "
        f"of 1-{MAX_CLIENT_ID_LENGTH}",
        "Post a message. It is stored, then every member of the room, the sender "
        "included, receives `receive-message`. A retry with the same `clientId` answers "
        "the stored message again and is not broadcast twice.",
        ack="`Message`",
        errors=(*_JOINED, "invalid_message", "invalid_payload", "rate_limited", *_ROOM),
    ),
    EventSpec(
        TYPING,
        "`isTyping` (boolean, for `general`) or `{room, isTyping}`",
        "Say whether you are typing. The room's other members receive `user-typing`, "
        f"at most {_once_per(_TYPING.refresh)} per user and room; a `true` not refreshed "
        f"within {_TYPING.ttl:g} seconds is followed by `isTyping: false` from the server.",
        ack="`null`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(LIST_ROOMS, "none", "The public rooms.", ack="`{rooms: [RoomInfo]}`"),
    EventSpec(
        CREATE_ROOM,
        f"`{{name, topic?}}`: name 1-{MAX_ROOM_NAME_LENGTH} of a-z 0-9 - _ (lowercased), "
        f"topic up to {MAX_TOPIC_LENGTH}",
        "Create a room and become its first member. Everyone receives `room-created`.",
        ack="`{room: RoomInfo}`",
        errors=(*_JOINED, "invalid_room_name", "room_exists", "invalid_payload"),
    ),
    EventSpec(
        JOIN_ROOM,
        "`{room}`",
        "Become a member (members receive `member-joined`) and get the last "
        f"{HISTORY_PAGE} messages.",
        ack="`{room: RoomInfo, messages: [Message], hasMore, members: [User]}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        LEAVE_ROOM,
        "`{room}`",
        "Stop being a member; members receive `member-left`. `general` and direct "
        "messages cannot be left.",
        ack="`{room}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        OPEN_DM,
        "`{username}`",
        "Open (or reopen) the direct-message room with someone; only the two of you can "
        "read or post in it. The other person's connections receive `room-added`.",
        ack="`{room: RoomInfo}`",
        errors=(*_JOINED, "invalid_payload", "invalid_username", "user_not_found", "forbidden"),
    ),
    EventSpec(
        HISTORY,
        f"`{{room, before, limit?}}`: `before` a sequence number, `limit` 1-{MAX_HISTORY_PAGE} "
        f"({HISTORY_PAGE})",
        "An older page: the messages just before `before`, oldest first.",
        ack="`{messages: [Message], hasMore}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        SYNC,
        f"`{{rooms: {{room: lastSeq}}}}`, up to {MAX_SYNC_ROOMS} rooms",
        "What came after the last sequence number seen in each room, in order, up to "
        f"{SYNC_PAGE} per room (ask again from the new last one while `hasMore`). Send it "
        "after every reconnect: nothing is lost and, keyed by `seq`, nothing is shown twice.",
        ack="`{rooms: {room: {messages: [Message], hasMore}}}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        LIST_ONLINE,
        "`{room}`",
        "The room's members who are online (several tabs count once).",
        ack="`{users: [User]}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
)

SERVER_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_CONNECTED,
        "`{username, userId, timestamp}`",
        "A user came online (their first connection). Sent to every connection.",
    ),
    EventSpec(
        RECEIVE_MESSAGE,
        MESSAGE,
        "A message was posted. Sent to the room's members, the sender's connections "
        "included (and, for `general`, to every connection, as the seed does).",
    ),
    EventSpec(
        USER_TYPING,
        "`{username, isTyping, userId, room}`",
        "Someone started or stopped typing. Sent to the room but the typist's connections.",
    ),
    EventSpec(
        USER_DISCONNECTED,
        "`{username, userId, timestamp}`",
        "A user went offline (their last connection closed). Sent to every connection.",
    ),
    EventSpec(MEMBER_JOINED, "`{room, user: User}`", "Someone joined the room."),
    EventSpec(MEMBER_LEFT, "`{room, user: User}`", "Someone left the room."),
    EventSpec(ROOM_CREATED, "`{room: RoomInfo}`", "A public room was created. Sent to all."),
    EventSpec(
        ROOM_ADDED,
        "`{room: RoomInfo}`",
        "You became a member of a room elsewhere: someone opened a direct message with "
        "you, or another of your tabs created, joined or opened one.",
    ),
    EventSpec(
        ERROR,
        "`{code, message}`",
        "A request without an acknowledgement callback failed. Sent to that connection only.",
    ),
)
