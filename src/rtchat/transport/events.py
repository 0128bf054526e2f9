"""Every wire event, in both directions, with its payload and acknowledgement.

`docs/protocol.md` is generated from these definitions (`python -m rtchat docs`), and a
test fails when the file is out of date, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

# Client -> server (the seed's names).
USER_JOINED = "user-joined"
SEND_MESSAGE = "send-message"
TYPING = "typing"

# Server -> client.
USER_CONNECTED = "user-connected"
RECEIVE_MESSAGE = "receive-message"
USER_TYPING = "user-typing"
USER_DISCONNECTED = "user-disconnected"
ONLINE_USERS = "online-users"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    payload: str
    description: str
    ack: str = ""
    errors: tuple[str, ...] = ()


CLIENT_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_JOINED,
        "`username`: string, 1-32 characters after trimming",
        "Join the chat under a name. Everyone receives `user-connected`; "
        "the joiner also receives `online-users`.",
        ack="`{userId, username}`",
        errors=("invalid_username",),
    ),
    EventSpec(
        SEND_MESSAGE,
        "`text`: string, 1-4000 characters after trimming",
        "Post a message. Everyone, the sender included, receives `receive-message`.",
        ack="the stored message, as in `receive-message`",
        errors=("not_joined", "invalid_message", "rate_limited"),
    ),
    EventSpec(
        TYPING,
        "`isTyping`: boolean",
        "Say whether you are typing. Everyone else receives `user-typing`.",
        ack="`null`",
        errors=("not_joined", "invalid_payload"),
    ),
)

SERVER_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_CONNECTED,
        "`{username, userId, timestamp}`",
        "Someone joined. Sent to every connection.",
    ),
    EventSpec(
        RECEIVE_MESSAGE,
        "`{id, room, username, message, userId, timestamp}`",
        "A message was posted. Sent to every connection, the sender's included.",
    ),
    EventSpec(
        USER_TYPING,
        "`{username, isTyping, userId, room}`",
        "Someone started or stopped typing. Sent to everyone but the typist.",
    ),
    EventSpec(
        USER_DISCONNECTED,
        "`{username, userId, timestamp}`",
        "A joined user's connection closed. Sent to every connection.",
    ),
    EventSpec(
        ONLINE_USERS,
        "`{users: [{userId, username}]}`",
        "Who is online, sent to a connection right after its `user-joined` succeeds.",
    ),
    EventSpec(
        ERROR,
        "`{code, message}`",
        "A request without an acknowledgement callback failed. Sent to that connection only.",
    ),
)
