"""PostgreSQL messages: one table, numbered per room by the `rooms.last_seq` counter.

Every append waiting for the writer (see `postgres_writer`) is stored by ONE statement
(its own transaction, or a savepoint in its batch's): the drafts travel as arrays, the
statement finds the retries among them (same author and client id as a stored message),
bumps each room's counter by the number of new messages and inserts them, numbered from
the counter's old value. So it is all or nothing, and one round trip however many
appends there are.

Several nodes share the numbering through the counter's row lock: a second node's
`UPDATE rooms` waits for the first one's transaction and then adds to the value it
committed, so sequence numbers have neither gaps nor duplicates. Two nodes storing the
same client id at once: both looked before either committed, so the second one's INSERT
breaks the unique index, its whole statement is undone (its counter bump too), and it
runs again, now finding the first one's message and answering it with `created=False`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import (
    Change,
    ChangeDraft,
    LogEntry,
    Message,
    MessageDraft,
    User,
    quote_of,
)
from rtchat.storage._common import from_micros, mentions_from_json, merge_log, to_micros, window
from rtchat.storage.postgres_changes import (
    apply_change,
    changes_after,
    get_message,
    read_messages,
)
from rtchat.storage.postgres_pool import Conflict, PgConnection, Row
from rtchat.storage.postgres_writer import PgWriter

RACE_ATTEMPTS = 5
"""Runs of one batch when other nodes keep storing the same client ids or ids meanwhile."""
_RACED = frozenset({"messages_by_client_id", "messages_id"})

# Every CTE is read once (PostgreSQL materializes them), so the lookups and the counter
# bump happen exactly once per run; `inserted` runs although nothing reads it. The
# lookups are LATERAL subqueries with LIMIT 1 so that their plan is one index probe per
# row whatever the table's size (see `postgres_pool` on plans). One row
# comes back per input row that was stored or found, by its ordinal; an input row with
# none is one whose room does not exist. (No join back to `input`: planned for the
# handful of rows of a prepared statement's generic plan, it would be a nested loop.)
APPEND = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::bigint[], $7::text[], $8::text[], $9::boolean[], $10::text[])
           WITH ORDINALITY AS i (id, room, author_id, author_name, text, ts_us, client_id,
                                 sent_from, author_guest, reply_to, ord)
), checked AS (
    SELECT i.*, m.id AS old_id, m.room AS old_room, m.seq AS old_seq,
           m.author_name AS old_author_name, m.text AS old_text, m.ts_us AS old_ts_us,
           m.sent_from AS old_sent_from, m.author_guest AS old_author_guest,
           m.mentions AS old_mentions, taken.id IS NOT NULL AS id_taken
      FROM input i
      LEFT JOIN LATERAL (
          SELECT * FROM messages
           WHERE client_id = i.client_id AND author_id = i.author_id AND client_id IS NOT NULL
           LIMIT 1
      ) m ON true
      LEFT JOIN LATERAL (SELECT id FROM messages WHERE id = i.id LIMIT 1) taken ON true
), fresh AS (
    SELECT * FROM checked WHERE old_id IS NULL AND NOT id_taken
), counts AS (
    SELECT room, count(*) AS n FROM fresh GROUP BY room
), bumped AS (
    UPDATE rooms SET last_seq = rooms.last_seq + counts.n
      FROM counts
     WHERE rooms.name = counts.room
    RETURNING rooms.name, rooms.last_seq - counts.n AS base
), numbered AS (
    SELECT f.*, b.base + row_number() OVER (PARTITION BY f.room ORDER BY f.ord) AS seq
      FROM fresh f JOIN bumped b ON b.name = f.room
), named AS (
    SELECT n.ord, n.room, n.seq, u.id, u.username, u.name_key
      FROM unnest($11::text[], $12::bigint[]) AS w (name_key, ord)
      JOIN numbered n ON n.ord = w.ord
      JOIN users u ON u.name_key = w.name_key
      JOIN members mb ON mb.room = n.room AND mb.user_id = u.id
), mentioned AS (
    INSERT INTO mentions (user_id, room, seq)
    SELECT DISTINCT id, room, seq FROM named
    ON CONFLICT DO NOTHING
), lists AS (
    SELECT ord, json_agg(json_build_array(id, username) ORDER BY name_key)::text AS mentions
      FROM (SELECT DISTINCT ord, id, username, name_key FROM named) d
     GROUP BY ord
), inserted AS (
    INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us, client_id,
                          sent_from, author_guest, reply_to, mentions)
    SELECT n.room, n.seq, n.id, n.author_id, n.author_name, n.text, n.ts_us, n.client_id,
           n.sent_from, n.author_guest, n.reply_to, l.mentions
      FROM numbered n LEFT JOIN lists l ON l.ord = n.ord
)
SELECT n.ord, n.seq, false, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::text,
       NULL::bigint, NULL::text, NULL::boolean, l.mentions
  FROM numbered n LEFT JOIN lists l ON l.ord = n.ord
UNION ALL
SELECT ord, NULL, id_taken, old_id, old_room, old_seq, old_author_name, old_text, old_ts_us,
       old_sent_from, old_author_guest, old_mentions
  FROM checked
 WHERE old_id IS NOT NULL OR id_taken
"""


