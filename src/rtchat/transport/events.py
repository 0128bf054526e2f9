"""Every wire event, in both directions, with its payload and acknowledgement.

`docs/protocol.md` is generated from these definitions (`rtchat protocol`), and a test
fails when the file is out of date, so the two cannot drift. Every limit quoted here is
formatted from the constant that enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtchat.domain.mentions import MAX_MENTIONS
from rtchat.domain.models import QUOTE_LENGTH, REACTION_NAMES
from rtchat.domain.moderation import MAX_RESTRICTION_SECONDS
from rtchat.domain.rules import (
    MAX_CLIENT_ID_LENGTH,
    MAX_EMOJI_LENGTH,
    MAX_MESSAGE_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_SEARCH_QUERY,
    MAX_TOPIC_LENGTH,
    MAX_USERNAME_LENGTH,
)
from rtchat.domain.typing_state import TypingTracker
from rtchat.engine.outbuf import LATER_S
from rtchat.ports import UNREAD_CAP
from rtchat.service import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_ROOMS_PAGE,
    MAX_SEARCH_PAGE,
    MAX_SYNC_ROOMS,
    MEMBERS_LISTED,
    ONLINE_LIST_LIMIT,
    ONLINE_SCAN,
    ROOMS_PAGE,
    SEARCH_PAGE,
    SYNC_BUDGET,
    SYNC_PAGE,
)
from rtchat.service.identity import TOKEN_WARNING
from rtchat.service.limits import Limits

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
REFRESH_TOKEN = "refresh-token"
MARK_READ = "mark-read"
SEARCH = "search"
EDIT_MESSAGE = "edit-message"
DELETE_MESSAGE = "delete-message"
REACT = "react"
SET_ROLE = "set-role"
KICK = "kick"
BAN = "ban"
UNBAN = "unban"
MUTE = "mute"
UNMUTE = "unmute"
BLOCK = "block"
UNBLOCK = "unblock"

# Server -> client.
USER_CONNECTED = "user-connected"
RECEIVE_MESSAGE = "receive-message"
USER_TYPING = "user-typing"
USER_DISCONNECTED = "user-disconnected"
MEMBER_JOINED = "member-joined"
MEMBER_LEFT = "member-left"
ROOM_CREATED = "room-created"
ROOM_ADDED = "room-added"
TOKEN_EXPIRING = "token-expiring"
READ_MARKER = "read-marker"
MESSAGE_EDITED = "message-edited"
MESSAGE_DELETED = "message-deleted"
REACTION_CHANGED = "reaction-changed"
MODERATED = "moderated"
ERROR = "error"

ROOM_INFO = (
    "`RoomInfo` = `{name, kind: 'room'|'dm', topic, memberCount, lastSeq, peer?, unread?, "
    "mentions?, role?}`; `unread` and `mentions` (in `session` and `list-rooms`, on your own "
    "rooms) count the messages after your read marker that others wrote, and those of them "
    f"that mention you, up to {UNREAD_CAP}; `role` ('owner', 'moderator' or 'member') is "
    "yours, in the answers about your own rooms (`session`, `join-room`, `create-room`, "
    "`room-added`), never for a DM"
)
MESSAGE = (
    "`Message` = `{id, room, seq, clientId, username, message, userId, accountId, guest, "
    "timestamp, mentions, replyTo, editedAt, deleted, reactions}`; `userId` the id of the "
    "connection it was sent from; `mentions` `[{accountId, username}]`, the room's members "
    "its text names as `@name` (names compare as usernames do; at most "
    f"{MAX_MENTIONS} names are looked up); `replyTo` `null` or `{{id, seq, username, message, "
    f"deleted}}` (the first {QUOTE_LENGTH} characters of the message it answers, as it "
    "stands now); `editedAt` `null` or when it was last edited; `deleted` true for a "
    "tombstone (`message` is empty); `reactions` `[{emoji, count, usernames}]` in the order "
    f"first given, `usernames` the first {REACTION_NAMES} who gave it"
)
READ_STATE = "`{room, seq, unread, mentions}`"
_CHANGE = "`{room, seq, id, username, accountId, guest, timestamp"
USER = "`User` = `{accountId, username, guest}`"
MODERATION = (
    "`Moderation` = `{room, action: 'role'|'kick'|'ban'|'unban'|'mute'|'unmute', user: User, "
    "by: User, until, role?}`; `until` when a ban or mute ends (ISO 8601), `null` for "
    "until lifted (and for the other actions); `role` for `role`"
)


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
_TARGET = ("invalid_payload", "message_not_found", "rate_limited")
_EDIT_WINDOW = Limits().edit_window
_MODERATE = (
    *_JOINED,
    "invalid_payload",
    "invalid_room_name",
    "room_not_found",
    "invalid_username",
    "user_not_found",
    "not_moderator",
    "outranked",
    "forbidden",
)
_SESSION = (
    "`{user: User | null, token?, rooms: [RoomInfo], online: [User], onlineCount, "
    "blocked: [User], siteModerator}`; `blocked` the accounts whose direct messages you "
    "block, `siteModerator` whether you moderate every room"
)
_PRESENCE = "`{username, userId, accountId, guest, timestamp}`"

CLIENT_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_JOINED,
        f"`username` (the seed's form) or `{{username, guest?}}`: 1-{MAX_USERNAME_LENGTH} "
        "characters after trimming, in one script",
        "Join under a name (the seed's event). A name nobody holds makes a new account, "
        "with a session token to present as `auth: {token}` when connecting again; a name "
        "an account holds makes this connection a guest under it (see Accounts and "
        "guests). `guest: false` asks for the account or `username_taken`, `guest: true` "
        "for a guest whatever the name. Another name than the connection's own is a "
        "rename, which releases the old one. If the user came online, everyone receives "
        "`user-connected`.",
        ack=f"{_SESSION} (no `token` for a guest); `online` lists at most "
        f"{ONLINE_LIST_LIMIT} users, `list-online` gives a room's",
        errors=("invalid_username", "invalid_payload", "username_taken", "rate_limited"),
    ),
    EventSpec(
        SESSION,
        "none",
        "Who this connection is: the user its `auth.token` named or it joined as, or "
        "`null` if none.",
        ack=_SESSION,
    ),
    EventSpec(
        SEND_MESSAGE,
        "`text` (the seed's form: posts to `general`) or `{room, text, clientId, replyTo?}`; "
        f"text 1-{MAX_MESSAGE_LENGTH} characters after trimming, `clientId` an optional "
        f"string of 1-{MAX_CLIENT_ID_LENGTH}, `replyTo` the `id` of a message of the same room "
        "this one answers",
        "Post a message. It is stored, then every member of the room, the sender "
        "included, receives `receive-message`. A retry with the same `clientId` answers "
        "the stored message again and is not broadcast twice.",
        ack="`Message`",
        errors=(
            *_JOINED,
            "invalid_message",
            "invalid_payload",
            "message_not_found",
            "rate_limited",
            *_ROOM,
            "muted",
            "blocked",
        ),
    ),
    EventSpec(
        EDIT_MESSAGE,
        "`{room, id, text, clientId?}`: `id` a message's, text as `send-message`'s",
        "Give your own message a new text, within `RTCHAT_EDIT_WINDOW` seconds of posting "
        f"it ({_EDIT_WINDOW:g} by default; 0: always). It takes the room's next `seq`, and "
        "members receive `message-edited`. The same text again, or a retry with the same "
        "`clientId`, changes nothing and answers the message as it is.",
        ack="`Message` (as it stands now)",
        errors=(
            *_JOINED,
            "invalid_message",
            *_TARGET,
            "message_deleted",
            "not_author",
            "edit_window_passed",
            *_ROOM,
            "muted",
            "blocked",
        ),
    ),
    EventSpec(
        DELETE_MESSAGE,
        "`{room, id, clientId?}`",
        "Delete your own message (or, as the room's owner or a moderator, anyone's): it "
        "becomes a tombstone for everyone (`deleted: true`, no text, no reactions), takes "
        "the room's next `seq`, and members receive `message-deleted`. Deleting it again "
        "changes nothing.",
        ack="`Message` (the tombstone)",
        errors=(*_JOINED, *_TARGET, "not_author", *_ROOM),
    ),
    EventSpec(
        REACT,
        f"`{{room, id, emoji, on?, clientId?}}`: `emoji` one emoji (at most {MAX_EMOJI_LENGTH} "
        "code points: a symbol with its modifiers, a keycap, a flag, or such joined by ZWJ), "
        "`on` true (the default) to give it, false to take it back",
        "React to a message of the room (guests too). A change takes the room's next `seq` "
        "and members receive `reaction-changed`; giving a reaction you gave already, or "
        "taking back one you did not give, changes nothing.",
        ack="`Message` (as it stands now)",
        errors=(*_JOINED, "invalid_emoji", *_TARGET, "message_deleted", *_ROOM, "muted", "blocked"),
    ),
    EventSpec(
        TYPING,
        "`isTyping` (boolean, for `general`) or `{room, isTyping}`",
        "Say whether you are typing. The room's other members receive `user-typing`, "
        f"at most {_once_per(_TYPING.refresh)} per user and room; a `true` not refreshed "
        f"within {_TYPING.ttl:g} seconds is followed by `isTyping: false` from the server.",
        ack="`null`",
        errors=(*_JOINED, "invalid_payload", *_ROOM, "muted", "blocked"),
    ),
    EventSpec(
        LIST_ROOMS,
        f"none, or `{{after?, limit?}}`: `after` a room name, `limit` 1-{MAX_ROOMS_PAGE} "
        f"({ROOMS_PAGE})",
        "A page of the public rooms, by name: those after `after` (from the first without "
        f"it). Without a payload, the first {ROOMS_PAGE}. `next` is the `after` of the "
        "next page, `null` on the last.",
        ack="`{rooms: [RoomInfo], next}`",
        errors=("invalid_payload", "invalid_room_name"),
    ),
    EventSpec(
        CREATE_ROOM,
        f"`{{name, topic?}}`: name 1-{MAX_ROOM_NAME_LENGTH} of a-z 0-9 - _ (lowercased), "
        f"topic up to {MAX_TOPIC_LENGTH}",
        "Create a room and become its first member and its owner (see Moderation). "
        "Everyone receives `room-created`. Accounts only; limited per account and per "
        "address.",
        ack="`{room: RoomInfo}`",
        errors=(
            *_JOINED,
            "invalid_room_name",
            "room_exists",
            "invalid_payload",
            "rate_limited",
            "forbidden",
        ),
    ),
    EventSpec(
        JOIN_ROOM,
        "`{room}`",
        "Become a member (members receive `member-joined`) and get the last "
        f"{HISTORY_PAGE} messages and the first {MEMBERS_LISTED} members by name "
        "(`memberCount` counts them all), and `roles`: the room's owner and moderators, "
        "by `accountId`. A guest may open `general` only (it is everyone's). A user "
        "banned from the room is refused until the ban ends.",
        ack="`{room: RoomInfo, messages: [Message], hasMore, members: [User], roles: "
        "{accountId: 'owner'|'moderator'}}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM, "banned"),
    ),
    EventSpec(
        LEAVE_ROOM,
        "`{room}`",
        "Stop being a member; members receive `member-left`. `general` and direct "
        "messages cannot be left, and guests have nothing to leave.",
        ack="`{room}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        OPEN_DM,
        "`{username}`",
        "Open (or reopen) the direct-message room with the account of that name (never "
        "a guest); only the two of you can read or post in it. The other person's "
        "connections receive `room-added`. Accounts only. Refused with `blocked` when "
        "that person blocks you.",
        ack="`{room: RoomInfo}`",
        errors=(
            *_JOINED,
            "invalid_payload",
            "invalid_username",
            "user_not_found",
            "forbidden",
            "blocked",
        ),
    ),
    EventSpec(
        HISTORY,
        f"`{{room, before, limit?}}`: `before` a sequence number, `limit` 1-{MAX_HISTORY_PAGE} "
        f"({HISTORY_PAGE})",
        "An older page: the messages just before `before`, oldest first, as they stand "
        "now (deleted ones as tombstones).",
        ack="`{messages: [Message], hasMore}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        SYNC,
        f"`{{rooms: {{room: lastSeq}}}}`, up to {MAX_SYNC_ROOMS} rooms",
        "What brings each room from the last sequence number seen in it to how it stands "
        "now: the room's log after it (messages, edits, deletes and reactions), up to "
        f"{SYNC_PAGE} entries per room and {SYNC_BUDGET} in all (a room past that answers "
        "nothing, with `hasMore` if it has more; ask again from `seq` while `hasMore`), as "
        "`messages` in their current state by `seq`: those posted after it, and older ones "
        "changed after it (show them in place of the copy you have; a deleted one is a "
        "tombstone). `seq` is the position they bring you to. Send it after every "
        "reconnect: nothing is lost and, keyed by `id`, nothing is shown twice. Spellings of "
        "one room (`Dev`, `dev`) are one room, read once from the lowest number, and "
        "answered under its name.",
        ack="`{rooms: {room: {messages: [Message], hasMore, seq}}}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        LIST_ONLINE,
        "`{room}`",
        f"Up to {ONLINE_LIST_LIMIT} of the room's members who are online, by name "
        "(several tabs count once): in `general` everyone online, guests too; in another "
        f"room, those among its first {ONLINE_SCAN} members.",
        ack="`{users: [User]}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        REFRESH_TOKEN,
        "`{token}`: a new JWT from the site, for the same `sub`",
        "With site tokens on (see Sign-in with the site's tokens): go on past the expiry of "
        "the token this connection signed in with. Send it when told `token-expiring`.",
        ack="`{expiresAt}`: the new token's expiry (ISO 8601)",
        errors=("invalid_payload", "invalid_token", "token_expired"),
    ),
    EventSpec(
        MARK_READ,
        "`{room, seq}`: `seq` the last sequence number read",
        "Move your read marker in the room to `seq` (at most the room's last; a marker "
        "never moves back). It is your account's, on every device: when it moves, every "
        "connection of yours, on every node, this one too, receives `read-marker`. `unread` and "
        f"`mentions` count, up to {UNREAD_CAP}, the messages after it others wrote and "
        "those of them that mention you. Accounts only.",
        ack=READ_STATE,
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        SEARCH,
        f"`{{query, room?, before?, limit?}}`: `query` 1-{MAX_SEARCH_QUERY} characters with "
        f"at least one word, `before` the `next` of the page before, `limit` "
        f"1-{MAX_SEARCH_PAGE} ({SEARCH_PAGE})",
        "Find the messages containing every word of `query` (whole words, any case; "
        "punctuation only separates words), newest first, in the rooms you are a member "
        "of (direct messages included), or only in `room`. Never a room you cannot read: "
        "one you left is no longer searched. `next` is the `before` of the next page, "
        "`null` on the last. Accounts only.",
        ack="`{messages: [Message], next}`",
        errors=(*_JOINED, "invalid_payload", *_ROOM),
    ),
    EventSpec(
        SET_ROLE,
        "`{room, username, role: 'moderator'|'member'}`",
        "The room's owner (or a site moderator) makes an account a moderator of the room, "
        "or a member again. The room and that account's connections receive `moderated`.",
        ack="`Moderation`",
        errors=(*_MODERATE, "not_owner"),
    ),
    EventSpec(
        KICK,
        "`{room, username}`",
        "A moderator removes a member, who may join again. The room receives `moderated` "
        "and `member-left` with `reason: 'kick'`; the member's connections too, and leave "
        "the room. Not in `general` (everyone is in it: mute instead) nor in DMs. Kicking "
        "someone who is not a member answers the same and announces nothing.",
        ack="`Moderation`",
        errors=_MODERATE,
    ),
    EventSpec(
        BAN,
        f"`{{room, username, seconds?}}`: `seconds` up to {MAX_RESTRICTION_SECONDS} "
        "(without: until `unban`)",
        "A moderator removes a member (or keeps out someone who is not one), who cannot "
        "join again until the ban ends: `join-room` answers `banned` with `until`. "
        "Announced as `kick` is, with `reason: 'ban'`. Not in `general` nor in DMs.",
        ack="`Moderation`",
        errors=_MODERATE,
    ),
    EventSpec(
        UNBAN,
        "`{room, username}`",
        "A moderator lifts a ban; announced with `moderated` when there was one.",
        ack="`Moderation`",
        errors=_MODERATE,
    ),
    EventSpec(
        MUTE,
        f"`{{room, username, seconds?}}`: `seconds` up to {MAX_RESTRICTION_SECONDS} "
        "(without: until `unmute`)",
        "A moderator stops a member sending or typing in the room until `until`: "
        "`send-message` and `typing` there answer `muted` with `until`. In `general` too. "
        "The room and the member's connections receive `moderated`.",
        ack="`Moderation`",
        errors=_MODERATE,
    ),
    EventSpec(
        UNMUTE,
        "`{room, username}`",
        "A moderator lifts a mute; announced with `moderated` when there was one.",
        ack="`Moderation`",
        errors=_MODERATE,
    ),
    EventSpec(
        BLOCK,
        "`{username}`",
        "Take no direct messages from that account: it can no longer open a DM with you "
        "(`open-dm` answers `blocked`) nor post or type in yours (`blocked`). It is not "
        "told. Accounts only.",
        ack="`{blocked: [User]}`: everyone you block, by name",
        errors=(*_JOINED, "invalid_payload", "invalid_username", "user_not_found", "forbidden"),
    ),
    EventSpec(
        UNBLOCK,
        "`{username}`",
        "Take that account's direct messages again.",
        ack="`{blocked: [User]}`: everyone you block, by name",
        errors=(*_JOINED, "invalid_payload", "invalid_username", "user_not_found", "forbidden"),
    ),
)

# Announcements, written later (transport/delivery.py): with the recipient's next write,
# or at most LATER_S after they happened.
LATER_EVENTS = (USER_CONNECTED, USER_DISCONNECTED, MEMBER_JOINED, MEMBER_LEFT)
_LATER = (
    f" It may arrive up to {round(LATER_S * 1000)} ms late (sooner, with the next thing sent "
    "to you), and never after anything sent after it."
)

SERVER_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        USER_CONNECTED,
        _PRESENCE,
        "A user came online (their first connection: `userId`). Sent to every connection." + _LATER,
    ),
    EventSpec(
        RECEIVE_MESSAGE,
        MESSAGE,
        "A message was posted. Sent to the room's members, the sender's connections "
        "included (and, for `general`, to every connection, as the seed does).",
    ),
    EventSpec(
        MESSAGE_EDITED,
        f"{_CHANGE}, message, editedAt}}`",
        "The message `id` has a new text (`message`), changed by its author (`username`). "
        "Sent to the room's members with the room's `seq`, in order with messages.",
    ),
    EventSpec(
        MESSAGE_DELETED,
        f"{_CHANGE}}}`",
        "The message `id` was deleted (by `username`): show it as a tombstone. Sent to the "
        "room's members with the room's `seq`.",
    ),
    EventSpec(
        REACTION_CHANGED,
        f"{_CHANGE}, emoji, on, count}}`",
        "`username` gave (`on: true`) or took back (`on: false`) the reaction `emoji` to the "
        "message `id`; `count` is how many have given that emoji to it now. Sent to the "
        "room's members with the room's `seq`.",
    ),
    EventSpec(
        USER_TYPING,
        "`{username, isTyping, userId, accountId, guest, room}`",
        "Someone started or stopped typing (`userId`: the connection that said so). Sent "
        "to the room but the typist's connections.",
    ),
    EventSpec(
        USER_DISCONNECTED,
        _PRESENCE,
        "A user went offline (their last connection closed: `userId`, `null` if their "
        "node crashed). Sent to every connection." + _LATER,
    ),
    EventSpec(MEMBER_JOINED, "`{room, user: User}`", "Someone joined the room." + _LATER),
    EventSpec(
        MEMBER_LEFT,
        "`{room, user: User, reason?: 'kick'|'ban', by?: User}`",
        "Someone left the room, or a moderator (`by`) removed them (`reason`)." + _LATER,
    ),
    EventSpec(ROOM_CREATED, "`{room: RoomInfo}`", "A public room was created. Sent to all."),
    EventSpec(
        ROOM_ADDED,
        "`{room: RoomInfo}`",
        "You became a member of a room elsewhere: someone opened a direct message with "
        "you, or another of your tabs created, joined or opened one.",
    ),
    EventSpec(
        TOKEN_EXPIRING,
        "`{expiresAt}` (ISO 8601)",
        f"This connection's site token runs out in {TOKEN_WARNING:g} seconds or less: send "
        "`refresh-token` with a new one before `expiresAt`, or the server sends `error` "
        "`{code: 'token_expired'}` and closes the connection then. Sent once per token.",
    ),
    EventSpec(
        READ_MARKER,
        READ_STATE,
        "Your read marker in a room moved (`mark-read` on any of your connections, on any "
        "node). Sent to every connection of your account.",
    ),
    EventSpec(
        MODERATED,
        "`Moderation`",
        "A moderator acted on `user` in `room` (see `set-role`, `kick`, `ban`, `unban`, "
        "`mute`, `unmute`). Sent to the room's members and to every connection of `user`, "
        "once each, so a client learns it was removed, banned or muted, and until when.",
    ),
    EventSpec(
        ERROR,
        "`{code, message}`",
        "A request without an acknowledgement callback failed. Sent to that connection only.",
    ),
)
