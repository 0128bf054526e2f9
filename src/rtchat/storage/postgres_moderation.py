"""Roles, bans, mutes and blocks in PostgreSQL (tables of schema version 4). Each write is
one statement; a room that does not exist is the foreign key's refusal."""

from __future__ import annotations

from datetime import datetime

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import User
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.storage._common import from_micros, to_micros
from rtchat.storage.postgres_pool import Conflict, PgConnection
from rtchat.storage.postgres_writer import PgWriter

_ROOM_KEYS = ("roles_room_fkey", "restrictions_room_fkey")


class PostgresModerationStore:
    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def set_role(self, room: str, user_id: str, role: Role) -> None:
        if role is Role.MEMBER:
            await self._write("DELETE FROM roles WHERE room = $1 AND user_id = $2", room, user_id)
            return
        await self._write(
            "INSERT INTO roles (room, user_id, role) VALUES ($1, $2, $3)"
            " ON CONFLICT (room, user_id) DO UPDATE SET role = excluded.role",
            room,
            user_id,
            str(role),
        )

    async def role(self, room: str, user_id: str) -> Role:
        async def job(connection: PgConnection) -> Role:
            found = await connection.fetchval(
                "SELECT role FROM roles WHERE room = $1 AND user_id = $2", room, user_id
            )
            return Role.MEMBER if found is None else Role(found)

        return await self._writer.read(job)

    async def roles(self, room: str) -> dict[str, Role]:
        return await self._roles("SELECT user_id, role FROM roles WHERE room = $1", room)

    async def roles_of(self, user_id: str) -> dict[str, Role]:
        return await self._roles("SELECT room, role FROM roles WHERE user_id = $1", user_id)

    async def restrict(
        self, room: str, user_id: str, kind: Restriction, until: datetime | None
    ) -> None:
        await self._write(
            "INSERT INTO restrictions (room, user_id, kind, until_us) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (room, user_id, kind) DO UPDATE SET until_us = excluded.until_us",
            room,
            user_id,
            str(kind),
            None if until is None else to_micros(until),
        )

    async def lift(self, room: str, user_id: str, kind: Restriction) -> bool:
        return await self._write(
            "DELETE FROM restrictions WHERE room = $1 AND user_id = $2 AND kind = $3"
            " RETURNING true",
            room,
            user_id,
            str(kind),
        )

    async def restriction(self, room: str, user_id: str, kind: Restriction) -> Until | None:
        async def job(connection: PgConnection) -> Until | None:
            row = await connection.fetchrow(
                "SELECT until_us FROM restrictions WHERE room = $1 AND user_id = $2 AND kind = $3",
                room,
                user_id,
                str(kind),
            )
            return None if row is None else Until(_moment(row[0]))

        return await self._writer.read(job)

    async def restrictions_of(self, user_id: str, kind: Restriction) -> dict[str, datetime | None]:
        async def job(connection: PgConnection) -> dict[str, datetime | None]:
            rows = await connection.fetch(
                "SELECT room, until_us FROM restrictions WHERE user_id = $1 AND kind = $2",
                user_id,
                str(kind),
            )
            return {row[0]: _moment(row[1]) for row in rows}

        return await self._writer.read(job)

    async def block(self, user_id: str, blocked_id: str) -> bool:
        return await self._write(
            "INSERT INTO blocks (user_id, blocked_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING true",
            user_id,
            blocked_id,
        )

    async def unblock(self, user_id: str, blocked_id: str) -> bool:
        return await self._write(
            "DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2 RETURNING true",
            user_id,
            blocked_id,
        )

    async def blocked_by(self, user_id: str) -> list[User]:
        async def job(connection: PgConnection) -> list[User]:
            rows = await connection.fetch(
                "SELECT u.id, u.username FROM blocks b JOIN users u ON u.id = b.blocked_id"
                " WHERE b.user_id = $1 ORDER BY u.name_key",
                user_id,
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._writer.read(job)

    async def blockers_of(self, user_id: str) -> set[str]:
        async def job(connection: PgConnection) -> set[str]:
            rows = await connection.fetch(
                "SELECT user_id FROM blocks WHERE blocked_id = $1", user_id
            )
            return {row[0] for row in rows}

        return await self._writer.read(job)

    async def _write(self, sql: str, *args: object) -> bool:
        """Run one write; `True` if it returned a row (its `RETURNING true`)."""

        async def job(connection: PgConnection) -> bool:
            try:
                return await connection.fetchval(sql, *args) is True
            except Conflict as conflict:
                if conflict.constraint in _ROOM_KEYS:
                    raise ChatError(ErrorCode.ROOM_NOT_FOUND) from conflict
                raise

        return await self._writer.run(job)

    async def _roles(self, sql: str, key: str) -> dict[str, Role]:
        async def job(connection: PgConnection) -> dict[str, Role]:
            return {row[0]: Role(row[1]) for row in await connection.fetch(sql, key)}

        return await self._writer.read(job)


def _moment(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)
