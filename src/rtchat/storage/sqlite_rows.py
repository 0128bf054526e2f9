"""Reading SQLite's messages as they stand now: the row of each, what it quotes of the
message it answers, and its reactions."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from rtchat.domain.models import QUOTE_LENGTH, Message, Quote, User
from rtchat.storage._common import fold_reactions, from_micros


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    return ",".join("?" * count)


def max_variables(conn: sqlite3.Connection) -> int:
    return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


# A message as it stands now, with what it quotes of the message it answers.
SELECT_MESSAGES = (
    "SELECT m.id, m.room, m.seq, m.author_id, m.author_name, m.text, m.ts_us, m.client_id, "
    "m.sent_from, m.author_guest, m.edited_us, m.deleted, "
    f"q.id, q.seq, q.author_id, q.author_name, q.author_guest, substr(q.text, 1, {QUOTE_LENGTH}), "
    "q.deleted FROM messages m LEFT JOIN messages q ON q.id = m.reply_to"
)


def message_from_row(row: Sequence[Any]) -> Message:
    """A message from a row of `SELECT_MESSAGES` (reactions are added by `with_reactions`)."""
    msg_id, room, seq, author_id, author_name, text, ts_us, client_id, sent_from, guest = row[:10]
    edited_us, deleted, q_id, q_seq, q_author_id, q_author_name, q_guest, q_text, q_del = row[10:]
    quote = None
    if q_id is not None:
        q_author = User(id=q_author_id, username=q_author_name, guest=bool(q_guest))
        quote = Quote(q_id, q_seq, q_author, "" if q_del else q_text, bool(q_del))
    return Message(
        id=msg_id,
        room=room,
        seq=seq,
        author=User(id=author_id, username=author_name, guest=bool(guest)),
        text=text,
        timestamp=from_micros(ts_us),
        client_id=client_id,
        sent_from=sent_from,
        reply_to=quote,
        edited_at=None if edited_us is None else from_micros(edited_us),
        deleted=bool(deleted),
    )


def with_reactions(conn: sqlite3.Connection, messages: list[Message]) -> list[Message]:
    """`messages` with the reactions they have now."""
    given: dict[str, list[tuple[str, str]]] = {}
    ids = [m.id for m in messages if not m.deleted]
    for chunk in chunks(ids, max_variables(conn)):
        rows = conn.execute(
            "SELECT message_id, emoji, username FROM reactions "
            f"WHERE message_id IN ({placeholders(len(chunk))}) ORDER BY seq",
            chunk,
        )
        for message_id, emoji, username in rows:
            given.setdefault(message_id, []).append((emoji, username))
    return [
        dataclasses.replace(m, reactions=fold_reactions(given[m.id])) if m.id in given else m
        for m in messages
    ]


def read_messages(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> list[Message]:
    rows = conn.execute(f"{SELECT_MESSAGES} {where}", params)
    return with_reactions(conn, [message_from_row(row) for row in rows])


def get_message(conn: sqlite3.Connection, room: str, message_id: str) -> Message | None:
    found = read_messages(conn, "WHERE m.id = ? AND m.room = ?", (message_id, room))
    return found[0] if found else None
