"""The one list of error codes a client can receive, and the exception that carries them.

Codes are part of the wire contract: clients switch on them, so they are never
renamed. `docs/protocol.md` is generated from `ERROR_CODES`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_PAYLOAD = "invalid_payload"
    INVALID_USERNAME = "invalid_username"
    USERNAME_TAKEN = "username_taken"
    INVALID_MESSAGE = "invalid_message"
    NOT_JOINED = "not_joined"
    RATE_LIMITED = "rate_limited"
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_EXISTS = "room_exists"
    INVALID_ROOM_NAME = "invalid_room_name"
    FORBIDDEN = "forbidden"
    USER_NOT_FOUND = "user_not_found"
    UNKNOWN_EVENT = "unknown_event"
    UNAUTHORIZED = "unauthorized"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MESSAGE_NOT_FOUND = "message_not_found"
    MESSAGE_DELETED = "message_deleted"
    NOT_AUTHOR = "not_author"
    EDIT_WINDOW_PASSED = "edit_window_passed"
    INVALID_EMOJI = "invalid_emoji"
    NOT_MODERATOR = "not_moderator"
    NOT_OWNER = "not_owner"
    OUTRANKED = "outranked"
    BANNED = "banned"
    MUTED = "muted"
    BLOCKED = "blocked"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


ERROR_CODES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_PAYLOAD: "The event's payload has the wrong shape or type.",
    ErrorCode.INVALID_USERNAME: (
        "The username is empty, too long, not a string, or mixes the letters of scripts."
    ),
    ErrorCode.USERNAME_TAKEN: (
        "An account holds this username (asked for with `guest: false`): its owner is online, "
        "or it is reserved for them after they left, and then `retryAfter` says for how many "
        "more seconds."
    ),
    ErrorCode.INVALID_MESSAGE: "The message is empty, too long or not a string.",
    ErrorCode.NOT_JOINED: "The connection must send `user-joined` first.",
    ErrorCode.RATE_LIMITED: (
        "Too many messages, events, joins from one address or new rooms; the excess was "
        "dropped, slow down."
    ),
    ErrorCode.ROOM_NOT_FOUND: "No room has this name.",
    ErrorCode.ROOM_EXISTS: "A room with this name exists already.",
    ErrorCode.INVALID_ROOM_NAME: "Room names are 1-32 lowercase letters, digits, - or _.",
    ErrorCode.FORBIDDEN: "You are not a member of this room, or may not do this (as a guest).",
    ErrorCode.USER_NOT_FOUND: "No user has this name.",
    ErrorCode.UNKNOWN_EVENT: "The server does not handle this event.",
    ErrorCode.UNAUTHORIZED: (
        "The HTTP API needs `Authorization: Bearer` with one of its API keys or a valid JWT."
    ),
    ErrorCode.INVALID_TOKEN: (
        "The JWT is malformed, signed with another key or algorithm, lacks `sub`, `name` or "
        "`exp`, or names another account than this connection's."
    ),
    ErrorCode.TOKEN_EXPIRED: "The JWT has expired: get a new one from your site.",
    ErrorCode.NOT_FOUND: "The HTTP API has no such route.",
    ErrorCode.METHOD_NOT_ALLOWED: "This HTTP API route does not answer this method.",
    ErrorCode.MESSAGE_NOT_FOUND: "The room has no message with this id.",
    ErrorCode.MESSAGE_DELETED: "The message was deleted: it cannot be edited or reacted to.",
    ErrorCode.NOT_AUTHOR: (
        "Only the message's author may edit it; only its author, the room's owner and "
        "moderators and the site moderators may delete it."
    ),
    ErrorCode.EDIT_WINDOW_PASSED: "The message is too old to edit (see `RTCHAT_EDIT_WINDOW`).",
    ErrorCode.INVALID_EMOJI: "A reaction is one emoji (one character sequence, not text).",
    ErrorCode.NOT_MODERATOR: (
        "Only the room's owner, its moderators and the site moderators may do this; direct "
        "messages have none."
    ),
    ErrorCode.NOT_OWNER: (
        "Only the room's owner (or a site moderator) makes and unmakes moderators."
    ),
    ErrorCode.OUTRANKED: (
        "You cannot act on this user: a moderator cannot act on the owner, another "
        "moderator or a site moderator, nor an owner on a site moderator."
    ),
    ErrorCode.BANNED: (
        "You are banned from this room: `until` says when the ban ends (`null`: when a "
        "moderator lifts it)."
    ),
    ErrorCode.MUTED: (
        "You are muted in this room and cannot send or type there: `until` says when it "
        "ends (`null`: when a moderator lifts it)."
    ),
    ErrorCode.BLOCKED: "This user does not take direct messages from you.",
    ErrorCode.UNAVAILABLE: "The database cannot be reached just now; try again.",
    ErrorCode.INTERNAL: "The server failed; the failure was logged.",
}


class ChatError(Exception):
    """A failure the client caused or must know about, with a stable code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        until: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or ERROR_CODES[code]
        self.until = until
        """For `banned` and `muted`: when it ends (ISO 8601), None for "until lifted"."""
        # Whole seconds until the same request may succeed, when the server knows
        # (a name reserved for its owner): a client can say so rather than guess.
        self.retry_after = retry_after
        super().__init__(f"{code}: {self.message}")

    def to_wire(self) -> dict[str, str | int | None]:
        wire: dict[str, str | int | None] = {"code": str(self.code), "message": self.message}
        if self.code in (ErrorCode.BANNED, ErrorCode.MUTED):
            wire["until"] = self.until
        if self.retry_after is not None:
            wire["retryAfter"] = self.retry_after
        return wire
