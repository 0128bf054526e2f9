"""Reading SQLite's messages as they stand now: the row of each, what it quotes of the
message it answers, and its reactions."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rtchat.domain.models import Message
from rtchat.storage._common import fold_reactions
from rtchat.storage._sql import SELECT_MESSAGES, message_from_row


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    return ",".join("?" * count)


def max_variables(conn: sqlite3.Connection) -> int:
    return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


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


def read_messages(
    conn: sqlite3.Connection, where: str, params: Sequence[object] | Mapping[str, object]
) -> list[Message]:
    """The messages `where` (what follows `SELECT_MESSAGES`: joins, WHERE, ORDER BY) picks,
    as they stand now."""
    rows = conn.execute(f"{SELECT_MESSAGES} {where}", params)
    return with_reactions(conn, [message_from_row(row) for row in rows])


def get_message(conn: sqlite3.Connection, room: str, message_id: str) -> Message | None:
    found = read_messages(conn, "WHERE m.id = ? AND m.room = ?", (message_id, room))
    return found[0] if found else None
