"""The in-memory backend: the reference every other backend is tested against, and the fake.

Each method runs to completion without awaiting anything, so on one event loop it is
atomic: two concurrent appends can never take the same sequence number.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rtchat.domain.changes import changes_anything
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import (
    Change,
    ChangeDraft,
    ChangeKind,
    LogEntry,
    Message,
    MessageDraft,
    ReadState,
    Room,
    RoomKind,
    RoomSummary,
    User,
    quote_of,
)
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.domain.names import name_key
from rtchat.ports import (
    UNREAD_CAP,
    MessageSearch,
    MessageStore,
    ModerationStore,
    ReadMarkers,
    RoomStore,
    SearchCursor,
    SearchQuery,
    UserStore,
)
from rtchat.storage._common import as_utc, fold_reactions, to_micros, to_seconds, window


@dataclass
class _UserRecord:
    user: User
    token_hash: str
    last_seen: int  # seconds since the epoch, as the other backends keep it


@dataclass
class _State:
    """What the three stores share: rooms count members and read the messages' last seq."""

    users: dict[str, _UserRecord] = field(default_factory=dict)
    user_by_key: dict[str, str] = field(default_factory=dict)
    user_by_token: dict[str, str] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    log: dict[str, list[LogEntry]] = field(default_factory=dict)
    """Each room's entries; an entry's sequence number is its position plus one. A message
    entry is the message as stored: its current state is in `by_id`."""
    messages: dict[str, list[Message]] = field(default_factory=dict)  # each room's, as stored
    by_id: dict[str, Message] = field(default_factory=dict)  # reply and reactions left out
    replies: dict[str, str] = field(default_factory=dict)  # message id -> the id it answers
    reactions: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    """Message id -> (emoji, user id) -> username, in the order given."""
    by_client_id: dict[tuple[str, str], Message] = field(default_factory=dict)
    markers: dict[tuple[str, str], int] = field(default_factory=dict)  # (user id, room) -> seq
    changes_by_client_id: set[tuple[str, str]] = field(default_factory=set)
    edits: dict[str, list[int]] = field(default_factory=dict)  # message id -> log positions
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (room, user id)
    restrictions: dict[tuple[str, str, Restriction], Until] = field(default_factory=dict)
    blocks: set[tuple[str, str]] = field(default_factory=set)  # (blocker, blocked)

    def named_user(self, user_id: str) -> User | None:
        record = self.users.get(user_id)
        return None if record is None else record.user

    def summary(self, room: Room) -> RoomSummary:
        count = len(self.members[room.name])
        return RoomSummary(room=room, member_count=count, last_seq=len(self.log[room.name]))


