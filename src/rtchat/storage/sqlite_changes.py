"""SQLite changes: edits, deletes and reactions, each numbered by its room's counter and
applied to the message row in the same job (the writer thread's savepoint), so the log
and the messages' state never disagree."""

from __future__ import annotations

import sqlite3

from rtchat.domain.changes import changes_anything
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Change, ChangeDraft, ChangeKind, Message
from rtchat.storage._common import window
from rtchat.storage._sql import CHANGE_COLUMNS, change_from_row, change_row
from rtchat.storage.sqlite_rows import get_message


def changes_after(conn: sqlite3.Connection, room: str, seq: int, limit: int) -> list[Change]:
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM changes WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?",
        (room, seq, window(limit)),
    )
    return [change_from_row(row) for row in rows]


def apply_change(
    conn: sqlite3.Connection, draft: ChangeDraft, ts_us: int
) -> tuple[Message, Change | None]:
    """The job behind `SqliteMessageStore.change` (the writer thread runs one at a time)."""
    target = get_message(conn, draft.room, draft.target)
    if target is None:
        raise ChatError(ErrorCode.MESSAGE_NOT_FOUND)
    if (
        draft.client_id is not None
        and conn.execute(
            "SELECT 1 FROM changes WHERE client_id = ? AND actor_id = ?",
            (draft.client_id, draft.actor.id),
        ).fetchone()
    ):
        return target, None
    given = (draft.target, draft.value, draft.actor.id)
    reacted = draft.kind in (ChangeKind.REACT, ChangeKind.UNREACT) and bool(
        conn.execute(
            "SELECT 1 FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", given
        ).fetchone()
    )
    if not changes_anything(draft, target, reacted):
        return target, None
    (seq,) = conn.execute(
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq",
        (draft.room,),
    ).fetchone()
    count = 0
    match draft.kind:
        case ChangeKind.EDIT:
            conn.execute(
                "UPDATE messages SET text = ?, edited_us = ? WHERE id = ?",
                (draft.value, ts_us, draft.target),
            )
        case ChangeKind.DELETE:
            conn.execute("UPDATE messages SET text = '', deleted = 1 WHERE id = ?", (draft.target,))
            conn.execute(
                "UPDATE changes SET value = '' WHERE target = ? AND kind = 'edit'", (draft.target,)
            )
            conn.execute("DELETE FROM reactions WHERE message_id = ?", (draft.target,))
        case ChangeKind.REACT | ChangeKind.UNREACT:
            if draft.kind is ChangeKind.REACT:
                conn.execute(
                    "INSERT INTO reactions (message_id, emoji, user_id, username, seq) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (*given, draft.actor.username, seq),
                )
            else:
                conn.execute(
                    "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?",
                    given,
                )
            (count,) = conn.execute(
                "SELECT count(*) FROM reactions WHERE message_id = ? AND emoji = ?", given[:2]
            ).fetchone()
    row = change_row(draft, seq, ts_us, count)
    conn.execute(f"INSERT INTO changes ({CHANGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
    changed = get_message(conn, draft.room, draft.target)
    assert changed is not None  # it was there a moment ago, in this very transaction
    return changed, change_from_row(row)
