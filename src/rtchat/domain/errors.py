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
    ErrorCode.UNAVAILABLE: "The database cannot be reached just now; try again.",
    ErrorCode.INTERNAL: "The server failed; the failure was logged.",
}


class ChatError(Exception):
    """A failure the client caused or must know about, with a stable code."""

    def __init__(
        self, code: ErrorCode, message: str | None = None, *, retry_after: int | None = None
    ) -> None:
        self.code = code
        self.message = message or ERROR_CODES[code]
        # Whole seconds until the same request may succeed, when the server knows
        # (a name reserved for its owner): a client can say so rather than guess.
        self.retry_after = retry_after
        super().__init__(f"{code}: {self.message}")

    def to_wire(self) -> dict[str, str | int]:
        wire: dict[str, str | int] = {"code": str(self.code), "message": self.message}
        if self.retry_after is not None:
            wire["retryAfter"] = self.retry_after
        return wire