class MemoryMessageStore:
    """Each room's log in a list; a message's current state by its id."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        state = self._state
        timestamp = as_utc(draft.timestamp)  # first, as in SQLite: a naive one always fails
        if draft.client_id is not None:
            stored = state.by_client_id.get((draft.author.id, draft.client_id))
            if stored is not None:
                return self._current(stored.id), False
        log = state.log.get(draft.room)
        if log is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND)
        if draft.id in state.by_id:
            raise ChatError(ErrorCode.INTERNAL, f"Message id {draft.id!r} is stored already.")
        if draft.reply_to is not None and self._target(draft.room, draft.reply_to) is None:
            raise ChatError(ErrorCode.MESSAGE_NOT_FOUND, "The message replied to is not here.")
        message = Message(
            id=draft.id,
            room=draft.room,
            seq=len(log) + 1,
            author=draft.author,
            text=draft.text,
            timestamp=timestamp,
            client_id=draft.client_id,
            sent_from=draft.sent_from,
            mentions=self._mentioned(draft),
        )
        log.append(message)
        state.messages[draft.room].append(message)
        state.by_id[message.id] = message
        if draft.reply_to is not None:
            state.replies[message.id] = draft.reply_to
        if message.client_id is not None:
            state.by_client_id[(message.author.id, message.client_id)] = message
        return self._current(message.id), True

    async def get(self, room: str, message_id: str) -> Message | None:
        return None if self._target(room, message_id) is None else self._current(message_id)

    async def change(self, draft: ChangeDraft) -> tuple[Message, Change | None]:
        state = self._state
        timestamp = as_utc(draft.timestamp)
        if self._target(draft.room, draft.target) is None:
            raise ChatError(ErrorCode.MESSAGE_NOT_FOUND)
        key = None if draft.client_id is None else (draft.actor.id, draft.client_id)
        reactions = state.reactions.setdefault(draft.target, {})
        given = (draft.value, draft.actor.id)
        if key in state.changes_by_client_id or not changes_anything(
            draft, self._current(draft.target), given in reactions
        ):
            return self._current(draft.target), None
        log = state.log[draft.room]
        message = state.by_id[draft.target]
        match draft.kind:
            case ChangeKind.EDIT:
                message = dataclasses.replace(message, text=draft.value, edited_at=timestamp)
            case ChangeKind.DELETE:
                message = dataclasses.replace(message, text="", deleted=True)
                reactions.clear()
                for index in state.edits.pop(draft.target, []):
                    edit = log[index]
                    assert isinstance(edit, Change)
                    log[index] = dataclasses.replace(edit, value="")  # the words are gone
            case ChangeKind.REACT:
                reactions[given] = draft.actor.username
            case ChangeKind.UNREACT:
                del reactions[given]
        state.by_id[draft.target] = message
        count = sum(1 for emoji, _ in reactions if emoji == draft.value)
        entry = Change(
            room=draft.room,
            seq=len(log) + 1,
            target=draft.target,
            actor=draft.actor,
            kind=draft.kind,
            timestamp=timestamp,
            value="" if draft.kind is ChangeKind.DELETE else draft.value,
            client_id=draft.client_id,
            count=count if draft.kind in (ChangeKind.REACT, ChangeKind.UNREACT) else 0,
        )
        log.append(entry)
        if draft.kind is ChangeKind.EDIT:
            state.edits.setdefault(draft.target, []).append(entry.seq - 1)
        if key is not None:
            state.changes_by_client_id.add(key)
        return self._current(draft.target), entry

    async def latest(self, room: str, limit: int) -> list[Message]:
        return self._messages(room, len(self._state.messages.get(room, ())), limit)

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        stored = self._state.messages.get(room, [])
        return self._messages(room, bisect.bisect_left(stored, seq, key=_seq), limit)

    async def after(self, room: str, seq: int, limit: int) -> list[LogEntry]:
        log = self._state.log.get(room, [])
        start = max(seq, 0)
        return [
            self._current(entry.id) if isinstance(entry, Message) else entry
            for entry in log[start : start + window(limit)]
        ]

    async def last_seq(self, room: str) -> int:
        return len(self._state.log.get(room, []))

    def _messages(self, room: str, end: int, limit: int) -> list[Message]:
        """The last `limit` of the room's first `end` messages."""
        stored = self._state.messages.get(room, [])
        return [self._current(m.id) for m in stored[max(end - window(limit), 0) : end]]

    def _target(self, room: str, message_id: str) -> Message | None:
        message = self._state.by_id.get(message_id)
        return message if message is not None and message.room == room else None

    def _mentioned(self, draft: MessageDraft) -> tuple[User, ...]:
        state = self._state
        members = state.members.get(draft.room, set())
        found: list[User] = []
        for key in draft.mention_keys:
            user_id = state.user_by_key.get(key)
            user = None if user_id is None or user_id not in members else state.named_user(user_id)
            if user is not None:
                found.append(user)
        return tuple(sorted(found, key=lambda u: name_key(u.username)))

    def _current(self, message_id: str) -> Message:
        return current_message(self._state, message_id)


def current_message(state: _State, message_id: str) -> Message:
    """A stored message as it stands now, with its reply's quote and its reactions."""
    message = state.by_id[message_id]
    reply = state.replies.get(message_id)
    given = state.reactions.get(message_id, {})
    if reply is None and not given:
        return message
    return dataclasses.replace(
        message,
        reply_to=None if reply is None else quote_of(state.by_id[reply]),
        reactions=fold_reactions((emoji, name) for (emoji, _), name in given.items()),
    )


def _seq(message: Message) -> int:
    return message.seq


def counted(message: Message, user_id: str) -> bool:
    """Whether `message` (as it stands now) counts as unread for `user_id`: the one place
    the memory store decides it."""
    return message.author.id != user_id and not message.deleted


