"""Roles, bans, mutes and blocks in the SQLite file (tables of schema version 4)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import User
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.storage._common import from_micros, to_micros
from rtchat.storage.sqlite_thread import SqliteThread


class SqliteModerationStore:
    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def set_role(self, room: str, user_id: str, role: Role) -> None:
        def job(conn: sqlite3.Connection) -> None:
            _require_room(conn, room)
            if role is Role.MEMBER:
                conn.execute("DELETE FROM roles WHERE room = ? AND user_id = ?", (room, user_id))
            else:
                conn.execute(
                    "INSERT INTO roles (room, user_id, role) VALUES (?, ?, ?)"
                    " ON CONFLICT (room, user_id) DO UPDATE SET role = excluded.role",
                    (room, user_id, str(role)),
                )

        await self._thread.run(job)

    async def role(self, room: str, user_id: str) -> Role:
        def job(conn: sqlite3.Connection) -> Role:
            row = conn.execute(
                "SELECT role FROM roles WHERE room = ? AND user_id = ?", (room, user_id)
            ).fetchone()
            return Role.MEMBER if row is None else Role(row[0])

        return await self._thread.run(job, writes=False)

    async def roles(self, room: str) -> dict[str, Role]:
        return await self._pairs("SELECT user_id, role FROM roles WHERE room = ?", room)

    async def roles_of(self, user_id: str) -> dict[str, Role]:
        return await self._pairs("SELECT room, role FROM roles WHERE user_id = ?", user_id)

    async def restrict(
        self, room: str, user_id: str, kind: Restriction, until: datetime | None
    ) -> None:
        ends = None if until is None else to_micros(until)

        def job(conn: sqlite3.Connection) -> None:
            _require_room(conn, room)
            conn.execute(
                "INSERT INTO restrictions (room, user_id, kind, until_us) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (room, user_id, kind) DO UPDATE SET until_us = excluded.until_us",
                (room, user_id, str(kind), ends),
            )

        await self._thread.run(job)

    async def lift(self, room: str, user_id: str, kind: Restriction) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM restrictions WHERE room = ? AND user_id = ? AND kind = ?",
                (room, user_id, str(kind)),
            )
            return cursor.rowcount == 1

        return await self._thread.run(job)

    async def restriction(self, room: str, user_id: str, kind: Restriction) -> Until | None:
        def job(conn: sqlite3.Connection) -> Until | None:
            row = conn.execute(
                "SELECT until_us FROM restrictions WHERE room = ? AND user_id = ? AND kind = ?",
                (room, user_id, str(kind)),
            ).fetchone()
            return None if row is None else Until(_moment(row[0]))

        return await self._thread.run(job, writes=False)

    async def restrictions_of(self, user_id: str, kind: Restriction) -> dict[str, datetime | None]:
        def job(conn: sqlite3.Connection) -> dict[str, datetime | None]:
            rows = conn.execute(
                "SELECT room, until_us FROM restrictions WHERE user_id = ? AND kind = ?",
                (user_id, str(kind)),
            )
            return {row[0]: _moment(row[1]) for row in rows}

        return await self._thread.run(job, writes=False)

    async def block(self, user_id: str, blocked_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO blocks (user_id, blocked_id) VALUES (?, ?)",
                (user_id, blocked_id),
            )
            return cursor.rowcount == 1

        return await self._thread.run(job)

    async def unblock(self, user_id: str, blocked_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            )
            return cursor.rowcount == 1

        return await self._thread.run(job)

    async def blocked_by(self, user_id: str) -> list[User]:
        def job(conn: sqlite3.Connection) -> list[User]:
            rows = conn.execute(
                "SELECT u.id, u.username FROM blocks b JOIN users u ON u.id = b.blocked_id"
                " WHERE b.user_id = ? ORDER BY u.name_key",
                (user_id,),
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._thread.run(job, writes=False)

    async def blockers_of(self, user_id: str) -> set[str]:
        def job(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT user_id FROM blocks WHERE blocked_id = ?", (user_id,))
            return {row[0] for row in rows}

        return await self._thread.run(job, writes=False)

    async def _pairs(self, query: str, key: str) -> dict[str, Role]:
        def job(conn: sqlite3.Connection) -> dict[str, Role]:
            return {row[0]: Role(row[1]) for row in conn.execute(query, (key,))}

        return await self._thread.run(job, writes=False)


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _require_room(conn: sqlite3.Connection, room: str) -> None:
    if not conn.execute("SELECT 1 FROM rooms WHERE name = ?", (room,)).fetchone():
        raise ChatError(ErrorCode.ROOM_NOT_FOUND)
