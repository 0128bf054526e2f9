"""The embedded default backend: one SQLite file, driven through one thread.

Built on the standard library's `sqlite3`, not aiosqlite. aiosqlite also runs the
connection on a thread, but as a queue of single calls: it cannot gather the appends of
many tasks into one transaction, so each append pays for its own commit. Owning the
thread ourselves lets it take every waiting request and commit them together (group
commit, see `sqlite_thread`), which is what makes 1,000+ appends/s into one room cheap.
It also adds no dependency.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Room, RoomKind, RoomSummary, User
from rtchat.domain.names import name_key
from rtchat.ports import (
    MessageSearch,
    MessageStore,
    ModerationStore,
    ReadMarkers,
    RoomStore,
    UserStore,
)
from rtchat.storage._common import SUMMARY_SELECT, to_seconds, window
from rtchat.storage.sqlite_messages import SqliteMessageStore
from rtchat.storage.sqlite_moderation import SqliteModerationStore
from rtchat.storage.sqlite_reads import SqliteMessageSearch, SqliteReadMarkers
from rtchat.storage.sqlite_thread import SqliteThread


def _summary(row: Sequence[Any]) -> RoomSummary:
    name, kind, topic, last_seq, member_count = row
    return RoomSummary(
        room=Room(name=name, kind=RoomKind(kind), topic=topic),
        member_count=member_count,
        last_seq=last_seq,
    )


def _user(row: Sequence[Any] | None) -> User | None:
    return None if row is None else User(id=row[0], username=row[1])


class SqliteUserStore:
    """Accounts with a unique name key and token hash, and when each was last seen."""

    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def create(self, user: User, token_hash: str, *, seen: datetime | None = None) -> None:
        key = name_key(user.username)
        last_seen = to_seconds(seen or datetime.now(UTC))

        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM users WHERE name_key = ?", (key,)).fetchone():
                raise ChatError(ErrorCode.USERNAME_TAKEN)
            if conn.execute("SELECT 1 FROM users WHERE id = ?", (user.id,)).fetchone():
                raise ChatError(ErrorCode.INTERNAL, f"User id {user.id!r} is stored already.")
            if conn.execute("SELECT 1 FROM users WHERE token_hash = ?", (token_hash,)).fetchone():
                raise ChatError(ErrorCode.INTERNAL, "This token hash belongs to another user.")
            conn.execute(
                "INSERT INTO users (id, username, name_key, token_hash, last_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (user.id, user.username, key, token_hash, last_seen),
            )

        await self._thread.run(job)

    async def by_token(self, token_hash: str) -> User | None:
        return await self._one("token_hash = ?", token_hash)

    async def by_name(self, username: str) -> User | None:
        return await self._one("name_key = ?", name_key(username))

    async def by_id(self, user_id: str) -> User | None:
        return await self._one("id = ?", user_id)

    async def seen(self, user_id: str, when: datetime) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE users SET last_seen = ? WHERE id = ?", (to_seconds(when), user_id))

        await self._thread.run(job)

    async def dormant(self, before: datetime, limit: int) -> list[User]:
        def job(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute(
                "SELECT id, username FROM users WHERE last_seen < ? ORDER BY last_seen, id LIMIT ?",
                (to_seconds(before), window(limit)),
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._thread.run(job, writes=False)

    async def rename(self, user_id: str, username: str) -> None:
        key = name_key(username)

        def job(conn: sqlite3.Connection) -> None:
            holder = conn.execute("SELECT id FROM users WHERE name_key = ?", (key,)).fetchone()
            if holder is not None and holder[0] != user_id:
                raise ChatError(ErrorCode.USERNAME_TAKEN)
            conn.execute(
                "UPDATE users SET username = ?, name_key = ? WHERE id = ?",
                (username, key, user_id),
            )

        await self._thread.run(job)

    async def release(self, user_id: str, *, unseen_since: datetime | None = None) -> bool:
        cutoff = None if unseen_since is None else to_seconds(unseen_since)

        def job(conn: sqlite3.Connection) -> bool:
            if cutoff is None:
                found = conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone()
            else:
                found = conn.execute(
                    "SELECT 1 FROM users WHERE id = ? AND last_seen < ?", (user_id, cutoff)
                ).fetchone()
            if found is None:
                return False
            conn.execute("DELETE FROM members WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            return True

        return await self._thread.run(job)

    async def _one(self, where: str, value: str) -> User | None:
        def job(conn: sqlite3.Connection) -> User | None:
            return _user(
                conn.execute(f"SELECT id, username FROM users WHERE {where}", (value,)).fetchone()
            )

        return await self._thread.run(job, writes=False)


class SqliteRoomStore:
    """Rooms and the `members` join table."""

    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def create(self, room: Room, members: tuple[str, ...] = ()) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM rooms WHERE name = ?", (room.name,)).fetchone():
                raise ChatError(ErrorCode.ROOM_EXISTS)
            for user_id in members:
                _require_user(conn, user_id)
            conn.execute(
                "INSERT INTO rooms (name, kind, topic) VALUES (?, ?, ?)",
                (room.name, str(room.kind), room.topic),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO members (room, user_id) VALUES (?, ?)",
                [(room.name, user_id) for user_id in members],
            )

        await self._thread.run(job)

    async def get(self, name: str) -> Room | None:
        def job(conn: sqlite3.Connection) -> Room | None:
            row = conn.execute(
                "SELECT name, kind, topic FROM rooms WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else Room(row[0], RoomKind(row[1]), row[2])

        return await self._thread.run(job, writes=False)

    async def list_rooms(self, after: str, limit: int) -> list[RoomSummary]:
        return await self._summaries(
            "WHERE r.kind = 'room' AND r.name > ? ORDER BY r.name LIMIT ?", (after, window(limit))
        )

    async def summary(self, name: str) -> RoomSummary | None:
        found = await self._summaries("WHERE r.name = ?", (name,))
        return found[0] if found else None

    async def add_member(self, room: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            if not conn.execute("SELECT 1 FROM rooms WHERE name = ?", (room,)).fetchone():
                raise ChatError(ErrorCode.ROOM_NOT_FOUND)
            _require_user(conn, user_id)
            cursor = conn.execute(
                "INSERT OR IGNORE INTO members (room, user_id) VALUES (?, ?)", (room, user_id)
            )
            return cursor.rowcount == 1

        return await self._thread.run(job)

    async def remove_member(self, room: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM members WHERE room = ? AND user_id = ?", (room, user_id)
            )
            return cursor.rowcount == 1

        return await self._thread.run(job)

    async def is_member(self, room: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM members WHERE room = ? AND user_id = ?", (room, user_id)
            ).fetchone()
            return row is not None

        return await self._thread.run(job, writes=False)

    async def members(self, room: str, limit: int) -> list[User]:
        def job(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute(
                "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id"
                " WHERE m.room = ? ORDER BY u.name_key LIMIT ?",
                (room, window(limit)),
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._thread.run(job, writes=False)

    async def rooms_of(self, user_id: str) -> list[RoomSummary]:
        return await self._summaries(
            "WHERE r.name IN (SELECT room FROM members WHERE user_id = ?) ORDER BY r.name",
            (user_id,),
        )

    async def _summaries(self, where: str, params: tuple[object, ...]) -> list[RoomSummary]:
        def job(conn: sqlite3.Connection) -> list[RoomSummary]:
            return [_summary(row) for row in conn.execute(f"{SUMMARY_SELECT} {where}", params)]

        return await self._thread.run(job, writes=False)


def _require_user(conn: sqlite3.Connection, user_id: str) -> None:
    # Checked here rather than left to the foreign key so the caller gets our error code.
    if not conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone():
        raise ChatError(ErrorCode.USER_NOT_FOUND, f"No user has the id {user_id!r}.")


class SqliteStorage:
    """All the stores over one SQLite file. Open with `SqliteStorage.open(path)`."""

    messages: MessageStore
    users: UserStore
    rooms: RoomStore
    reads: ReadMarkers
    search: MessageSearch
    moderation: ModerationStore

    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread
        self.messages = SqliteMessageStore(thread)
        self.users = SqliteUserStore(thread)
        self.rooms = SqliteRoomStore(thread)
        self.reads = SqliteReadMarkers(thread)
        self.search = SqliteMessageSearch(thread)
        self.moderation = SqliteModerationStore(thread)

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        """Open (creating if needed) and migrate the file at `path`."""
        thread = SqliteThread(Path(path))
        await thread.start()
        return cls(thread)

    @property
    def path(self) -> Path:
        return self._thread.path

    @property
    def batches(self) -> int:
        """Transactions committed so far; appends / batches is the group-commit factor."""
        return self._thread.batches

    def healthy(self) -> bool:
        """A local file has no server to lose: healthy until closed or the thread failed."""
        return not self._thread.closed

    async def close(self) -> None:
        """Let queued work finish, then close the file. Later calls raise `internal`."""
        await self._thread.close()
