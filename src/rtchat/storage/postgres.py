"""The backend several nodes share: one PostgreSQL database, through asyncpg.

Every write is one statement, atomic by itself (or under a savepoint when its batch is one
transaction), and the constraints decide races between nodes: a name two nodes give out at
once is taken by whichever commits first, and the other gets `username_taken` from the
unique index, not from a check that both passed. The requests of one process go through
one queue in order (see `postgres_writer`), reads straight to the pool when nothing waits
in it. The schema migrates itself on open (`postgres_schema`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
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
from rtchat.storage.postgres_messages import PostgresMessageStore
from rtchat.storage.postgres_moderation import PostgresModerationStore
from rtchat.storage.postgres_pool import (
    COMMAND_TIMEOUT,
    CONNECT_TIMEOUT,
    POOL_SIZE,
    Conflict,
    PgConnection,
    PgPool,
)
from rtchat.storage.postgres_reads import PostgresMessageSearch, PostgresReadMarkers
from rtchat.storage.postgres_schema import migrate
from rtchat.storage.postgres_writer import PgWriter

_USER_CONFLICTS = {
    "users_name_key": lambda user: ChatError(ErrorCode.USERNAME_TAKEN),
    "users_pkey": lambda user: ChatError(
        ErrorCode.INTERNAL, f"User id {user.id!r} is stored already."
    ),
    "users_token_hash": lambda user: ChatError(
        ErrorCode.INTERNAL, "This token hash belongs to another user."
    ),
}


def _summary(row: Sequence[Any]) -> RoomSummary:
    name, kind, topic, last_seq, member_count = row
    return RoomSummary(
        room=Room(name=name, kind=RoomKind(kind), topic=topic),
        member_count=member_count,
        last_seq=last_seq,
    )


def _user(row: Sequence[Any] | None) -> User | None:
    return None if row is None else User(id=row[0], username=row[1])


def _no_user(user_id: str) -> ChatError:
    return ChatError(ErrorCode.USER_NOT_FOUND, f"No user has the id {user_id!r}.")


class PostgresUserStore:
    """Accounts with a unique name key and token hash, and when each was last seen."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def create(self, user: User, token_hash: str, *, seen: datetime | None = None) -> None:
        key = name_key(user.username)
        last_seen = to_seconds(seen or datetime.now(UTC))

        async def job(connection: PgConnection) -> None:
            try:
                await connection.execute(
                    "INSERT INTO users (id, username, name_key, token_hash, last_seen)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    user.id,
                    user.username,
                    key,
                    token_hash,
                    last_seen,
                )
            except Conflict as conflict:
                explain = _USER_CONFLICTS.get(conflict.constraint or "")
                if explain is None:
                    raise
                raise explain(user) from conflict

        await self._writer.run(job)

    async def by_token(self, token_hash: str) -> User | None:
        return await self._one("token_hash = $1", token_hash)

    async def by_name(self, username: str) -> User | None:
        return await self._one("name_key = $1", name_key(username))

    async def by_id(self, user_id: str) -> User | None:
        return await self._one("id = $1", user_id)

    async def rename(self, user_id: str, username: str) -> None:
        key = name_key(username)

        async def job(connection: PgConnection) -> None:
            try:
                await connection.execute(
                    "UPDATE users SET username = $2, name_key = $3 WHERE id = $1",
                    user_id,
                    username,
                    key,
                )
            except Conflict as conflict:
                if conflict.constraint != "users_name_key":
                    raise
                raise ChatError(ErrorCode.USERNAME_TAKEN) from conflict

        await self._writer.run(job)

    async def seen(self, user_id: str, when: datetime) -> None:
        async def job(connection: PgConnection) -> None:
            await connection.execute(
                "UPDATE users SET last_seen = $2 WHERE id = $1", user_id, to_seconds(when)
            )

        await self._writer.run(job)

    async def dormant(self, before: datetime, limit: int) -> list[User]:
        async def job(connection: PgConnection) -> list[User]:
            rows = await connection.fetch(
                "SELECT id, username FROM users WHERE last_seen < $1"
                " ORDER BY last_seen, id LIMIT $2",
                to_seconds(before),
                window(limit),
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._writer.read(job)

    async def release(self, user_id: str, *, unseen_since: datetime | None = None) -> bool:
        cutoff = None if unseen_since is None else to_seconds(unseen_since)

        async def job(connection: PgConnection) -> bool:
            # One statement: the memberships go with the account or not at all, and a
            # node that saw the account come back meanwhile has moved `last_seen` on.
            removed = await connection.fetchval(
                "WITH gone AS (DELETE FROM users WHERE id = $1"
                " AND ($2::bigint IS NULL OR last_seen < $2) RETURNING id),"
                " memberships AS (DELETE FROM members WHERE user_id IN (SELECT id FROM gone))"
                " SELECT count(*) FROM gone",
                user_id,
                cutoff,
            )
            return bool(removed)

        return await self._writer.run(job)

    async def _one(self, where: str, value: str) -> User | None:
        async def job(connection: PgConnection) -> User | None:
            return _user(
                await connection.fetchrow(f"SELECT id, username FROM users WHERE {where}", value)
            )

        return await self._writer.read(job)


class PostgresRoomStore:
    """Rooms and the `members` join table."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def create(self, room: Room, members: tuple[str, ...] = ()) -> None:
        async def job(connection: PgConnection) -> None:
            try:
                # One statement: the room and its members are stored together or not at all.
                async with connection.atomic():  # a failure leaves room for the query below
                    await connection.execute(
                        "WITH room AS (INSERT INTO rooms (name, kind, topic) VALUES ($1, $2, $3)"
                        " RETURNING name)"
                        " INSERT INTO members (room, user_id)"
                        " SELECT DISTINCT room.name, member"
                        " FROM room, unnest($4::text[]) AS member",
                        room.name,
                        str(room.kind),
                        room.topic,
                        list(members),
                    )
            except Conflict as conflict:
                if conflict.constraint == "rooms_pkey":
                    raise ChatError(ErrorCode.ROOM_EXISTS) from conflict
                if conflict.constraint == "members_user_fkey":
                    raise _no_user(await _first_unknown(connection, members)) from conflict
                raise

        await self._writer.run(job)

    async def get(self, name: str) -> Room | None:
        async def job(connection: PgConnection) -> Room | None:
            row = await connection.fetchrow(
                "SELECT name, kind, topic FROM rooms WHERE name = $1", name
            )
            return None if row is None else Room(row[0], RoomKind(row[1]), row[2])

        return await self._writer.read(job)

    async def list_rooms(self, after: str, limit: int) -> list[RoomSummary]:
        return await self._summaries(
            "WHERE r.kind = 'room' AND r.name > $1 ORDER BY r.name LIMIT $2",
            (after, window(limit)),
        )

    async def summary(self, name: str) -> RoomSummary | None:
        found = await self._summaries("WHERE r.name = $1", (name,))
        return found[0] if found else None

    async def add_member(self, room: str, user_id: str) -> bool:
        async def job(connection: PgConnection) -> bool:
            try:
                added = await connection.fetchval(
                    "INSERT INTO members (room, user_id) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING RETURNING true",
                    room,
                    user_id,
                )
            except Conflict as conflict:
                if conflict.constraint == "members_room_fkey":
                    raise ChatError(ErrorCode.ROOM_NOT_FOUND) from conflict
                if conflict.constraint == "members_user_fkey":
                    raise _no_user(user_id) from conflict
                raise
            return added is True

        return await self._writer.run(job)

    async def remove_member(self, room: str, user_id: str) -> bool:
        async def job(connection: PgConnection) -> bool:
            removed = await connection.fetchval(
                "DELETE FROM members WHERE room = $1 AND user_id = $2 RETURNING true",
                room,
                user_id,
            )
            return removed is True

        return await self._writer.run(job)

    async def is_member(self, room: str, user_id: str) -> bool:
        async def job(connection: PgConnection) -> bool:
            found = await connection.fetchval(
                "SELECT true FROM members WHERE room = $1 AND user_id = $2", room, user_id
            )
            return found is True

        return await self._writer.read(job)

    async def members(self, room: str, limit: int) -> list[User]:
        async def job(connection: PgConnection) -> list[User]:
            rows = await connection.fetch(
                "SELECT u.id, u.username FROM members m JOIN users u ON u.id = m.user_id"
                " WHERE m.room = $1 ORDER BY u.name_key LIMIT $2",
                room,
                window(limit),
            )
            return [User(id=row[0], username=row[1]) for row in rows]

        return await self._writer.read(job)

    async def rooms_of(self, user_id: str) -> list[RoomSummary]:
        return await self._summaries(
            "WHERE r.name IN (SELECT room FROM members WHERE user_id = $1) ORDER BY r.name",
            (user_id,),
        )

    async def _summaries(self, where: str, params: tuple[object, ...]) -> list[RoomSummary]:
        async def job(connection: PgConnection) -> list[RoomSummary]:
            rows = await connection.fetch(f"{SUMMARY_SELECT} {where}", *params)
            return [_summary(row) for row in rows]

        return await self._writer.read(job)


async def _first_unknown(connection: PgConnection, user_ids: tuple[str, ...]) -> str:
    # Only after the foreign key refused the room: which member it was, for the message.
    unknown = await connection.fetchval(
        "SELECT member FROM unnest($1::text[]) WITH ORDINALITY AS m (member, ord)"
        " WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = member) ORDER BY ord LIMIT 1",
        list(user_ids),
    )
    return str(unknown)


class PostgresStorage:
    """All the stores over one PostgreSQL database. Open with `PostgresStorage.open(url)`."""

    messages: MessageStore
    users: UserStore
    rooms: RoomStore
    reads: ReadMarkers
    search: MessageSearch
    moderation: ModerationStore

    def __init__(self, pool: PgPool, writer: PgWriter) -> None:
        self._pool = pool
        self._writer = writer
        self.messages = PostgresMessageStore(writer)
        self.users = PostgresUserStore(writer)
        self.rooms = PostgresRoomStore(writer)
        self.reads = PostgresReadMarkers(writer)
        self.search = PostgresMessageSearch(writer)
        self.moderation = PostgresModerationStore(writer)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        connect_timeout: float = CONNECT_TIMEOUT,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> PostgresStorage:
        """Connect to the database `url` names and migrate it.

        Raises:
            ChatError: `unavailable` naming the server and the reason when it cannot be
                reached; `internal` when the schema is newer than this rtchat knows.
        """
        pool = await PgPool.open(
            url, size=pool_size, connect_timeout=connect_timeout, command_timeout=command_timeout
        )
        try:
            await pool.run(migrate)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, PgWriter(pool))

    @property
    def batches(self) -> int:
        """Write batches run so far; appends / batches is the group-commit factor."""
        return self._writer.batches

    def healthy(self) -> bool:
        """False after the server could not be reached, until a request succeeds again."""
        return self._pool.healthy()

    async def close(self) -> None:
        """Let queued writes finish, then close the connections. Later calls raise `internal`."""
        await self._writer.close()
        await self._pool.close()
