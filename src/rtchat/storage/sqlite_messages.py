"""SQLite messages: one table, numbered per room by the `rooms.last_seq` counter, which
the room's changes (`sqlite_changes`) share.

Appends are a bulk job (see `sqlite_thread`): every append waiting for the writer is
stored with one idempotency lookup, one room lookup, one multi-row INSERT and one
counter update per room, however many there are (and one lookup of the messages replied
to, when some are replies).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

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
from rtchat.domain.names import name_key
from rtchat.storage._common import from_micros, mentions_to_json, merge_log, to_micros, window
from rtchat.storage._sql import SELECT_MESSAGES, message_from_row
from rtchat.storage.sqlite_changes import apply_change, changes_after
from rtchat.storage.sqlite_rows import (
    chunks,
    get_message,
    max_variables,
    placeholders,
    read_messages,
    with_reactions,
)
from rtchat.storage.sqlite_thread import SqliteThread

COLUMNS = (
    "id, room, seq, author_id, author_name, text, ts_us, client_id, sent_from, author_guest, "
    "reply_to, mentions"
)
_WIDTH = 12  # len(COLUMNS)
_MAX_ROWS_PER_INSERT = 500

_Row = tuple[str, str, int, str, str, str, int, str | None, str | None, int, str | None, str | None]


@dataclass(frozen=True, slots=True)
class _Append:
    draft: MessageDraft
    ts_us: int  # converted on the caller's side: a bad timestamp fails only its own append


def _stored_by_client_id(
    conn: sqlite3.Connection, appends: list[_Append]
) -> dict[tuple[str, str], Message]:
    wanted = {(a.draft.author.id, a.draft.client_id) for a in appends if a.draft.client_id}
    found: dict[tuple[str, str], Message] = {}
    client_ids = sorted({client_id for _, client_id in wanted})
    for chunk in chunks(client_ids, max_variables(conn)):
        # The index leads with client_id; rows of other authors are filtered out here.
        rows = conn.execute(
            f"{SELECT_MESSAGES} WHERE m.client_id IN ({placeholders(len(chunk))})", chunk
        )
        for row in rows:
            message = message_from_row(row)
            key = (message.author.id, row[7])
            if key in wanted:
                found[key] = message
    if not found:
        return found
    keys = list(found)
    return dict(zip(keys, with_reactions(conn, [found[k] for k in keys]), strict=True))


def _replied_to(conn: sqlite3.Connection, appends: list[_Append]) -> dict[str, Message]:
    """The messages the replies among `appends` answer, by id."""
    ids = sorted({a.draft.reply_to for a in appends if a.draft.reply_to is not None})
    found: dict[str, Message] = {}
    for chunk in chunks(ids, max_variables(conn)):
        for message in read_messages(conn, f"WHERE m.id IN ({placeholders(len(chunk))})", chunk):
            found[message.id] = message
    return found


def _last_seqs(conn: sqlite3.Connection, rooms: list[str]) -> dict[str, int]:
    last: dict[str, int] = {}
    for chunk in chunks(rooms, max_variables(conn)):
        rows = conn.execute(
            f"SELECT name, last_seq FROM rooms WHERE name IN ({placeholders(len(chunk))})", chunk
        )
        last.update((name, seq) for name, seq in rows)
    return last


def _members_named(conn: sqlite3.Connection, appends: list[_Append]) -> dict[tuple[str, str], User]:
    """The members named by the drafts' mention keys, by (room, name key): one read for the
    whole batch, and none at all when no draft has an `@name`."""
    wanted = {(a.draft.room, key) for a in appends for key in a.draft.mention_keys}
    found: dict[tuple[str, str], User] = {}
    keys = sorted({key for _, key in wanted})
    for chunk in chunks(keys, max_variables(conn)):
        rows = conn.execute(
            "SELECT m.room, u.name_key, u.id, u.username FROM users u"
            " JOIN members m ON m.user_id = u.id"
            f" WHERE u.name_key IN ({placeholders(len(chunk))})",
            chunk,
        )
        for room, key, user_id, username in rows:
            if (room, key) in wanted:
                found[(room, key)] = User(user_id, username)
    return found


def _mentioned(draft: MessageDraft, named: dict[tuple[str, str], User]) -> tuple[User, ...]:
    users = {named[(draft.room, k)] for k in draft.mention_keys if (draft.room, k) in named}
    return tuple(sorted(users, key=lambda u: name_key(u.username)))


def append_many(
    conn: sqlite3.Connection, appends: list[_Append]
) -> list[tuple[Message, bool] | ChatError]:
    """Store `appends` in order; the bulk handler behind `SqliteMessageStore.append`."""
    # Safe without locks: the writer thread is the only one that writes, and runs this
    # from start to end before anything else.
    stored = _stored_by_client_id(conn, appends)
    last = _last_seqs(conn, sorted({a.draft.room for a in appends}))
    named = _members_named(conn, appends)
    replied = _replied_to(conn, appends) if any(a.draft.reply_to for a in appends) else {}
    results: list[tuple[Message, bool] | ChatError] = []
    rows: list[_Row] = []
    mention_rows: list[tuple[str, str, int]] = []
    for append in appends:
        draft = append.draft
        key = (draft.author.id, draft.client_id) if draft.client_id is not None else None
        if key is not None and key in stored:
            results.append((stored[key], False))  # a retry, possibly within this very batch
            continue
        if draft.room not in last:
            results.append(ChatError(ErrorCode.ROOM_NOT_FOUND))
            continue
        quoted = None if draft.reply_to is None else replied.get(draft.reply_to)
        if draft.reply_to is not None and (quoted is None or quoted.room != draft.room):
            results.append(ChatError(ErrorCode.MESSAGE_NOT_FOUND, _NO_REPLY_TARGET))
            continue
        last[draft.room] += 1
        mentioned = _mentioned(draft, named) if draft.mention_keys else ()
        mention_rows.extend((user.id, draft.room, last[draft.room]) for user in mentioned)
        row: _Row = (
            draft.id,
            draft.room,
            last[draft.room],
            draft.author.id,
            draft.author.username,
            draft.text,
            append.ts_us,
            draft.client_id,
            draft.sent_from,
            int(draft.author.guest),
            draft.reply_to,
            mentions_to_json(mentioned),
        )
        rows.append(row)
        message = Message(
            id=draft.id,
            room=draft.room,
            seq=last[draft.room],
            author=draft.author,
            text=draft.text,
            timestamp=from_micros(append.ts_us),
            client_id=draft.client_id,
            sent_from=draft.sent_from,
            mentions=mentioned,
            reply_to=None if quoted is None else quote_of(quoted),
        )
        if key is not None:
            stored[key] = message
        results.append((message, True))
    per_insert = max(1, min(_MAX_ROWS_PER_INSERT, max_variables(conn) // _WIDTH))
    for chunk in chunks(rows, per_insert):
        values = ",".join(f"({placeholders(_WIDTH)})" for _ in chunk)
        params = [value for row in chunk for value in row]
        conn.execute(f"INSERT INTO messages ({COLUMNS}) VALUES {values}", params)
    if mention_rows:
        conn.executemany(
            "INSERT OR IGNORE INTO mentions (user_id, room, seq) VALUES (?, ?, ?)", mention_rows
        )
    touched = {row[1] for row in rows}
    conn.executemany(
        "UPDATE rooms SET last_seq = ? WHERE name = ?", [(last[room], room) for room in touched]
    )
    return results


_NO_REPLY_TARGET = "The message replied to is not in this room."


class SqliteMessageStore:
    """Messages per room, in order; appends are committed in groups."""

    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def append(self, draft: MessageDraft) -> tuple[Message, bool]:
        return await self._thread.run_bulk(append_many, _Append(draft, to_micros(draft.timestamp)))

    async def get(self, room: str, message_id: str) -> Message | None:
        return await self._thread.run(
            lambda conn: get_message(conn, room, message_id), writes=False
        )

    async def change(self, draft: ChangeDraft) -> tuple[Message, Change | None]:
        ts_us = to_micros(draft.timestamp)
        return await self._thread.run(lambda conn: apply_change(conn, draft, ts_us))

    async def latest(self, room: str, limit: int) -> list[Message]:
        return await self._page(
            "WHERE m.room = ? ORDER BY m.seq DESC LIMIT ?", (room, window(limit))
        )

    async def before(self, room: str, seq: int, limit: int) -> list[Message]:
        return await self._page(
            "WHERE m.room = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
            (room, seq, window(limit)),
        )

    async def after(self, room: str, seq: int, limit: int) -> list[LogEntry]:
        def job(conn: sqlite3.Connection) -> list[LogEntry]:
            where = "WHERE m.room = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
            messages = read_messages(conn, where, (room, seq, window(limit)))
            return merge_log(messages, changes_after(conn, room, seq, limit), limit)

        return await self._thread.run(job, writes=False)

    async def last_seq(self, room: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT last_seq FROM rooms WHERE name = ?", (room,)).fetchone()
            return 0 if row is None else int(row[0])

        return await self._thread.run(job, writes=False)

    async def _page(self, where: str, params: tuple[object, ...]) -> list[Message]:
        def job(conn: sqlite3.Connection) -> list[Message]:
            messages = read_messages(conn, where, params)
            messages.reverse()  # newest first in SQL; the port hands pages back oldest first
            return messages

        return await self._thread.run(job, writes=False)
