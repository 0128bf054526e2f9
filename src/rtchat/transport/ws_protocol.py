"""The plain-WebSocket protocol `rtchat.v1` at `/ws`: its framing, sign-in and close codes.

The operations themselves are the Socket.IO events (`events.CLIENT_EVENTS`, pushes
`events.SERVER_EVENTS`). `docs/protocol.md` is generated from these definitions too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtchat.engine.plain_ws import PING_TIMEOUT, SLOW_CONSUMER, UNSUPPORTED_DATA
from rtchat.engine.websocket import GOING_AWAY, INVALID_DATA, NORMAL, PROTOCOL_ERROR, TOO_BIG
from rtchat.transport.events import EventSpec

PATH = "/ws"
SUBPROTOCOL = "rtchat.v1"
HELLO = "hello"

HELLO_TIMEOUT = 10.0
"""Seconds a connection has to send its hello."""
MAX_ID_LENGTH = 64
"""Characters of a request id given as a string."""
RATE_LIMIT_STRIKES = 20
"""`rate_limited` answers in a row after which the connection is closed."""

AUTH_FAILED = 4001
RATE_LIMITED = 4029


@dataclass(frozen=True, slots=True)
class CloseCode:
    code: int
    meaning: str


CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(NORMAL, "Normal closure: the client closed (its code is echoed)."),
    CloseCode(
        GOING_AWAY,
        "The server is going away (shutting down): reconnect, elsewhere. Every request "
        "it took in was answered before the close; one without an answer was not taken "
        "in: send it again (with its `clientId`, a message is stored once).",
    ),
    CloseCode(PROTOCOL_ERROR, "A frame broke RFC 6455 (unmasked, reserved bits, bad control)."),
    CloseCode(UNSUPPORTED_DATA, "A binary frame: requests are JSON in text frames."),
    CloseCode(INVALID_DATA, "A text frame that is not UTF-8."),
    CloseCode(TOO_BIG, "A message larger than `RTCHAT_MAX_PAYLOAD_BYTES` (payload too large)."),
    CloseCode(PING_TIMEOUT, "No pong answered the server's ping in time."),
    CloseCode(
        AUTH_FAILED,
        f"Sign-in failed: the first request was not `{HELLO}`, the hello was refused (its "
        f"error answer comes first), no hello came within {HELLO_TIMEOUT:g} seconds, or "
        "the site token it signed in with expired without a `refresh-token` (the close "
        "reason is the error code).",
    ),
    CloseCode(
        SLOW_CONSUMER,
        "Slow consumer: more than `RTCHAT_MAX_BUFFERED_BYTES` unsent, or among the "
        "biggest backlogs when the node's connections (of both transports) together pass "
        "`RTCHAT_OUTPUT_BUDGET_BYTES` "
        "(then aborted: the close frame may not arrive).",
    ),
    CloseCode(
        RATE_LIMITED,
        f"Rate limit: {RATE_LIMIT_STRIKES} requests in a row were answered `rate_limited`.",
    ),
)

HELLO_SPEC = EventSpec(
    HELLO,
    "`{token?, username?, guest?}`: `token` what Socket.IO's `auth: {token}` carries; "
    "`username` and `guest` as for `user-joined`",
    "Sign in: the first request on a connection, and only once. Nothing else is served "
    "before it (another op first closes the connection). A `token` brings back its "
    "account, as on Socket.IO; with a `username`, the hello also joins under it as "
    "`user-joined` does (a join that fails is answered with its error, and the "
    "connection stays signed in without a name: send `user-joined`).",
    ack="as `session` (or, with `username`, `user-joined`), plus `connectionId`: this "
    "connection's id, the `userId` its own events carry",
    errors=("invalid_payload", "unavailable", "invalid_username", "username_taken"),
)

# What each kind of bad frame gets; nothing else happens.
BAD_FRAMES: tuple[tuple[str, str], ...] = (
    ("text that is not JSON", "`{id: null, ok: false, error: {code: 'invalid_payload'}}`"),
    ("JSON that is not an object", "the same, `id: null`"),
    (
        f"no `id`, or one that is not an integer or a string of 1-{MAX_ID_LENGTH}",
        "the same, `id: null`",
    ),
    ("no `op`, or one that is not a string", "`invalid_payload` with the request's `id`"),
    ("an `op` no operation has", "`unknown_event` with the request's `id`"),
    ("a binary frame", f"close {UNSUPPORTED_DATA}"),
    ("a message over `RTCHAT_MAX_PAYLOAD_BYTES`", f"close {TOO_BIG}"),
)