@dataclass(frozen=True, slots=True)
class _Append:
    draft: MessageDraft
    ts_us: int  # converted on the caller's side: a bad timestamp fails only its own append
    timestamp: datetime  # the same instant in UTC, as the stored message will have it


def _rounds(appends: list[_Append]) -> list[list[int]]:
    """Indexes of `appends` in rounds with no client id or message id twice in one round.

    A repeat within one batch is a retry (or a clash) of an append before it: it runs in
    a later round, which finds the earlier one stored, just as a retry in a later batch.
    """
    rounds: list[list[int]] = []
    pending = list(range(len(appends)))
    while pending:
        ids: set[str] = set()
        keys: set[tuple[str, str]] = set()
        now: list[int] = []
        later: list[int] = []
        for index in pending:
            draft = appends[index].draft
            key = None if draft.client_id is None else (draft.author.id, draft.client_id)
            if draft.id in ids or (key is not None and key in keys):
                later.append(index)
                continue
            ids.add(draft.id)
            if key is not None:
                keys.add(key)
            now.append(index)
        rounds.append(now)
        pending = later
    return rounds


async def _store(connection: PgConnection, appends: list[_Append]) -> list[Row]:
    drafts = [a.draft for a in appends]
    arrays = (
        [d.id for d in drafts],
        [d.room for d in drafts],
        [d.author.id for d in drafts],
        [d.author.username for d in drafts],
        [d.text for d in drafts],
        [a.ts_us for a in appends],
        [d.client_id for d in drafts],
        [d.sent_from for d in drafts],
        [d.author.guest for d in drafts],
        [d.reply_to for d in drafts],
        # The mention keys flattened, each with the ordinal of its draft (1-based).
        [key for d in drafts for key in d.mention_keys],
        [ordinal for ordinal, d in enumerate(drafts, start=1) for _ in d.mention_keys],
    )
    for _ in range(RACE_ATTEMPTS - 1):
        try:
            async with connection.atomic():
                return await connection.fetch(APPEND, *arrays)
        except Conflict as conflict:
            if conflict.constraint not in _RACED:
                raise
            # Another node committed one of these client ids or ids after we looked.
    return await connection.fetch(APPEND, *arrays)


def _result(
    append: _Append, row: Row | None, replied: dict[str, Message]
) -> tuple[Message, bool] | ChatError:
    if row is None:
        return ChatError(ErrorCode.ROOM_NOT_FOUND)
    _, seq, id_taken, old_id, old_room, old_seq, old_author_name, old_text, old_ts_us = row[:9]
    old_sent_from, old_guest, mentions = row[9:]
    draft = append.draft
    if old_id is not None:
        stored = Message(
            id=old_id,
            room=old_room,
            seq=old_seq,
            author=User(id=draft.author.id, username=old_author_name, guest=old_guest),
            text=old_text,
            timestamp=from_micros(old_ts_us),
            client_id=draft.client_id,
            sent_from=old_sent_from,
            mentions=mentions_from_json(mentions),
        )
        return stored, False
    if id_taken:
        return ChatError(ErrorCode.INTERNAL, f"Message id {draft.id!r} is stored already.")
    message = Message(
        id=draft.id,
        room=draft.room,
        seq=seq,
        author=draft.author,
        text=draft.text,
        timestamp=append.timestamp,
        client_id=draft.client_id,
        sent_from=draft.sent_from,
        mentions=mentions_from_json(mentions),
        reply_to=None if draft.reply_to is None else quote_of(replied[draft.reply_to]),
    )
    return message, True