class MemoryReadMarkers:
    """Markers in a dict; counts walk the messages after the marker, up to the cap."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def mark(self, user_id: str, room: str, seq: int) -> tuple[ReadState, bool]:
        state = self._state
        log = state.log.get(room)
        if log is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND)
        key = (user_id, room)
        old = state.markers.get(key, 0)
        state.markers[key] = max(old, min(seq, len(log)))  # the room's last seq, of any kind
        return self._state_of(user_id, room), state.markers[key] != old

    async def states(self, user_id: str, rooms: Sequence[str]) -> dict[str, ReadState]:
        logs = self._state.messages
        return {room: self._state_of(user_id, room) for room in rooms if room in logs}

    def _state_of(self, user_id: str, room: str) -> ReadState:
        state = self._state
        marker = state.markers.get((user_id, room), 0)
        stored = state.messages[room]  # in seq order, with gaps where changes are
        unread = mentions = 0
        for message in stored[bisect.bisect_right(stored, marker, key=_seq) :]:
            if counted(state.by_id[message.id], user_id):
                unread += 1
                mentions += any(u.id == user_id for u in message.mentions)
        return ReadState(room, marker, min(unread, UNREAD_CAP), min(mentions, UNREAD_CAP))


_WORD = re.compile(r"\w+")


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


class MemoryMessageSearch:
    """Every message of the user's rooms, matched word by word, casefolded."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def search(self, query: SearchQuery) -> list[Message]:
        state = self._state
        wanted = {w.casefold() for w in query.words}
        before = query.before
        found: list[tuple[SearchCursor, Message]] = []
        for name, stored_messages in state.messages.items():
            readable = query.user_id is None or query.user_id in state.members.get(name, ())
            if not readable or query.room not in (None, name):
                continue
            for stored in stored_messages:
                message = current_message(state, stored.id)  # edited, or deleted
                place = (to_micros(message.timestamp), message.room, message.seq)
                if (before is None or place < before) and wanted <= words_of(message.text):
                    found.append((place, message))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return [message for _, message in found[: window(query.limit)]]


class MemoryUserStore:
    """Accounts by id, with indexes by name key and by token hash."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def create(self, user: User, token_hash: str, *, seen: datetime | None = None) -> None:
        state = self._state
        key = name_key(user.username)
        when = to_seconds(seen or datetime.now(UTC))
        if key in state.user_by_key:
            raise ChatError(ErrorCode.USERNAME_TAKEN)
        if user.id in state.users:
            raise ChatError(ErrorCode.INTERNAL, f"User id {user.id!r} is stored already.")
        if token_hash in state.user_by_token:
            raise ChatError(ErrorCode.INTERNAL, "This token hash belongs to another user.")
        state.users[user.id] = _UserRecord(User(user.id, user.username), token_hash, when)
        state.user_by_key[key] = user.id
        state.user_by_token[token_hash] = user.id

    async def by_token(self, token_hash: str) -> User | None:
        user_id = self._state.user_by_token.get(token_hash)
        return None if user_id is None else self._state.named_user(user_id)

    async def by_name(self, username: str) -> User | None:
        user_id = self._state.user_by_key.get(name_key(username))
        return None if user_id is None else self._state.named_user(user_id)

    async def by_id(self, user_id: str) -> User | None:
        return self._state.named_user(user_id)

    async def seen(self, user_id: str, when: datetime) -> None:
        record = self._state.users.get(user_id)
        if record is not None:
            record.last_seen = to_seconds(when)

    async def dormant(self, before: datetime, limit: int) -> list[User]:
        cutoff = to_seconds(before)
        old = [r for r in self._state.users.values() if r.last_seen < cutoff]
        old.sort(key=lambda r: (r.last_seen, r.user.id))
        return [r.user for r in old[: window(limit)]]

    async def rename(self, user_id: str, username: str) -> None:
        state = self._state
        record = state.users.get(user_id)
        key = name_key(username)
        if state.user_by_key.get(key, user_id) != user_id:
            raise ChatError(ErrorCode.USERNAME_TAKEN)
        if record is None:
            return
        del state.user_by_key[name_key(record.user.username)]
        state.user_by_key[key] = user_id
        record.user = User(user_id, username)

    async def release(self, user_id: str, *, unseen_since: datetime | None = None) -> bool:
        state = self._state
        record = state.users.get(user_id)
        if record is None:
            return False
        if unseen_since is not None and record.last_seen >= to_seconds(unseen_since):
            return False
        del state.users[user_id]
        del state.user_by_key[name_key(record.user.username)]
        del state.user_by_token[record.token_hash]
        for members in state.members.values():
            members.discard(user_id)
        return True


class MemoryRoomStore:
    """Rooms by name and their member ids."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def create(self, room: Room, members: tuple[str, ...] = ()) -> None:
        state = self._state
        if room.name in state.rooms:
            raise ChatError(ErrorCode.ROOM_EXISTS)
        for user_id in members:
            self._require_user(user_id)
        state.rooms[room.name] = room
        state.members[room.name] = set(members)
        state.log[room.name] = []
        state.messages[room.name] = []

    async def get(self, name: str) -> Room | None:
        return self._state.rooms.get(name)

    async def list_rooms(self, after: str, limit: int) -> list[RoomSummary]:
        rooms = sorted(
            (r for r in self._state.rooms.values() if r.kind is RoomKind.ROOM and r.name > after),
            key=lambda r: r.name,
        )
        return [self._state.summary(r) for r in rooms[: window(limit)]]

    async def summary(self, name: str) -> RoomSummary | None:
        room = self._state.rooms.get(name)
        return None if room is None else self._state.summary(room)

    async def add_member(self, room: str, user_id: str) -> bool:
        members = self._state.members.get(room)
        if members is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND)
        self._require_user(user_id)
        if user_id in members:
            return False
        members.add(user_id)
        return True

    async def remove_member(self, room: str, user_id: str) -> bool:
        members = self._state.members.get(room, set())
        if user_id not in members:
            return False
        members.remove(user_id)
        return True

    async def is_member(self, room: str, user_id: str) -> bool:
        return user_id in self._state.members.get(room, set())

    async def members(self, room: str, limit: int) -> list[User]:
        users = [self._state.named_user(uid) for uid in self._state.members.get(room, set())]
        named = sorted((u for u in users if u is not None), key=lambda u: name_key(u.username))
        return named[: window(limit)]

    async def rooms_of(self, user_id: str) -> list[RoomSummary]:
        state = self._state
        names = sorted(name for name, ids in state.members.items() if user_id in ids)
        return [state.summary(state.rooms[name]) for name in names]

    def _require_user(self, user_id: str) -> None:
        if user_id not in self._state.users:
            raise ChatError(ErrorCode.USER_NOT_FOUND, f"No user has the id {user_id!r}.")


