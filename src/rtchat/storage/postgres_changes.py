"""PostgreSQL messages as they stand now, and their changes: edits, deletes and reactions.

A change is one job of the writer (`postgres_writer`), in a transaction (or a savepoint
of its batch's) that first locks the message's row: two nodes changing one message take
turns, so the second sees what the first did (a reaction given twice, a delete) before it
decides. The room's counter is then bumped as appends bump it, so messages and changes
share one gap-free sequence across every node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rtchat.domain.changes import changes_anything
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Change, ChangeDraft, ChangeKind, Message
from rtchat.storage._common import fold_reactions, window
from rtchat.storage._sql import (
    CHANGE_COLUMNS,
    SELECT_MESSAGES,
    change_from_row,
    change_row,
    message_from_row,
)
from rtchat.storage.postgres_pool import PgConnection


async def with_reactions(connection: PgConnection, messages: list[Message]) -> list[Message]:
    """`messages` with the reactions they have now."""
    ids = [m.id for m in messages if not m.deleted]
    if not ids:
        return messages
    rows = await connection.fetch(
        "SELECT message_id, emoji, username FROM reactions WHERE message_id = ANY($1::text[]) "
        "ORDER BY seq",
        ids,
    )
    given: dict[str, list[tuple[str, str]]] = {}
    for message_id, emoji, username in rows:
        given.setdefault(message_id, []).append((emoji, username))
    return [
        dataclasses.replace(m, reactions=fold_reactions(given[m.id])) if m.id in given else m
        for m in messages
    ]


async def read_messages(
    connection: PgConnection, where: str, params: Sequence[object]
) -> list[Message]:
    rows = await connection.fetch(f"{SELECT_MESSAGES} {where}", *params)
    return await with_reactions(connection, [message_from_row(row) for row in rows])


async def get_message(connection: PgConnection, room: str, message_id: str) -> Message | None:
    found = await read_messages(connection, "WHERE m.id = $1 AND m.room = $2", (message_id, room))
    return found[0] if found else None


async def changes_after(connection: PgConnection, room: str, seq: int, limit: int) -> list[Change]:
    rows = await connection.fetch(
        f"SELECT {CHANGE_COLUMNS} FROM changes WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        room,
        seq,
        window(limit),
    )
    return [change_from_row(row) for row in rows]


async def apply_change(
    connection: PgConnection, draft: ChangeDraft, ts_us: int
) -> tuple[Message, Change | None]:
    """The job behind `PostgresMessageStore.change`."""
    async with connection.transaction():
        locked = await connection.fetchval(
            "SELECT true FROM messages WHERE id = $1 AND room = $2 FOR UPDATE",
            draft.target,
            draft.room,
        )
        target = await get_message(connection, draft.room, draft.target) if locked else None
        if target is None:
            raise ChatError(ErrorCode.MESSAGE_NOT_FOUND)
        if draft.client_id is not None and await connection.fetchval(
            "SELECT true FROM changes WHERE client_id = $1 AND actor_id = $2",
            draft.client_id,
            draft.actor.id,
        ):
            return target, None
        given = (draft.target, draft.value, draft.actor.id)
        reacted = draft.kind in (ChangeKind.REACT, ChangeKind.UNREACT) and bool(
            await connection.fetchval(
                "SELECT true FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                *given,
            )
        )
        if not changes_anything(draft, target, reacted):
            return target, None
        seq = await connection.fetchval(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq",
            draft.room,
        )
        count = await _apply(connection, draft, ts_us, seq)
        row = change_row(draft, seq, ts_us, count)
        await connection.execute(
            f"INSERT INTO changes ({CHANGE_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            *row,
        )
        changed = await get_message(connection, draft.room, draft.target)
        assert changed is not None  # locked by this very transaction
        return changed, change_from_row(row)


async def _apply(connection: PgConnection, draft: ChangeDraft, ts_us: int, seq: int) -> int:
    """Change the message's state; for a reaction, how many gave its emoji afterwards."""
    given = (draft.target, draft.value, draft.actor.id)
    match draft.kind:
        case ChangeKind.EDIT:
            await connection.execute(
                "UPDATE messages SET text = $1, edited_us = $2 WHERE id = $3",
                draft.value,
                ts_us,
                draft.target,
            )
        case ChangeKind.DELETE:
            await connection.execute(
                "UPDATE messages SET text = '', deleted = true WHERE id = $1", draft.target
            )
            await connection.execute(
                "UPDATE changes SET value = '' WHERE target = $1 AND kind = 'edit'", draft.target
            )
            await connection.execute("DELETE FROM reactions WHERE message_id = $1", draft.target)
        case ChangeKind.REACT:
            await connection.execute(
                "INSERT INTO reactions (message_id, emoji, user_id, username, seq) "
                "VALUES ($1, $2, $3, $4, $5)",
                *given,
                draft.actor.username,
                seq,
            )
        case ChangeKind.UNREACT:
            await connection.execute(
                "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                *given,
            )
    if draft.kind in (ChangeKind.REACT, ChangeKind.UNREACT):
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2", *given[:2]
            )
        )
    return 0