async def append_many(
    connection: PgConnection, appends: list[_Append]
) -> list[tuple[Message, bool] | ChatError]:
    """Store `appends` in order; the bulk handler behind `PostgresMessageStore.append`."""
    results: dict[int, tuple[Message, bool] | ChatError] = {}
    replied: dict[str, Message] = {}
    wanted = list({a.draft.reply_to for a in appends if a.draft.reply_to is not None})
    if wanted:
        # A message never leaves its room, so the check need not hold a lock.
        found = await read_messages(connection, "WHERE m.id = ANY($1::text[])", (wanted,))
        replied = {m.id: m for m in found}
    valid: list[int] = []
    for index, append in enumerate(appends):
        target = append.draft.reply_to
        if target is not None and (
            target not in replied or replied[target].room != append.draft.room
        ):
            results[index] = ChatError(ErrorCode.MESSAGE_NOT_FOUND, _NO_REPLY_TARGET)
        else:
            valid.append(index)
    batch = [appends[i] for i in valid]
    for indexes in _rounds(batch):
        rows = await _store(connection, [batch[i] for i in indexes])
        by_ordinal = {row[0]: row for row in rows}
        for ordinal, index in enumerate(indexes, start=1):
            results[valid[index]] = _result(batch[index], by_ordinal.get(ordinal), replied)
    retried = [r[0].id for r in results.values() if isinstance(r, tuple) and not r[1]]
    if retried:
        # A retry answers the message as it stands now: edited, reacted to, replying.
        now = await read_messages(connection, "WHERE m.id = ANY($1::text[])", (retried,))
        current = {m.id: m for m in now}
        for index, result in results.items():
            if isinstance(result, tuple) and not result[1] and result[0].id in current:
                results[index] = (current[result[0].id], False)
    return [results[index] for index in range(len(appends))]


_NO_REPLY_TARGET = "The message replied to is not in this room."


class PostgresMessageStore:
    """Messages per room, in order; appends are stored in groups."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        ts_us = to_micros(draft.timestamp)
        return await self._writer.run_bulk(append_many, _Append(draft, ts_us, from_micros(ts_us)))

    async def get(self, room: str, message_id: str) -> Message | None:
        return await self._writer.read(lambda c: get_message(c, room, message_id))

    async def change(self, draft: ChangeDraft) -> tuple[Message, Change | None]:
        ts_us = to_micros(draft.timestamp)
        return await self._writer.run(lambda c: apply_change(c, draft, ts_us))

    async def latest(self, room: str, limit: int) -> list[Message]:
        return await self._page(
            "WHERE m.room = $1 ORDER BY m.seq DESC LIMIT $2", (room, window(limit))
        )

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        return await self._page(
            "WHERE m.room = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
            (room, seq, window(limit)),
        )

    async def after(self, room: str, seq: int, limit: int) -> list[LogEntry]:
        async def job(connection: PgConnection) -> list[LogEntry]:
            where = "WHERE m.room = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3"
            messages = await read_messages(connection, where, (room, seq, window(limit)))
            changes = await changes_after(connection, room, seq, limit)
            return merge_log(messages, changes, limit)

        return await self._writer.read(job)

    async def last_seq(self, room: str) -> int:
        async def job(connection: PgConnection) -> int:
            value = await connection.fetchval("SELECT last_seq FROM rooms WHERE name = $1", room)
            return 0 if value is None else int(value)

        return await self._writer.read(job)

    async def _page(self, where: str, params: tuple[object, ...]) -> list[Message]:
        async def job(connection: PgConnection) -> list[Message]:
            messages = await read_messages(connection, where, params)
            messages.reverse()  # newest first in SQL; the port hands pages back oldest first
            return messages

        return await self._writer.read(job)