class MemoryModerationStore:
    """Roles, restrictions and blocks in dictionaries keyed as the SQL tables are."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def set_role(self, room: str, user_id: str, role: Role) -> None:
        self._require_room(room)
        if role is Role.MEMBER:
            self._state.roles.pop((room, user_id), None)
        else:
            self._state.roles[(room, user_id)] = role

    async def role(self, room: str, user_id: str) -> Role:
        return self._state.roles.get((room, user_id), Role.MEMBER)

    async def roles(self, room: str) -> dict[str, Role]:
        return {uid: role for (name, uid), role in self._state.roles.items() if name == room}

    async def roles_of(self, user_id: str) -> dict[str, Role]:
        return {name: role for (name, uid), role in self._state.roles.items() if uid == user_id}

    async def restrict(
        self, room: str, user_id: str, kind: Restriction, until: datetime | None
    ) -> None:
        self._require_room(room)
        ends = None if until is None else as_utc(until)
        self._state.restrictions[(room, user_id, kind)] = Until(ends)

    async def lift(self, room: str, user_id: str, kind: Restriction) -> bool:
        return self._state.restrictions.pop((room, user_id, kind), None) is not None

    async def restriction(self, room: str, user_id: str, kind: Restriction) -> Until | None:
        return self._state.restrictions.get((room, user_id, kind))

    async def restrictions_of(self, user_id: str, kind: Restriction) -> dict[str, datetime | None]:
        return {
            name: found.until
            for (name, uid, what), found in self._state.restrictions.items()
            if uid == user_id and what is kind
        }

    async def block(self, user_id: str, blocked_id: str) -> bool:
        if (user_id, blocked_id) in self._state.blocks:
            return False
        self._state.blocks.add((user_id, blocked_id))
        return True

    async def unblock(self, user_id: str, blocked_id: str) -> bool:
        if (user_id, blocked_id) not in self._state.blocks:
            return False
        self._state.blocks.remove((user_id, blocked_id))
        return True

    async def blocked_by(self, user_id: str) -> list[User]:
        state = self._state
        users = [state.named_user(b) for a, b in state.blocks if a == user_id]
        return sorted((u for u in users if u is not None), key=lambda u: name_key(u.username))

    async def blockers_of(self, user_id: str) -> set[str]:
        return {a for a, b in self._state.blocks if b == user_id}

    def _require_room(self, room: str) -> None:
        if room not in self._state.rooms:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND)


class MemoryStorage:
    """All the stores over one in-process state; nothing survives `close`."""

    messages: MessageStore
    users: UserStore
    rooms: RoomStore
    reads: ReadMarkers
    search: MessageSearch
    moderation: ModerationStore

    def __init__(self) -> None:
        state = _State()
        self.messages = MemoryMessageStore(state)
        self.users = MemoryUserStore(state)
        self.rooms = MemoryRoomStore(state)
        self.reads = MemoryReadMarkers(state)
        self.search = MemoryMessageSearch(state)
        self.moderation = MemoryModerationStore(state)

    def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to release; present so callers treat every backend alike."""
