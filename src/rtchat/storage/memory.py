"""The in-memory backend: the reference every other backend is tested against, and the fake.

Each method runs to completion without awaiting anything, so on one event loop it is
atomic: two concurrent appends can never take the same sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Message, MessageDraft, Room, RoomKind, RoomSummary, User
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.domain.names import name_key
from rtchat.ports import MessageStore, ModerationStore, RoomStore, UserStore
from rtchat.storage._common import as_utc, to_seconds, window


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
    messages: dict[str, list[Message]] = field(default_factory=dict)
    message_ids: set[str] = field(default_factory=set)
    by_client_id: dict[tuple[str, str], Message] = field(default_factory=dict)
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (room, user id)
    restrictions: dict[tuple[str, str, Restriction], Until] = field(default_factory=dict)
    blocks: set[tuple[str, str]] = field(default_factory=set)  # (blocker, blocked)

    def named_user(self, user_id: str) -> User | None:
        record = self.users.get(user_id)
        return None if record is None else record.user

    def summary(self, room: Room) -> RoomSummary:
        count = len(self.members[room.name])
        return RoomSummary(room=room, member_count=count, last_seq=len(self.messages[room.name]))


class MemoryMessageStore:
    """Messages per room in a list; a message's sequence number is its position plus one."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        state = self._state
        timestamp = as_utc(draft.timestamp)  # first, as in SQLite: a naive one always fails
        if draft.client_id is not None:
            stored = state.by_client_id.get((draft.author.id, draft.client_id))
            if stored is not None:
                return stored, False
        log = state.messages.get(draft.room)
        if log is None:
            raise ChatError(ErrorCode.ROOM_NOT_FOUND)
        if draft.id in state.message_ids:
            raise ChatError(ErrorCode.INTERNAL, f"Message id {draft.id!r} is stored already.")
        message = Message(
            id=draft.id,
            room=draft.room,
            seq=len(log) + 1,
            author=draft.author,
            text=draft.text,
            timestamp=timestamp,
            client_id=draft.client_id,
            sent_from=draft.sent_from,
        )
        log.append(message)
        state.message_ids.add(message.id)
        if message.client_id is not None:
            state.by_client_id[(message.author.id, message.client_id)] = message
        return message, True

    async def latest(self, room: str, limit: int) -> list[Message]:
        log = self._state.messages.get(room, [])
        count = window(limit)
        return log[len(log) - count :] if count else []

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        log = self._state.messages.get(room, [])
        end = min(max(seq - 1, 0), len(log))  # messages 1..seq-1 sit at indexes 0..seq-2
        return log[max(end - window(limit), 0) : end]

    async def after(self, room: str, seq: int, limit: int) -> list[Message]:
        log = self._state.messages.get(room, [])
        start = max(seq, 0)
        return log[start : start + window(limit)]

    async def last_seq(self, room: str) -> int:
        return len(self._state.messages.get(room, []))


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
    moderation: ModerationStore

    def __init__(self) -> None:
        state = _State()
        self.messages = MemoryMessageStore(state)
        self.users = MemoryUserStore(state)
        self.rooms = MemoryRoomStore(state)
        self.moderation = MemoryModerationStore(state)

    def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        """Nothing to release; present so callers treat every backend alike."""
